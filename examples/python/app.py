"""A minimal Flask service (the talk's example), served by gunicorn."""
from flask import Flask, jsonify

app = Flask(__name__)


@app.route("/")
def hello_world():
    return "Hello, World!"


@app.route("/ping")
def ping():
    return jsonify(message="pong")
