#!/usr/bin/env node
// `npm run demo`: the talk in one command. Builds the same Go, Python and Node services single-
// and multi-stage with strata, runs every image and checks that its endpoint answers, and prints
// the size table — every number measured on this machine.
//
// On a fresh clone it installs what is missing (npm dependencies; as root the Debian packages
// scripts/test-setup.mjs lists for the demo, through apt), builds the CLI, and makes the base images from Debian's
// mirror when no registry with them is reachable (scripts/bootstrap.mjs). A second run skips the
// bases and reuses whatever the build cache holds.
//
// Usage: npm run demo [-- --root DIR] [--json FILE] [--only go,python,node] [--no-run] [--no-slim]
//                      [--platform linux/amd64,linux/arm64]
// --platform builds every image for those platforms (`strata build --platform`); the bases are
// bootstrapped for each (foreign ones under QEMU: `strata binfmt --install arm64` first), and only
// the host's platform is run and slimmed.
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createGunzip } from 'node:zlib';
import { setUp } from './test-setup.mjs';

const repo = resolve(import.meta.dirname, '..');

/** The three examples: where they are, the path to check, and the base images they build FROM. */
export const EXAMPLES = [
  { name: 'go', dir: join(repo, 'examples', 'go'), path: '/ping', bases: ['golang:1.19-bookworm'] },
  {
    name: 'python',
    dir: join(repo, 'examples', 'python'),
    path: '/ping',
    bases: ['python:3.11-bookworm', 'python:3.11-slim-bookworm'],
  },
  {
    name: 'node',
    dir: join(repo, 'examples', 'node'),
    path: '/ping',
    bases: ['node:18-bookworm', 'node:18-bookworm-slim'],
  },
];

/** The store directory strata uses for `root` (mirrors the CLI's default). */
export function storeRoot(root) {
  if (root) return resolve(root);
  if (process.env.STRATA_ROOT) return resolve(process.env.STRATA_ROOT);
  if (process.getuid?.() === 0) return '/var/lib/strata';
  return join(process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'strata');
}

/** The bundled CLI (`node scripts/build.mjs` makes it; STRATA_CLI overrides). */
export function strataCli() {
  return process.env.STRATA_CLI ? resolve(process.env.STRATA_CLI) : join(repo, 'dist', 'strata.cjs');
}

/**
 * Installs what a fresh clone lacks: npm dependencies, and as root the Debian packages the demo
 * needs (the list is scripts/test-setup.mjs's, shared with `npm test`).
 */
export async function installPrerequisites(log = console.log) {
  if (!existsSync(join(repo, 'node_modules'))) {
    log('installing npm dependencies (npm ci)…');
    const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: repo, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npm ci failed');
  }
  // npm ci builds the mount addon; a checkout installed before it existed builds it here.
  if (!existsSync(join(repo, 'build', 'Release', 'strata_native.node')))
    spawnSync(process.execPath, [join(repo, 'scripts', 'build-native.mjs')], { cwd: repo, stdio: 'inherit' });
  await setUp({ purpose: 'demo', log });
}

/** Whether an HTTPS endpoint answers at all within a few seconds (any HTTP status counts). */
export async function reachable(url, timeoutMs = 4000) {
  try {
    await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(timeoutMs) });
    return true;
  } catch {
    return false; // DNS failure, refused, TLS failure or timeout: not usable from builds here
  }
}

/**
 * What this machine needs passed to the example builds: the dependency sources (Debian's packages
 * when the Go module proxy or PyPI cannot be reached), the npm registry when it is not npm's
 * default, and the locally installed CA certificates as the `extra-ca` build secret.
 */
