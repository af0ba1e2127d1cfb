#!/usr/bin/env node
// Base images without Docker Hub: makes `debian:bookworm-slim` with mmdebstrap from the Debian
// mirror this machine uses, imports it with `strata import`, then builds the golang, python and
// node bases the examples name *with strata itself* from the small Dockerfiles in scripts/bases/
// (real `RUN apt-get install …` workloads) and stores them under the official images' names, so
// `FROM golang:1.19-bookworm` resolves locally. Images that already exist are skipped.
//
// Usage: node scripts/bootstrap.mjs [--root DIR] [--force] [--mirror URL] [NAME…]
//   NAME: any of the names below (default: all). --force rebuilds the named ones.
// Needs: mmdebstrap (root mode as root, unshare mode otherwise), a reachable Debian mirror, and
// what `strata build` needs to RUN steps (runc; root).
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const repo = resolve(import.meta.dirname, '..');
/** The bundled CLI (`node scripts/build.mjs` makes it). */
export const STRATA = process.env.STRATA_CLI
  ? resolve(process.env.STRATA_CLI)
  : join(repo, 'dist', 'strata.cjs');

/**
 * Every base image, in build order. `dir` is the build context under scripts/bases/ (its
 * Dockerfile names its parent with FROM). The official images are built the same way:
 * golang:*-bookworm FROM buildpack-deps:bookworm-scm, python:*-bookworm and node:*-bookworm FROM
 * buildpack-deps:bookworm, the -slim ones FROM debian:bookworm-slim.
 */
export const BASES = [
  { name: 'debian:bookworm-slim', dir: null },
  { name: 'buildpack-deps:bookworm-scm', dir: 'buildpack-deps-scm' },
  { name: 'buildpack-deps:bookworm', dir: 'buildpack-deps' },
  { name: 'golang:1.19-bookworm', dir: 'golang' },
  { name: 'python:3.11-slim-bookworm', dir: 'python-slim' },
  { name: 'python:3.11-bookworm', dir: 'python' },
  { name: 'node:18-bookworm-slim', dir: 'node-slim' },
  { name: 'node:18-bookworm', dir: 'node' },
];

