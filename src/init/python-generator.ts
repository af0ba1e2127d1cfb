import { join } from 'node:path';
import { detectPort, readText, sourceFiles } from './project-files.ts';
import type { GeneratedProject, ProjectGenerator } from './project-generator.ts';

async function generatePython(dir: string): Promise<GeneratedProject> {
  const detected: string[] = [];
  const assumed: string[] = [];
  const warnings: string[] = [];
  const requirements = await readText(join(dir, 'requirements.txt'));
  const pyproject = await readText(join(dir, 'pyproject.toml'));
  let pyVersion = '3.11';
  const pinned = (await readText(join(dir, '.python-version')))?.trim().match(/^(\d+\.\d+)/)?.[1];
  const requires = pyproject?.match(/requires-python\s*=\s*["'][^"'\d]*(\d+\.\d+)/)?.[1];
  if (pinned) {
    pyVersion = pinned;
    detected.push(`Python ${pinned} (.python-version)`);
  } else if (requires) {
    pyVersion = requires;
    detected.push(`Python ${requires} (pyproject.toml requires-python)`);
  } else assumed.push(`Python ${pyVersion}`);

  let install: string;
  let copyDeps: string;
  let deps = '';
  if (requirements !== undefined) {
    detected.push('dependencies from requirements.txt');
    install = 'pip install --no-cache-dir --prefix=/install/usr/local -r requirements.txt';
    copyDeps = 'COPY requirements.txt ./';
    deps = requirements.toLowerCase();
  } else if (pyproject !== undefined) {
    detected.push('dependencies from pyproject.toml (installed with pip install .)');
    install = 'pip install --no-cache-dir --prefix=/install/usr/local .';
    copyDeps = 'COPY . .';
    deps = pyproject.toLowerCase();
  } else {
    assumed.push('no dependencies (no requirements.txt or pyproject.toml)');
    install = 'mkdir -p /install/usr/local';
    copyDeps = '';
  }

  // The WSGI/ASGI application object.
  const files = await sourceFiles(dir, ['.py']);
  let app: string | undefined;
  let asgi = false;
  for (const f of files) {
    const text = (await readText(join(dir, f))) ?? '';
    const mod = f
      .replace(/\.py$/, '')
      .replace(/\//g, '.')
      .replace(/\.__init__$/, '');
    const flask = text.match(/^(\w+)\s*=\s*Flask\(/m);
    const fastapi = text.match(/^(\w+)\s*=\s*(?:FastAPI|Starlette)\(/m);
    const django = f.endsWith('wsgi.py') && /^application\s*=/m.test(text);
    if (flask) app = `${mod}:${flask[1]}`;
    else if (fastapi) {
      app = `${mod}:${fastapi[1]}`;
      asgi = true;
    } else if (django) app = `${mod}:application`;
    if (app) {
      detected.push(`${asgi ? 'ASGI' : 'WSGI'} application ${app} (${f})`);
      break;
    }
  }
  if (!app) {
    app = 'app:app';
    assumed.push(`WSGI application ${app} (no Flask(), FastAPI() or Django wsgi.py found)`);
  }
  if (deps && !/\bgunicorn\b/.test(deps))
    warnings.push('gunicorn is not among the dependencies: add it (the image runs gunicorn)');
  if (asgi && deps && !/\buvicorn\b/.test(deps))
    warnings.push('uvicorn is not among the dependencies: add it (ASGI apps run with uvicorn workers)');
  const port = await detectPort(dir, files, /port\s*=\s*(\d{2,5})/, 8000);
  (port.found ? detected : assumed).push(`listens on port ${port.port}`);
  const workerClass = asgi ? ', "--worker-class", "uvicorn.workers.UvicornWorker"' : '';

  const dockerfile = `# syntax=docker/dockerfile:1
# Multi-stage build for a Python web service (written by \`strata init python\`).
# Dependencies are installed in the full image (compilers for native wheels); only what they
# installed — packages and scripts under /usr/local — and the app go into the slim image.

ARG PYTHON_VERSION=${pyVersion}
FROM python:\${PYTHON_VERSION}-bookworm AS build
WORKDIR /src
${copyDeps ? `${copyDeps}\n` : ''}RUN ${install}

FROM python:\${PYTHON_VERSION}-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /install /
WORKDIR /app
COPY . .
USER nobody
EXPOSE ${port.port}
ENTRYPOINT ["gunicorn", "--bind", "0.0.0.0:${port.port}"${workerClass}, "${app}"]
`;
  const dockerignore = `# Keep virtualenvs, caches and VCS data out of the build context.
.git
.venv/
venv/
__pycache__/
*.py[cod]
.pytest_cache/
.mypy_cache/
*.egg-info/
dist/
build/
*.md
Dockerfile*
.dockerignore
.env
`;
  return { dockerfile, dockerignore, detected, assumed, warnings };
}

/** Python: requirements.txt or pyproject.toml and the WSGI/ASGI app. */
export const pythonGenerator: ProjectGenerator = { kind: 'python', generate: generatePython };