export async function detectBuildEnvironment({ log = console.log, tmp } = {}) {
  const [goProxy, pypi] = await Promise.all([
    reachable('https://proxy.golang.org/github.com/gin-gonic/gin/@v/list'),
    reachable('https://pypi.org/simple/flask/'),
  ]);
  const buildArgs = { go: [], python: [], node: [] };
  if (!goProxy) {
    buildArgs.go.push('GO_DEPS=debian');
    log('proxy.golang.org is not reachable: Go dependencies from Debian packages (GO_DEPS=debian)');
  }
  if (!pypi) {
    buildArgs.python.push('PY_DEPS=debian');
    log('pypi.org is not reachable: Python dependencies from Debian packages (PY_DEPS=debian)');
  }
  const { hostBuildInputs } = await import(pathToFileURL(join(repo, 'scripts', 'bootstrap.mjs')).href);
  const inputs = hostBuildInputs(tmp ?? join(tmpdir(), `strata-demo-${process.pid}`));
  buildArgs.node.push(...inputs.buildArgs);
  if (inputs.registry) log(`npm registry: ${inputs.registry} (NPM_REGISTRY)`);
  const secrets = inputs.secrets;
  if (inputs.caFiles.length > 0) {
    log(`extra CA certificates for builds: ${inputs.caFiles.join(', ')} (--secret id=extra-ca)`);
  }
  return { buildArgs, secrets };
}

/** Runs a child process, collecting its output; resolves with status, output and wall time. */
function run(command, args, { env, onLine } = {}) {
  return new Promise((resolvePromise, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    const tail = [];
    let out = '';
    const take = (d, keep) => {
      const text = d.toString();
      if (keep) out += text;
      for (const line of text.split('\n')) {
        if (!line) continue;
        onLine?.(line);
        tail.push(line);
        if (tail.length > 40) tail.shift();
      }
    };
    child.stdout.on('data', (d) => take(d, true));
    child.stderr.on('data', (d) => take(d, false));
    child.on('error', reject);
    child.on('close', (code) =>
      resolvePromise({ code, stdout: out, tail, ms: Number(process.hrtime.bigint() - start) / 1e6 }),
    );
  });
}

/**
 * Builds one example's Dockerfile.<variant> with strata and tags it `strata-demo/<name>:<variant>`.
 * Resolves with the image name and the wall-clock build time.
 */
export async function buildExample(
  example,
  variant,
  { root, buildArgs = [], secrets = [], onLine, platforms } = {},
) {
  const tag = `strata-demo/${example.name}:${variant}`;
  const ms = await buildImage(join(example.dir, `Dockerfile.${variant}`), example.dir, tag, {
    root,
    buildArgs,
    secrets,
    onLine,
    platforms,
  });
  return { tag, ms };
}

/**
 * `strata build --progress plain [--platform p1,p2] -f <dockerfile> -t <tag> <dir>`; resolves with
 * the wall-clock time.
 */
async function buildImage(
  dockerfile,
  dir,
  tag,
  { root, buildArgs = [], secrets = [], onLine, platforms } = {},
) {
  const args = [
    strataCli(),
    ...(root ? ['--root', root] : []),
    'build',
    '--progress',
    'plain',
    ...(platforms?.length ? ['--platform', platforms.join(',')] : []),
    '-f',
    dockerfile,
    '-t',
    tag,
    ...buildArgs.flatMap((a) => ['--build-arg', a]),
    ...secrets.flatMap((s) => ['--secret', s]),
    dir,
  ];
  const r = await run(process.execPath, args, { onLine });
  if (r.code !== 0) throw new Error(`building ${tag} failed:\n${r.tail.join('\n')}`);
  return r.ms;
}

/** An unused TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePromise(port));
    });
  });
}

/**
 * Runs `image` with `strata run -e PORT=<free port>` (host network), waits for
 * http://127.0.0.1:<port><path> to answer, then stops the container. Resolves with the status and
 * body of the first answer; rejects when none comes within `timeoutMs`.
 */
