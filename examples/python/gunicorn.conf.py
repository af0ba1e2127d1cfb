# gunicorn reads ./gunicorn.conf.py from its working directory. Listen on all interfaces, on $PORT
# (default 8000), so the same image runs behind any port mapping.
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
accesslog = "-"
