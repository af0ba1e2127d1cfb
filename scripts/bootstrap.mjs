#!/usr/bin/env node
// Base images without Docker Hub: makes `debian:bookworm-slim` with mmdebstrap from the Debian
// mirror this machine uses, imports it with `strata import`, then builds the golang, python and
// node bases the examples name *with strata itself* from the small Dockerfiles in scripts/bases/
// (real `RUN apt-get install …` workloads) and stores them under the official images' names, so
// `FROM golang:1.19-bookworm` resolves locally. Images that already exist are skipped.
//
// Usage: node scripts/bootstrap.mjs [--root DIR] [--force] [--mirror URL] [--platform P1,P2] [NAME…]
//   NAME: any of the names below (default: all). --force rebuilds the named ones.
//   --platform (or STRATA_BOOTSTRAP_PLATFORMS): the platforms each base holds, e.g.
//   linux/amd64,linux/arm64 (default: the host's only). A foreign one is made under QEMU
//   (mmdebstrap --arch, then `strata build --platform`; `strata binfmt --install ARCH` first) and
//   the name becomes an OCI index of every platform, as on Docker Hub.
// Needs: mmdebstrap (root mode as root, unshare mode otherwise), a reachable Debian mirror, and
// what `strata build` needs to RUN steps (runc; root).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
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
export function mmdebstrapArgs(suite, output, sources, { arch } = {}) {
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
    ...(arch ? [`--architectures=${arch}`] : []),
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

/**
 * Makes and imports `debian:bookworm-slim` (as `name`, for `platform` when given: mmdebstrap
 * `--architectures` with Debian's name for it, its programs run by QEMU through binfmt_misc).
 */
async function bootstrapDebian(
  root,
  log,
  mirror,
  progress,
  { platform, name = 'debian:bookworm-slim' } = {},
) {
  if (spawnSync('mmdebstrap', ['--version']).status !== 0) {
    throw new Error('mmdebstrap is missing: apt-get install mmdebstrap (or run npm run demo as root)');
  }
  const sources = mirror
    ? [`deb ${mirror} bookworm main`, `deb ${mirror} bookworm-updates main`]
    : hostDebianSources('bookworm');
  const arch = platform ? debianArch(platform) : undefined;
  // mmdebstrap checks a foreign architecture runs (through binfmt_misc) with arch-test first.
  if (arch && spawnSync('arch-test', ['--version']).error)
    throw new Error(`mmdebstrap --architectures=${arch} needs arch-test: apt-get install arch-test`);
  log(
    `mmdebstrap bookworm${arch ? ` (${arch})` : ''} from ${sources.map((s) => s.split(' ')[1]).join(', ')}`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'strata-bootstrap-'));
  try {
    const tar = join(dir, 'rootfs.tar');
    const tail = [];
    const status = await runCommand(
      'mmdebstrap',
      ['--quiet', ...mmdebstrapArgs('bookworm', tar, sources, arch ? { arch } : {})],
      {
        onLine: (line) => {
          tail.push(line);
          if (tail.length > 30) tail.shift();
          progress?.(line);
        },
      },
    );
    if (status !== 0) throw new Error(`mmdebstrap exited with ${status}:\n${tail.join('\n')}`);
    strataSync(
      [
        'import',
        ...(platform ? ['--platform', platform] : []),
        '-m',
        `mmdebstrap --variant=minbase bookworm${arch ? ` (${arch})` : ''}`,
        tar,
        name,
      ],
      { root },
    );
    log(`imported ${name}${platform ? ` (${platform})` : ''}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Debian's architecture name for an OCI platform (`linux/arm64` → arm64, `linux/arm/v7` → armhf). */
export function debianArch(platform) {
  const [, arch, variant] = platform.split('/');
  if (arch === 'arm') return variant === 'v5' ? 'armel' : variant === 'v6' ? 'armel' : 'armhf';
  if (arch === '386') return 'i386';
  if (arch === 'mips64le') return 'mips64el';
  return arch;
}

/** `linux/arm64` → { os, architecture, variant? }. */
function platformObject(platform) {
  const [os, architecture, variant] = platform.split('/');
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** The host's platform as strata names it (`linux/amd64`). */
export function hostPlatformName() {
  const arch =
    {
      x64: 'amd64',
      ia32: '386',
      arm64: 'arm64',
      arm: 'arm',
      riscv64: 'riscv64',
      s390x: 's390x',
      ppc64: 'ppc64le',
    }[process.arch] ?? process.arch;
  return `linux/${arch}${arch === 'arm' ? '/v7' : ''}`;
}

/** The store's directory (an OCI image layout): `--root`, else the one `strata info` reports. */
function storeDir(root) {
  return root ? resolve(root) : JSON.parse(strataSync(['info', '--json'])).root;
}

function readBlob(dir, digest) {
  return JSON.parse(readFileSync(join(dir, 'blobs', ...digest.split(':')), 'utf8'));
}

/**
 * The manifests a stored name stands for, each with its platform: an index's entries, or the one
 * manifest with the platform its config says. Undefined when the name is not stored.
 */
export function storedManifests(root, name) {
  const dir = storeDir(root);
  const top = readBlobIndex(dir).manifests.find(
    (m) => m.annotations?.['org.opencontainers.image.ref.name'] === name,
  );
  if (!top) return undefined;
  if (/index|manifest\.list/.test(top.mediaType)) return readBlob(dir, top.digest).manifests;
  const config = readBlob(dir, readBlob(dir, top.digest).config.digest);
  const platform = {
    os: config.os,
    architecture: config.architecture,
    ...(config.variant ? { variant: config.variant } : {}),
  };
  return [{ mediaType: top.mediaType, digest: top.digest, size: top.size, platform }];
}

function readBlobIndex(dir) {
  return JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
}

function samePlatform(a, b) {
  const norm = (p) =>
    `${p.os}/${p.architecture}/${p.architecture === 'arm' ? (p.variant ?? 'v7') : (p.variant ?? '')}`;
  return norm(a) === norm(b);
}

/**
 * Makes `name` an OCI index of the manifests it has and `extra`'s (a stored single-platform
 * image, whose platform replaces the one of the same platform in `name`), then removes `extra`'s
 * name. Done through an OCI layout beside the store (blobs hard-linked, never written into the
 * store by hand) and `strata copy --all`, which verifies and stores it under the store's lock.
 */
export function mergeIntoIndex(root, name, extra) {
  const dir = storeDir(root);
  const added = storedManifests(root, extra);
  if (added?.length !== 1) throw new Error(`${extra} is not a single-platform image in the store`);
  const kept = (storedManifests(root, name) ?? []).filter(
    (m) => !samePlatform(m.platform, added[0].platform),
  );
  const manifests = [...kept, ...added];
  const layout = mkdtempSync(join(dirname(dir), '.strata-bootstrap-index-'));
  try {
    mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
    const link = (digest) => {
      const [alg, hex] = digest.split(':');
      const target = join(layout, 'blobs', alg, hex);
      if (existsSync(target)) return;
      try {
        linkSync(join(dir, 'blobs', alg, hex), target);
      } catch {
        // Another filesystem (EXDEV) or hard links refused: a copy does as well.
        copyFileSync(join(dir, 'blobs', alg, hex), target);
      }
    };
    for (const m of manifests) {
      link(m.digest);
      const manifest = readBlob(dir, m.digest);
      link(manifest.config.digest);
      for (const l of manifest.layers) link(l.digest);
    }
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: manifests.map((m) => ({
          mediaType: m.mediaType,
          digest: m.digest,
          size: m.size,
          platform: m.platform,
        })),
      }),
    );
    const digest = `sha256:${createHash('sha256').update(index).digest('hex')}`;
    writeFileSync(join(layout, 'blobs', 'sha256', digest.slice(7)), index);
    writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(
      join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.index.v1+json',
            digest,
            size: index.length,
            annotations: { 'org.opencontainers.image.ref.name': 'all' },
          },
        ],
      }),
    );
    strataSync(['copy', '--all', '--quiet', `oci:${layout}:all`, `strata:${name}`], { root });
    strataSync(['rmi', extra], { root });
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
}

/** Fails with the fix when this machine cannot run `platform`'s programs (`strata binfmt`). */
function requireRunnable(platform) {
  const status = JSON.parse(strataSync(['binfmt', '--json']));
  const support = status.platforms.find((p) => p.platform === platform);
  if (!support) throw new Error(`strata cannot run ${platform} programs (no such platform in strata binfmt)`);
  if (support.how === 'unavailable')
    throw new Error(`cannot bootstrap ${platform} bases: ${support.reason} (${support.hint})`);
}

/** Builds one base from scripts/bases/<dir>/Dockerfile with strata (context: scripts/bases). */
async function buildBase(
  root,
  base,
  { log, progress, secrets = [], buildArgs = [], platform, tag = base.name },
) {
  const context = join(repo, 'scripts', 'bases');
  const args = [
    STRATA,
    ...(root ? ['--root', root] : []),
    'build',
    '--progress',
    'plain',
    ...(platform ? ['--platform', platform] : []),
    '-f',
    join(context, base.dir, 'Dockerfile'),
    '-t',
    tag,
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
  if (status !== 0)
    throw new Error(`building ${base.name}${platform ? ` (${platform})` : ''} failed:\n${tail.join('\n')}`);
  log(`built ${base.name}${platform ? ` (${platform})` : ''}`);
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
  platforms = bootstrapPlatforms(),
} = {}) {
  const host = hostPlatformName();
  const foreign = [...new Set(platforms)].filter((p) => p !== host);
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

  /** True when `name` is stored without one of the foreign platforms asked for. */
  function lacksForeign(name) {
    if (foreign.length === 0) return false;
    const manifests = present.has(name) ? (storedManifests(root, name) ?? []) : [];
    return foreign.some((p) => !manifests.some((m) => samePlatform(m.platform, platformObject(p))));
  }

  async function bootstrapMissing() {
    for (const base of [...BASES].reverse()) {
      if (!want.has(base.name)) continue;
      const parent = parentOf(base);
      if (parent && (!present.has(base.name) || lacksForeign(base.name) || force)) want.add(parent.name);
    }
    for (const base of BASES) {
      if (!want.has(base.name)) continue;
      const forced = force && (!names || names.length === 0 || names.includes(base.name));
      if (present.has(base.name) && !forced) {
        done.push({ name: base.name, action: 'present', ms: 0 });
      } else {
        const start = Date.now();
        log(`bootstrapping ${base.name}…`);
        if (base.dir === null) await bootstrapDebian(root, log, mirror, progress);
        else
          await buildBase(root, base, {
            log,
            progress,
            secrets: inputs.secrets,
            buildArgs: inputs.buildArgs,
          });
        done.push({ name: base.name, action: 'built', ms: Date.now() - start });
        present = storedNames(root);
      }
      for (const platform of foreign) {
        const has = (storedManifests(root, base.name) ?? []).some((m) =>
          samePlatform(m.platform, platformObject(platform)),
        );
        if (has && !forced) {
          done.push({ name: base.name, platform, action: 'present', ms: 0 });
          continue;
        }
        requireRunnable(platform);
        const start = Date.now();
        const tag = `strata-bootstrap-${platform.replaceAll('/', '-')}/${base.name}`;
        log(`bootstrapping ${base.name} for ${platform} (under QEMU)…`);
        if (base.dir === null) await bootstrapDebian(root, log, mirror, progress, { platform, name: tag });
        else
          await buildBase(root, base, {
            log,
            progress,
            secrets: inputs.secrets,
            buildArgs: inputs.buildArgs,
            platform,
            tag,
          });
        mergeIntoIndex(root, base.name, tag);
        done.push({ name: base.name, platform, action: 'built', ms: Date.now() - start });
        present = storedNames(root);
      }
    }
  }
}

/**
 * The platforms to bootstrap: `STRATA_BOOTSTRAP_PLATFORMS` (comma-separated, e.g.
 * `linux/amd64,linux/arm64`), else the host's only — so the default bootstrap and `npm run demo`
 * do no more than before.
 */
export function bootstrapPlatforms(value = process.env.STRATA_BOOTSTRAP_PLATFORMS) {
  const list = (value ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => (p.includes('/') ? p : `linux/${p}`))
    .map((p) => (p === 'linux/arm' ? 'linux/arm/v7' : p));
  return list.length > 0 ? list : [hostPlatformName()];
}

async function main() {
  const args = process.argv.slice(2);
  let root;
  let mirror;
  let force = false;
  let platforms;
  const names = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--root') root = args[++i];
    else if (a === '--mirror') mirror = args[++i];
    else if (a === '--force') force = true;
    else if (a === '--platform') platforms = bootstrapPlatforms(args[++i]);
    else if (a === '-h' || a === '--help') {
      console.log(
        'usage: node scripts/bootstrap.mjs [--root DIR] [--force] [--mirror URL] [--platform linux/amd64,linux/arm64] [NAME…]',
      );
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
    ...(platforms ? { platforms } : {}),
    progress: (line) => process.stderr.write(`  ${line}\n`),
  });
  for (const d of done)
    console.log(
      `${`${d.name}${d.platform ? ` ${d.platform}` : ''}`.padEnd(44)} ${d.action === 'built' ? `built in ${(d.ms / 1000).toFixed(1)} s` : 'already present'}`,
    );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error) => {
    console.error(`bootstrap: ${error.message}`);
    process.exit(1);
  });
}