export async function checkEndpoint(image, path, { root, timeoutMs = 60_000 } = {}) {
  const port = await freePort();
  const controller = new AbortController();
  const child = spawn(
    process.execPath,
    [strataCli(), ...(root ? ['--root', root] : []), 'run', '-e', `PORT=${port}`, image],
    { stdio: ['ignore', 'pipe', 'pipe'], signal: controller.signal, killSignal: 'SIGTERM' },
  );
  let output = '';
  child.stdout.on('data', (d) => {
    output += d;
  });
  child.stderr.on('data', (d) => {
    output += d;
  });
  let exited = false;
  const done = new Promise((resolvePromise) =>
    child.on('close', (code) => {
      exited = true;
      resolvePromise(code);
    }),
  );
  child.on('error', () => undefined); // the AbortError when we stop it below
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline && !exited) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}${path}`, {
          signal: AbortSignal.timeout(2000),
        });
        return { status: response.status, body: await response.text(), port };
      } catch {
        await new Promise((r) => setTimeout(r, 250)); // not listening yet
      }
    }
    throw new Error(
      `${image} did not answer on 127.0.0.1:${port}${path}${exited ? ' (it exited)' : ` within ${timeoutMs / 1000} s`}:\n${output.slice(-2000)}`,
    );
  } finally {
    controller.abort();
    await done;
  }
}

/** Bytes a stream yields. */
async function countBytes(stream) {
  let n = 0;
  for await (const chunk of stream) n += chunk.length;
  return n;
}

/**
 * An image's sizes, read from the store (an OCI image layout): `compressed` is config + layers as
 * stored (what a pull transfers, `strata images`' SIZE); `uncompressed` is the sum of the layers'
 * uncompressed tar streams, what `docker images` shows (within tar headers). Uncompressed sizes
 * are cached per layer digest in `cacheFile`.
 */
export async function imageSizes(name, { root, cacheFile } = {}) {
  const dir = storeRoot(root);
  const cache = cacheFile && existsSync(cacheFile) ? JSON.parse(readFileSync(cacheFile, 'utf8')) : {};
  const images = JSON.parse(
    spawnSync(process.execPath, [strataCli(), ...(root ? ['--root', root] : []), 'images', '--json'], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    }).stdout,
  );
  const entry = images.find((i) => i.name === name || `${i.repository}:${i.tag}` === name);
  if (!entry) throw new Error(`image ${name} is not in the store at ${dir}`);
  const blob = (digest) => join(dir, 'blobs', ...digest.split(':'));
  let top = JSON.parse(readFileSync(blob(entry.digest), 'utf8'));
  if (top.manifests) {
    const child = top.manifests.find((m) => m.platform?.architecture === hostArch()) ?? top.manifests[0];
    top = JSON.parse(readFileSync(blob(child.digest), 'utf8'));
  }
  let compressed = top.config.size;
  let uncompressed = 0;
  for (const layer of top.layers) {
    compressed += layer.size;
    if (cache[layer.digest] === undefined) {
      const source = createReadStream(blob(layer.digest));
      if (layer.mediaType.endsWith('gzip'))
        cache[layer.digest] = await countBytes(source.pipe(createGunzip()));
      else if (layer.mediaType.endsWith('zstd')) {
        const r = spawnSync('sh', ['-c', `zstd -dc < "$0" | wc -c`, blob(layer.digest)], {
          encoding: 'utf8',
        });
        cache[layer.digest] = Number(r.stdout.trim());
      } else cache[layer.digest] = layer.size;
    }
    uncompressed += cache[layer.digest];
  }
  if (cacheFile) {
    mkdirSync(resolve(cacheFile, '..'), { recursive: true });
    writeFileSync(cacheFile, JSON.stringify(cache));
  }
  return { compressed, uncompressed, layers: top.layers.length };
}

function hostArch() {
  return (
    { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' }[process.arch] ??
    process.arch
  );
}

/** `1.2 GB`, `16 MB`, `850 kB` — decimal units, as `docker images` prints them. */
export function formatSize(bytes) {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(v >= 10 ? 1 : 2)} ${units[i]}`;
}

function formatSeconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The result table, as text. */
export function formatTable(rows) {
  const header = ['example', 'single-stage', 'multi-stage', 'ratio', 'build single', 'build multi'];
  const body = rows.map((r) => [
    r.example,
    `${formatSize(r.single.uncompressed)} (${formatSize(r.single.compressed)} gz)`,
    `${formatSize(r.multi.uncompressed)} (${formatSize(r.multi.compressed)} gz)`,
    `${(r.single.uncompressed / r.multi.uncompressed).toFixed(1)}x`,
    formatSeconds(r.single.buildMs),
    formatSeconds(r.multi.buildMs),
  ]);
  return alignedTable(header, body);
}