/** Runs `strata args…` and returns its stdout; throws with its stderr on failure. */
export function strataSync(args, { root, input } = {}) {
  const r = spawnSync(process.execPath, [STRATA, ...(root ? ['--root', root] : []), ...args], {
    encoding: 'utf8',
    input,
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`strata ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Runs a command with inherited output (or `onLine` per output line); resolves with its exit status. */
export function runCommand(command, args, { onLine, env } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      stdio: onLine ? ['ignore', 'pipe', 'pipe'] : 'inherit',
      env: env ?? process.env,
    });
    if (onLine) {
      for (const stream of [child.stdout, child.stderr]) {
        let partial = '';
        stream.on('data', (d) => {
          const lines = (partial + d.toString()).split('\n');
          partial = lines.pop() ?? '';
          for (const l of lines) onLine(l);
        });
        stream.on('end', () => partial && onLine(partial));
      }
    }
    child.on('error', reject);
    child.on('close', (code) => resolvePromise(code ?? 1));
  });
}

/** The image names in the store (short form, e.g. `golang:1.19-bookworm`). */
export function storedNames(root) {
  return new Set(JSON.parse(strataSync(['images', '--json'], { root })).map((i) => i.name));
}

/**
 * The Debian archive and security URIs this machine's apt uses, from /etc/apt/sources.list and
 * sources.list.d (one-line and deb822 formats): the entries for bookworm, bookworm-updates and
 * bookworm-security. Falls back to deb.debian.org when the host is not Debian.
 */
export function hostDebianSources(suite = 'bookworm', aptDir = '/etc/apt') {
  const entries = [];
  const files = [];
  if (existsSync(join(aptDir, 'sources.list'))) files.push(join(aptDir, 'sources.list'));
  const listDir = join(aptDir, 'sources.list.d');
  if (existsSync(listDir))
    for (const f of readdirSync(listDir).sort())
      if (f.endsWith('.list') || f.endsWith('.sources')) files.push(join(listDir, f));
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      for (const para of text.split(/\n\s*\n/)) {
        const field = (name) => {
          const m = para.match(new RegExp(`^${name}:\\s*(.*)$`, 'mi'));
          return m ? m[1].trim().split(/\s+/) : [];
        };
        if (!field('Types').includes('deb') || /^Enabled:\s*no/im.test(para)) continue;
        for (const uri of field('URIs'))
          for (const s of field('Suites')) entries.push({ uri, suite: s, components: field('Components') });
      }
    } else {
      for (const line of text.split('\n')) {
        const m = line.trim().match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$/);
        if (m) entries.push({ uri: m[1], suite: m[2], components: m[3].split(/\s+/) });
      }
    }
  }
  const wanted = new Set([suite, `${suite}-updates`, `${suite}-security`, `${suite}/updates`]);
  const found = entries.filter((e) => wanted.has(e.suite) && e.components.includes('main'));
  if (!found.some((e) => e.suite === suite)) {
    return [`deb http://deb.debian.org/debian ${suite} main`];
  }
  return [...new Set(found.map((e) => `deb ${e.uri} ${e.suite} main`))];
}

/**
 * mmdebstrap's arguments for a slim Debian root filesystem: minbase with merged /usr (its hook,
 * so usrmerge and perl stay out), without docs, man pages and locales (dpkg path excludes kept in
 * the image, as the official -slim images do), with empty apt lists and caches.
 */
export function mmdebstrapArgs(suite, output, sources) {
  const excludes = [
    '/usr/share/man/*',
    '/usr/share/doc/*',
    '/usr/share/info/*',
    '/usr/share/locale/*',
    '/usr/share/lintian/*',
    '/usr/share/linda/*',
  ];
  return [
    '--variant=minbase',
    '--format=tar',
    '--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr',
    ...excludes.map((p) => `--dpkgopt=path-exclude=${p}`),
    '--dpkgopt=path-include=/usr/share/doc/*/copyright',
    '--aptopt=Acquire::Languages "none"',
    // As in Docker's debian images: apt deletes downloaded .debs after installing them and keeps
    // no binary caches, so `RUN apt-get install` layers hold the packages once, not twice.
    `--customize-hook=printf '%s\\n' ${APT_DOCKER_CLEAN.map((l) => `'${l}'`).join(' ')} > "$1/etc/apt/apt.conf.d/docker-clean"`,
    '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb "$1"/var/log/*.log "$1"/var/log/apt/*',
    suite,
    output,
    ...sources,
  ];
}

/** /etc/apt/apt.conf.d/docker-clean of Docker's debian images (debuerreotype's slimming). */
const APT_DOCKER_CLEAN = [
  'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };',
  'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };',
  'Dir::Cache::pkgcache "";',
  'Dir::Cache::srcpkgcache "";',
];

/** CA certificates installed locally (`update-ca-certificates`' source directory), concatenated. */
export function extraCaCertificates(dir = '/usr/local/share/ca-certificates') {
  if (!existsSync(dir)) return undefined;
  const files = readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.crt') || f.endsWith('.pem'))
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile())
    .sort();
  if (files.length === 0) return undefined;
  return { files, pem: `${files.map((f) => readFileSync(f, 'utf8').trim()).join('\n')}\n` };
}

/** The npm registry this machine's npm uses, when it is not npm's default. */
export function customNpmRegistry() {
  const registry = spawnSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).stdout?.trim();
  return registry && !/^https:\/\/registry\.npmjs\.org\/?$/.test(registry) ? registry : undefined;
}

/**
 * What builds that download from the npm registry need from this machine: the local CA
 * certificates as the `extra-ca` secret (written to a private file in `dir`) and a non-default
 * registry as `NPM_REGISTRY`. See docs/extra-ca-certificates.md.
 */
export function hostBuildInputs(dir) {
  const secrets = [];
  const buildArgs = [];
  const ca = extraCaCertificates();
  if (ca) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, 'extra-ca.pem');
    writeFileSync(file, ca.pem, { mode: 0o600 });
    secrets.push(`id=extra-ca,src=${file}`);
  }
  const registry = customNpmRegistry();
  if (registry) buildArgs.push(`NPM_REGISTRY=${registry}`);
  return { secrets, buildArgs, caFiles: ca?.files ?? [], registry };
}

