import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join, posix, resolve } from 'node:path';
import { InvalidInputError, isErrnoException, NotFoundError, StrataError } from '../util/index.ts';

/** The kinds of project `strata init` writes a Dockerfile for. */
export type ProjectKind = 'go' | 'python' | 'node';

/** The project kinds, for validation and help text. */
export const PROJECT_KINDS: readonly ProjectKind[] = ['go', 'python', 'node'];

/** Inputs of {@link initProject}. */
export interface InitOptions {
  readonly kind: ProjectKind;
  /** The project directory (default: the current directory). */
  readonly dir?: string;
  /** The Dockerfile's name in `dir` (default `Dockerfile`). */
  readonly dockerfileName?: string;
  /** Overwrite an existing Dockerfile / .dockerignore instead of refusing. */
  readonly overwrite?: boolean;
}

/** One file {@link initProject} wrote or left alone. */
export interface InitFile {
  readonly path: string;
  /** `written`, or `kept` when a .dockerignore already existed (never overwritten without `overwrite`). */
  readonly action: 'written' | 'kept';
}

/** What {@link initProject} did and what it had to assume. */
export interface InitResult {
  readonly files: readonly InitFile[];
  /** What was detected in the project, one line each (`module example.com/app (go.mod)`). */
  readonly detected: readonly string[];
  /** What was assumed because nothing said otherwise, one line each; worth checking. */
  readonly assumed: readonly string[];
  /** Things that will probably need a hand edit (e.g. cgo in a FROM scratch image). */
  readonly warnings: readonly string[];
  /** The command that builds the result. */
  readonly buildCommand: string;
}

/** `strata init` would overwrite a file the user has. */
export class InitConflictError extends StrataError {
  constructor(path: string) {
    super('INIT_EXISTS', `${path} already exists`, {
      hint: 'pass --force to overwrite it, or -f to pick another name',
    });
  }
}

/** The text of a generated project: Dockerfile plus .dockerignore, and what was detected/assumed. */
interface Generated {
  dockerfile: string;
  dockerignore: string;
  detected: string[];
  assumed: string[];
  warnings: string[];
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isErrnoException(error, 'ENOENT') || isErrnoException(error, 'EISDIR')) return undefined;
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (isErrnoException(error, 'ENOENT')) return false;
    throw error;
  }
}