/**
 * The `strata slim` part of the demo: slims each example's Dockerfile.single with the tool (the
 * rewrite goes to `tmp`, never into examples/), builds the rewrite as `strata-demo/<name>:slim`,
 * runs the demo's own endpoint check on it, and returns one row per example with its sizes beside
 * the hand-written Dockerfile.multi's (`rows` from the main table).
 */
export async function slimExamples(
  selected,
  { root, env, rows, tmp, log = console.log, runImages = true, onLine },
) {
  const out = [];
  for (const example of selected) {
    const multi = rows.find((r) => r.example === example.name)?.multi;
    const file = join(tmp, `${example.name}.Dockerfile.slim`);
    mkdirSync(tmp, { recursive: true });
    const buildArgs = env.buildArgs[example.name] ?? [];
    const secrets = example.name === 'node' ? env.secrets : [];
    const flags = [
      ...buildArgs.flatMap((a) => ['--build-arg', a]),
      ...secrets.flatMap((x) => ['--secret', x]),
    ];
    log(`strata slim -f examples/${example.name}/Dockerfile.single…`);
    const slimmed = await run(
      process.execPath,
      [
        strataCli(),
        ...(root ? ['--root', root] : []),
        'slim',
        '--progress',
        'plain',
        '-f',
        join(example.dir, 'Dockerfile.single'),
        '-o',
        file,
        ...flags,
        example.dir,
      ],
      { onLine },
    );
    if (slimmed.code !== 0)
      throw new Error(`strata slim failed for ${example.name}:\n${slimmed.tail.join('\n')}`);
    const tag = `strata-demo/${example.name}:slim`;
    const buildMs = await buildImage(file, example.dir, tag, { root, buildArgs, secrets, onLine });
    const sizes = await imageSizes(tag, {
      root,
      cacheFile: join(repo, 'node_modules', '.cache', 'strata-demo', 'layer-sizes.json'),
    });
    let answer;
    if (runImages) {
      const r = await checkEndpoint(tag, example.path, { root });
      answer =
        r.status === 200 && JSON.parse(r.body).message === 'pong' ? 'pong' : `${r.status} ${r.body.trim()}`;
    }
    out.push({
      example: example.name,
      file,
      multi,
      slim: { tag, buildMs, ...sizes, ...(answer ? { answer } : {}) },
    });
  }
  return out;
}