/** Makes and imports `debian:bookworm-slim`. */
async function bootstrapDebian(root, log, mirror, progress) {
  if (spawnSync('mmdebstrap', ['--version']).status !== 0) {
    throw new Error('mmdebstrap is missing: apt-get install mmdebstrap (or run npm run demo as root)');
  }
  const sources = mirror
    ? [`deb ${mirror} bookworm main`, `deb ${mirror} bookworm-updates main`]
    : hostDebianSources('bookworm');
  log(`mmdebstrap bookworm from ${sources.map((s) => s.split(' ')[1]).join(', ')}`);
  const dir = mkdtempSync(join(tmpdir(), 'strata-bootstrap-'));
  try {
    const tar = join(dir, 'rootfs.tar');
    const tail = [];
    const status = await runCommand('mmdebstrap', ['--quiet', ...mmdebstrapArgs('bookworm', tar, sources)], {
      onLine: (line) => {
        tail.push(line);
        if (tail.length > 30) tail.shift();
        progress?.(line);
      },
    });
    if (status !== 0) throw new Error(`mmdebstrap exited with ${status}:\n${tail.join('\n')}`);
    strataSync(['import', '-m', 'mmdebstrap --variant=minbase bookworm', tar, 'debian:bookworm-slim'], {
      root,
    });
    log('imported debian:bookworm-slim');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Builds one base from scripts/bases/<dir>/Dockerfile with strata (context: scripts/bases). */
async function buildBase(root, base, { log, progress, secrets = [], buildArgs = [] }) {
  const context = join(repo, 'scripts', 'bases');
  const args = [
    STRATA,
    ...(root ? ['--root', root] : []),
    'build',
    '--progress',
    'plain',
    '-f',
    join(context, base.dir, 'Dockerfile'),
    '-t',
    base.name,
    ...buildArgs.flatMap((a) => ['--build-arg', a]),
    ...secrets.flatMap((a) => ['--secret', a]),
    context,
  ];
  const tail = [];
  const status = await runCommand(process.execPath, args, {
    onLine: (line) => {
      tail.push(line);
      if (tail.length > 30) tail.shift();
      progress?.(line);
    },
  });
  if (status !== 0) throw new Error(`building ${base.name} failed:\n${tail.join('\n')}`);
  log(`built ${base.name}`);
}

/**
 * Makes sure every base in `names` (default: all) exists in the store at `root`, building what is
 * missing (and whatever it is built FROM). Returns what it did, with timings in ms.
 */
export async function bootstrapBases({
  root,
  names,
  force = false,
  mirror,
  log = console.log,
  progress,
} = {}) {
  const want = new Set(names && names.length > 0 ? names : BASES.map((b) => b.name));
  for (const name of want)
    if (!BASES.some((b) => b.name === name))
      throw new Error(`unknown base ${name}: one of ${BASES.map((b) => b.name).join(', ')}`);
  // Parents of wanted bases are wanted too (only when missing).
  const parentOf = (base) => {
    if (!base.dir) return undefined;
    const text = readFileSync(join(repo, 'scripts', 'bases', base.dir, 'Dockerfile'), 'utf8');
    const from = text.match(/^FROM\s+(\S+)/m)?.[1];
    return BASES.find((b) => b.name === from);
  };
  const done = [];
  let present = storedNames(root);
  const tmp = mkdtempSync(join(tmpdir(), 'strata-bootstrap-inputs-'));
  const inputs = hostBuildInputs(tmp);
  try {
    await bootstrapMissing();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return done;

  async function bootstrapMissing() {
    for (const base of [...BASES].reverse()) {
      if (!want.has(base.name)) continue;
      const parent = parentOf(base);
      if (parent && (!present.has(base.name) || force)) want.add(parent.name);
    }
    for (const base of BASES) {
      if (!want.has(base.name)) continue;
      const forced = force && (!names || names.length === 0 || names.includes(base.name));
      if (present.has(base.name) && !forced) {
        done.push({ name: base.name, action: 'present', ms: 0 });
        continue;
      }
      const start = Date.now();
      log(`bootstrapping ${base.name}…`);
      if (base.dir === null) await bootstrapDebian(root, log, mirror, progress);
      else
        await buildBase(root, base, { log, progress, secrets: inputs.secrets, buildArgs: inputs.buildArgs });
      done.push({ name: base.name, action: 'built', ms: Date.now() - start });
      present = storedNames(root);
    }
  }
}

async function main() {
  const args = process.argv.slice(2);
  let root;
  let mirror;
  let force = false;
  const names = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--root') root = args[++i];
    else if (a === '--mirror') mirror = args[++i];
    else if (a === '--force') force = true;
    else if (a === '-h' || a === '--help') {
      console.log('usage: node scripts/bootstrap.mjs [--root DIR] [--force] [--mirror URL] [NAME…]');
      console.log(`names: ${BASES.map((b) => b.name).join(', ')}`);
      return;
    } else names.push(a);
  }
  if (!existsSync(STRATA)) {
    const b = spawnSync(process.execPath, [join(repo, 'scripts', 'build.mjs')], { stdio: 'inherit' });
    if (b.status !== 0) process.exit(b.status ?? 1);
  }
  const done = await bootstrapBases({
    root,
    names,
    force,
    mirror,
    progress: (line) => process.stderr.write(`  ${line}\n`),
  });
  for (const d of done)
    console.log(
      `${d.name.padEnd(30)} ${d.action === 'built' ? `built in ${(d.ms / 1000).toFixed(1)} s` : 'already present'}`,
    );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error) => {
    console.error(`bootstrap: ${error.message}`);
    process.exit(1);
  });
}