/** Source files under `dir` with one of `extensions`, skipping vendored and hidden trees; bounded. */
async function sourceFiles(dir: string, extensions: readonly string[], limit = 400): Promise<string[]> {
  const out: string[] = [];
  const skip = new Set([
    'node_modules',
    'vendor',
    'testdata',
    '.git',
    '.venv',
    'venv',
    '__pycache__',
    'dist',
    'build',
  ]);
  const walk = async (rel: string, depth: number): Promise<void> => {
    if (out.length >= limit || depth > 6) return;
    const entries = await readdir(join(dir, rel), { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (e.name.startsWith('.') || skip.has(e.name)) continue;
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path, depth + 1);
      else if (e.isFile() && extensions.some((x) => e.name.endsWith(x))) out.push(path);
      if (out.length >= limit) return;
    }
  };
  await walk('', 0);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Go

async function generateGo(dir: string): Promise<Generated> {
  const detected: string[] = [];
  const assumed: string[] = [];
  const warnings: string[] = [];
  const goMod = await readText(join(dir, 'go.mod'));
  let module: string | undefined;
  let goVersion = '1.22';
  if (goMod) {
    module = goMod.match(/^module\s+(\S+)/m)?.[1]?.replace(/^"|"$/g, '');
    const v = goMod.match(/^go\s+(\d+\.\d+)/m)?.[1];
    if (module) detected.push(`module ${module} (go.mod)`);
    if (v) {
      goVersion = v;
      detected.push(`Go ${v} (go.mod's go directive)`);
    } else assumed.push(`Go ${goVersion} (go.mod has no go directive)`);
  } else {
    assumed.push(`Go ${goVersion}, and modules (no go.mod: run \`go mod init\` first)`);
  }
  const hasSum = await exists(join(dir, 'go.sum'));
  const files = (await sourceFiles(dir, ['.go'])).filter((f) => !f.endsWith('_test.go'));
  const mains = new Set<string>();
  let cgo = false;
  for (const f of files) {
    const text = (await readText(join(dir, f))) ?? '';
    if (/^package\s+main\b/m.test(text)) mains.add(posix.dirname(f));
    if (/^import\s+"C"|^\s+"C"\s*$/m.test(text)) cgo = true;
  }
  let mainPkg = '.';
  const sortedMains = [...mains].sort();
  if (mains.has('.')) detected.push('main package in the project root');
  else if (sortedMains.length > 0) {
    mainPkg = `./${sortedMains[0]}`;
    detected.push(
      `main package ${mainPkg}${sortedMains.length > 1 ? ` (of ${sortedMains.length}: ${sortedMains.map((m) => `./${m}`).join(', ')})` : ''}`,
    );
  } else assumed.push('main package in the project root (no `package main` found)');
  const binary =
    mainPkg === '.' ? (module ? posix.basename(module) : basename(dir)) : posix.basename(mainPkg);
  const binName = binary.replace(/[^A-Za-z0-9._-]/g, '') || 'app';
  const port = await detectPort(dir, files, /(?:Listen(?:AndServe)?|Run)\(\s*"[^"]*:(\d{2,5})"/, 8080);
  (port.found ? detected : assumed).push(`listens on port ${port.port}`);
  if (cgo)
    warnings.push(
      'the code imports "C": CGO_ENABLED=0 will fail; use a distroless or slim final stage instead of scratch',
    );
  assumed.push('no CA certificates or time zone data needed at run time (final stage is FROM scratch)');

  const copyMod = hasSum ? 'COPY go.mod go.sum ./' : 'COPY go.mod ./';
  const dockerfile = `# syntax=docker/dockerfile:1
# Multi-stage build for a Go service (written by \`strata init go\`).
# Stage "build" compiles with the full toolchain; the final image holds only the static binary.

ARG GO_VERSION=${goVersion}
FROM golang:\${GO_VERSION}-bookworm AS build
WORKDIR /src
# Dependencies first: this layer is reused until go.mod${hasSum ? ' or go.sum' : ''} change.
${goMod ? `${copyMod}\nRUN go mod download\n` : ''}COPY . .
# Static (no cgo), reproducible (-trimpath) and stripped (-s -w) binary.
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags="-s -w" -o /out/${binName} ${mainPkg}

# The final image: an empty filesystem plus the binary.
FROM scratch
COPY --from=build /out/${binName} /${binName}
# Run unprivileged (scratch has no /etc/passwd: a numeric uid).
USER 65532:65532
EXPOSE ${port.port}
ENTRYPOINT ["/${binName}"]
`;
  const dockerignore = `# Only what \`go build\` needs goes into the build context.
.git
.github/
*.md
Dockerfile*
.dockerignore
/bin/
/${binName}
*.test
*.out
.idea/
.vscode/
`;
  return { dockerfile, dockerignore, detected, assumed, warnings };
}

// ---------------------------------------------------------------------------------------------
// Python

async function generatePython(dir: string): Promise<Generated> {
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

// ---------------------------------------------------------------------------------------------
// Node

interface PackageJson {
  name?: string;
  main?: string;
  scripts?: Record<string, string>;
  engines?: { node?: string };
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

async function generateNode(dir: string): Promise<Generated> {
  const detected: string[] = [];
  const assumed: string[] = [];
  const warnings: string[] = [];
  const raw = await readText(join(dir, 'package.json'));
  if (raw === undefined) {
    throw new NotFoundError(`no package.json in ${dir}`, {
      hint: 'run npm init first, or pick the right directory',
    });
  }
  let pkg: PackageJson;
  try {
    pkg = JSON.parse(raw) as PackageJson;
  } catch (error) {
    throw new InvalidInputError(`${join(dir, 'package.json')} is not valid JSON`, { cause: error });
  }
  const scripts = pkg.scripts ?? {};
  const engine = pkg.engines?.node?.match(/(\d+)/)?.[1];
  const nodeVersion = engine ?? '20';
  (engine ? detected : assumed).push(
    `Node ${nodeVersion}${engine ? ` (engines.node "${pkg.engines?.node}")` : ''}`,
  );

  const yarn = await exists(join(dir, 'yarn.lock'));
  const pnpm = await exists(join(dir, 'pnpm-lock.yaml'));
  const npmLock = await exists(join(dir, 'package-lock.json'));
  let lockfile: string;
  let install: string;
  let prune: string;
  if (pnpm) {
    lockfile = 'pnpm-lock.yaml';
    install = 'corepack enable && pnpm install --frozen-lockfile';
    prune = 'pnpm prune --prod';
  } else if (yarn) {
    lockfile = 'yarn.lock';
    install = 'yarn install --frozen-lockfile';
    prune = 'npm prune --omit=dev';
  } else {
    lockfile = npmLock ? 'package-lock.json' : '';
    install = npmLock ? 'npm ci' : 'npm install';
    prune = 'npm prune --omit=dev';
    if (!npmLock)
      warnings.push(
        'no lockfile: builds are not reproducible; commit a package-lock.json and the image uses npm ci',
      );
  }
  if (lockfile) detected.push(`dependencies from ${lockfile}`);

  const build = scripts.build !== undefined;
  if (build) detected.push(`build step: npm run build ("${scripts.build}")`);
  else assumed.push('no build step (package.json has no "build" script)');

  // The command: `node <file>` from the start script when it is that simple, else npm start.
  let cmd: string[];
  const start = scripts.start;
  const simple = start?.match(/^node\s+([\w./-]+)$/);
  if (simple) {
    cmd = ['node', simple[1]!];
    detected.push(`start command node ${simple[1]} (scripts.start)`);
  } else if (start) {
    cmd = ['npm', 'start'];
    detected.push(`start command npm start ("${start}")`);
  } else {
    const main = pkg.main ?? 'index.js';
    cmd = ['node', main];
    (pkg.main ? detected : assumed).push(`start command node ${main}${pkg.main ? ' (main)' : ''}`);
  }
  const files = (await sourceFiles(dir, ['.js', '.ts', '.mjs', '.cjs'], 200)).filter(
    (f) => !f.endsWith('.d.ts'),
  );
  const port = await detectPort(dir, files, /(?:listen\(\s*|PORT\s*(?:\?\?|\|\|)\s*)(\d{2,5})/, 3000);
  (port.found ? detected : assumed).push(`listens on port ${port.port}`);
  const outDirs = build ? ['dist'] : [];
  if (build) assumed.push('the build writes to dist/ (the final stage copies it)');

  const copyLock = lockfile ? `COPY package.json ${lockfile} ./` : 'COPY package.json ./';
  const dockerfile = `# syntax=docker/dockerfile:1
# Multi-stage build for a Node.js service (written by \`strata init node\`).
#   build   installs every dependency, ${build ? 'runs the build, ' : ''}then drops the dev dependencies;
#   final   the slim node image with the production node_modules${build ? ' and the build output' : ' and the app'}, as user node.

ARG NODE_VERSION=${nodeVersion}
FROM node:\${NODE_VERSION}-bookworm AS build
WORKDIR /app
${copyLock}
# Behind a TLS-inspecting proxy: --secret id=extra-ca,src=<its CA file> (docs/extra-ca-certificates.md).
RUN --mount=type=secret,id=extra-ca,required=false,target=/run/secrets/extra-ca \\
    if [ -s /run/secrets/extra-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra-ca; fi; \\
    ${install}
COPY . .
RUN ${build ? 'npm run build && ' : ''}${prune}

FROM node:\${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
${build ? outDirs.map((d) => `COPY --from=build /app/${d} ./${d}`).join('\n') : 'COPY --from=build /app ./'}
USER node
EXPOSE ${port.port}
CMD ${JSON.stringify(cmd)}
`;
  const dockerignore = `# node_modules is installed inside the image; build output is made there.
node_modules/
dist/
npm-debug.log*
.npm/
.git
*.md
Dockerfile*
.dockerignore
.env
`;
  return { dockerfile, dockerignore, detected, assumed, warnings };
}

/** The first port number `pattern` finds in the project's sources, else `fallback`. */
async function detectPort(
  dir: string,
  files: readonly string[],
  pattern: RegExp,
  fallback: number,
): Promise<{ port: number; found: boolean }> {
  for (const f of files.slice(0, 100)) {
    const m = ((await readText(join(dir, f))) ?? '').match(pattern);
    const port = m?.[1] ? Number(m[1]) : Number.NaN;
    if (port > 0 && port < 65536) return { port, found: true };
  }
  return { port: fallback, found: false };
}

/**
 * `strata init go|python|node [dir]`: writes a commented multi-stage Dockerfile and a
 * .dockerignore for the project in `dir`, detecting what it can (go.mod's module and Go version and
 * the main package; requirements.txt or pyproject.toml and the WSGI/ASGI app; package.json's
 * scripts, engines and lockfile) and reporting what it assumed. Never overwrites a Dockerfile
 * unless `overwrite` is set; an existing .dockerignore is kept.
 */
export async function initProject(options: InitOptions): Promise<InitResult> {
  if (!PROJECT_KINDS.includes(options.kind)) {
    throw new InvalidInputError(`unknown project kind ${JSON.stringify(options.kind)}`, {
      hint: PROJECT_KINDS.join(', '),
    });
  }
  const dir = resolve(options.dir ?? '.');
  const info = await stat(dir).catch((error: unknown) => {
    throw new NotFoundError(`project directory ${dir} does not exist`, { cause: error });
  });
  if (!info.isDirectory()) throw new InvalidInputError(`${dir} is not a directory`);
  const generated =
    options.kind === 'go'
      ? await generateGo(dir)
      : options.kind === 'python'
        ? await generatePython(dir)
        : await generateNode(dir);
  const dockerfileName = options.dockerfileName ?? 'Dockerfile';
  const dockerfilePath = join(dir, dockerfileName);
  const ignorePath = join(dir, '.dockerignore');
  if (!options.overwrite && (await exists(dockerfilePath))) throw new InitConflictError(dockerfilePath);
  await writeFile(dockerfilePath, generated.dockerfile);
  const files: InitFile[] = [{ path: dockerfilePath, action: 'written' }];
  if (options.overwrite || !(await exists(ignorePath))) {
    await writeFile(ignorePath, generated.dockerignore);
    files.push({ path: ignorePath, action: 'written' });
  } else files.push({ path: ignorePath, action: 'kept' });
  const name =
    basename(dir)
      .toLowerCase()
      .replace(/[^a-z0-9._-]/g, '') || 'app';
  const fileFlag = dockerfileName === 'Dockerfile' ? '' : ` -f ${join(dir, dockerfileName)}`;
  return {
    files,
    detected: generated.detected,
    assumed: generated.assumed,
    warnings: generated.warnings,
    buildCommand: `strata build${fileFlag} -t ${name} ${dir}`,
  };
}