/** Columns padded to their widest cell (the first left-aligned), a dashed rule under the header. */
function alignedTable(header, body) {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('   ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** The slim table: the tool's rewrite beside the hand-written multi-stage image. */
export function formatSlimTable(rows) {
  const header = ['example', 'hand-written multi', 'strata slim', 'difference', 'GET /ping'];
  const body = rows.map((r) => [
    r.example,
    r.multi ? `${formatSize(r.multi.uncompressed)} (${formatSize(r.multi.compressed)} gz)` : '-',
    `${formatSize(r.slim.uncompressed)} (${formatSize(r.slim.compressed)} gz)`,
    r.multi
      ? `${r.slim.uncompressed >= r.multi.uncompressed ? '+' : ''}${((100 * (r.slim.uncompressed - r.multi.uncompressed)) / r.multi.uncompressed).toFixed(1)}%`
      : '-',
    r.slim.answer ?? 'not run',
  ]);
  return alignedTable(header, body);
}

async function main() {
  const argv = process.argv.slice(2);
  let root;
  let jsonFile;
  let only;
  let runImages = true;
  let slim = true;
  let platforms;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--root') root = argv[++i];
    else if (argv[i] === '--json') jsonFile = argv[++i];
    else if (argv[i] === '--only') only = new Set(argv[++i].split(','));
    else if (argv[i] === '--no-run') runImages = false;
    else if (argv[i] === '--no-slim') slim = false;
    else if (argv[i] === '--platform') platforms = (platforms ?? []).concat(argv[++i].split(','));
    else if (argv[i] === '-h' || argv[i] === '--help') {
      console.log(
        'usage: npm run demo [-- --root DIR] [--json FILE] [--only go,python,node] [--no-run] [--no-slim] [--platform linux/amd64,linux/arm64]',
      );
      return;
    } else throw new Error(`unknown argument ${argv[i]}`);
  }
  const started = Date.now();
  const log = (text) => console.log(`» ${text}`);
  const verbose = process.env.STRATA_DEMO_VERBOSE ? (line) => process.stderr.write(`  ${line}\n`) : undefined;

  await installPrerequisites(log);
  if (!process.env.STRATA_CLI) {
    log('building the CLI (node scripts/build.mjs)');
    const b = spawnSync(process.execPath, [join(repo, 'scripts', 'build.mjs')], { stdio: 'inherit' });
    if (b.status !== 0) throw new Error('building the CLI failed');
  }
  log(`store: ${storeRoot(root)}`);

  const { bootstrapBases, bootstrapPlatforms, hostPlatformName } = await import(
    pathToFileURL(join(repo, 'scripts', 'bootstrap.mjs')).href
  );
  const selected = EXAMPLES.filter((e) => !only || only.has(e.name));
  if (platforms) platforms = bootstrapPlatforms(platforms.join(','));
  // The host's platform is the one run and slimmed; a build without it has nothing to run here.
  const hostBuilt = !platforms || platforms.includes(hostPlatformName());
  if (!hostBuilt && (runImages || slim)) {
    log(
      `not running or slimming: ${platforms.join(', ')} does not include this machine's ${hostPlatformName()}`,
    );
    runImages = false;
    slim = false;
  }
  const bases = await bootstrapBases({
    root,
    names: selected.flatMap((e) => e.bases),
    log,
    progress: verbose,
    ...(platforms ? { platforms } : {}),
  });
  const built = bases.filter((b) => b.action === 'built');
  log(
    built.length === 0
      ? 'base images: all present'
      : `base images: built ${built.map((b) => `${b.name}${b.platform ? ` ${b.platform}` : ''} (${formatSeconds(b.ms)})`).join(', ')}`,
  );

  const tmp = join(tmpdir(), `strata-demo-${process.pid}`);
  const rows = [];
  let slimRows = [];
  try {
    const env = await detectBuildEnvironment({ log, tmp });
    for (const example of selected) {
      const row = { example: example.name };
      for (const variant of ['single', 'multi']) {
        log(`building ${example.name} (Dockerfile.${variant})…`);
        const { tag, ms } = await buildExample(example, variant, {
          root,
          buildArgs: env.buildArgs[example.name],
          secrets: example.name === 'node' ? env.secrets : [],
          onLine: verbose,
          ...(platforms ? { platforms } : {}),
        });
        const sizes = await imageSizes(tag, {
          root,
          cacheFile: join(repo, 'node_modules', '.cache', 'strata-demo', 'layer-sizes.json'),
        });
        let answer;
        if (runImages) {
          const r = await checkEndpoint(tag, example.path, { root });
          if (r.status !== 200 || JSON.parse(r.body).message !== 'pong') {
            throw new Error(`${tag} answered ${r.status} ${r.body}`);
          }
          answer = r.body.trim();
          log(`strata run ${tag}: GET ${example.path} → ${r.status} ${answer}`);
        }
        row[variant] = { tag, buildMs: ms, ...sizes, ...(answer ? { answer } : {}) };
      }
      rows.push(row);
    }
    if (slim)
      slimRows = await slimExamples(selected, {
        root,
        env,
        rows,
        tmp: join(tmp, 'slim'),
        log,
        runImages,
        onLine: verbose,
      });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log('');
  console.log(formatTable(rows));
  console.log('');
  console.log(
    'sizes: uncompressed (what `docker images` shows), compressed as stored and pulled in brackets; ' +
      'times: wall clock of each `strata build`.',
  );
  if (slimRows.length > 0) {
    console.log('');
    console.log('`strata slim` on each Dockerfile.single, beside the hand-written Dockerfile.multi:');
    console.log(formatSlimTable(slimRows));
  }
  console.log(`demo finished in ${formatSeconds(Date.now() - started)}`);
  if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify({ bases, rows, slim: slimRows }, null, 2)}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error) => {
    console.error(`demo: ${error.message}`);
    process.exit(1);
  });
}
