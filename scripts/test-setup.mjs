#!/usr/bin/env node
// What strata's tests and demo need from the machine, in one place: the Debian packages (each
// with the file that shows it is installed, and why it is needed) and a running Docker daemon.
//
// `npm test` (scripts/test.mjs) and `npm run demo` (scripts/demo.mjs) call this before they start,
// so the README's two commands work on a fresh Debian machine that has only Node, npm, g++, make
// and python3: as root, missing packages are installed with apt-get and dockerd is started; as
// another user, it says exactly what is missing and how to install it, and fails.
// When everything is there it costs a few file checks and one connection to docker's socket.
//
// Usage: node scripts/test-setup.mjs [--demo] [--check]
//   --demo   only what `npm run demo` needs (no docker, no test oracles)
//   --check  report what is missing and exit 1, install nothing
// STRATA_TEST_SETUP=0 skips the set-up in `npm test` (for a machine set up another way).
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * The Debian packages the tests (`test`) and the demo (`demo`) need. `command` is looked up on
 * PATH (and in the sbin directories, which a non-root PATH may lack), `path` must exist.
 */
export const PACKAGES = [
  {
    name: 'ca-certificates',
    path: '/etc/ssl/certs/ca-certificates.crt',
    for: ['test', 'demo'],
    why: 'TLS to registries and Debian mirrors over https',
  },
  { name: 'git', command: 'git', for: ['test'], why: 'git build contexts' },
  { name: 'tar', command: 'tar', for: ['test'], why: 'GNU tar, an oracle for layer tarballs' },
  { name: 'gzip', command: 'gzip', for: ['test'], why: 'gzip, an oracle for compressed layers' },
  { name: 'xz-utils', command: 'xz', for: ['test'], why: 'xz-compressed ADD sources' },
  { name: 'bzip2', command: 'bzip2', for: ['test'], why: 'bzip2-compressed ADD sources' },
  {
    name: 'zstd',
    command: 'zstd',
    for: ['test', 'demo'],
    why: 'zstd layers: an oracle, and the demo sizes them',
  },
  { name: 'pigz', command: 'pigz', for: ['test'], why: 'a benchmark reference for gzip' },
  { name: 'openssl', command: 'openssl', for: ['test'], why: 'test certificates for TLS registries' },
  {
    name: 'iproute2',
    command: 'ip',
    for: ['test', 'demo'],
    why: 'ip netns: the network namespace of each RUN step',
  },
  { name: 'procps', command: 'ps', for: ['test'], why: 'ps/pkill in leftover checks' },
  {
    name: 'jq',
    command: 'jq',
    for: ['test'],
    why: 'the CI-step test reads the metadata file with jq, as CI scripts do',
  },
  {
    name: 'g++',
    command: 'g++',
    for: ['test', 'demo'],
    why: "node-gyp, which `npm ci` runs for strata's addon (native/) and zstd-napi",
  },
  { name: 'make', command: 'make', for: ['test', 'demo'], why: 'node-gyp' },
  { name: 'python3', command: 'python3', for: ['test', 'demo'], why: 'node-gyp' },
  {
    name: 'skopeo',
    command: 'skopeo',
    for: ['test'],
    why: 'interop oracle for registries and image layouts',
  },
  {
    name: 'docker-registry',
    path: '/usr/bin/docker-registry',
    for: ['test'],
    why: 'CNCF Distribution, the registry the registry tests start on 127.0.0.1',
  },
  // runc, not crun, runs RUN steps by default: Debian's crun 1.8 refuses cgroup v1 "hybrid" hosts.
  { name: 'runc', command: 'runc', for: ['test', 'demo'], why: 'the OCI runtime RUN steps use' },
  { name: 'crun', command: 'crun', for: ['test'], why: 'the second OCI runtime the runtime tests cover' },
  // The static build: tests and the demo copy /bin/busybox into images that have no libc.
  {
    name: 'busybox-static',
    path: '/bin/busybox',
    dpkg: 'busybox-static',
    for: ['test', 'demo'],
    why: 'tiny base images',
  },
  {
    name: 'qemu-user-static',
    path: '/usr/share/binfmts/qemu-aarch64',
    for: ['test'],
    why: 'QEMU emulators: RUN steps of foreign platforms (strata binfmt --install)',
  },
  {
    name: 'apache2-utils',
    command: 'htpasswd',
    for: ['test'],
    why: 'htpasswd for registries with basic auth',
  },
  {
    name: 'mmdebstrap',
    command: 'mmdebstrap',
    for: ['test', 'demo'],
    why: 'Debian base images for the examples (no Docker Hub needed)',
  },
  { name: 'uidmap', command: 'newuidmap', for: ['test'], why: 'newuidmap/newgidmap for user namespaces' },
  {
    name: 'slirp4netns',
    command: 'slirp4netns',
    for: ['test', 'demo'],
    why: "outbound network for each RUN step's namespace",
  },
  // /usr/bin/docker, not just any docker: the 20.10 client that talks to BuildKit (a newer client
  // elsewhere on PATH may have no buildx and refuse DOCKER_BUILDKIT=1).
  {
    name: 'docker.io',
    command: 'dockerd',
    path: '/usr/bin/docker',
    for: ['test'],
    why: 'docker and BuildKit as oracles (docker load/run, DOCKER_BUILDKIT=1 builds)',
  },
  {
    name: 'chromium',
    path: '/usr/bin/chromium',
    for: ['test'],
    why: 'the HTML report test (driven by playwright-core)',
  },
  {
    name: 'podman',
    command: 'podman',
    for: ['test'],
    why: '`podman kube play`, the stand-in cluster for deploy/kubernetes/',
  },
  { name: 'catatonit', command: 'catatonit', for: ['test'], why: "the pause process of podman's pods" },
  {
    name: 'libcap2-bin',
    command: 'getcap',
    for: ['test'],
    why: 'getcap, an oracle for file capabilities in xattrs',
  },
];

/** How long to wait for a dockerd we started to answer (STRATA_DOCKERD_TIMEOUT, seconds). */
const DOCKERD_TIMEOUT_MS = Number(process.env.STRATA_DOCKERD_TIMEOUT ?? 90) * 1000;

/** Where the dockerd we start writes its log. */
export const DOCKERD_LOG = join(tmpdir(), 'strata-dockerd.log');

const SEARCH_DIRS = [
  ...(process.env.PATH ?? '').split(delimiter).filter(Boolean),
  '/usr/local/sbin',
  '/usr/sbin',
  '/sbin',
];

function onPath(command) {
  for (const dir of SEARCH_DIRS) {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** Whether a package's files are there (file checks only: no process is started). */
export function installed(pkg) {
  if (pkg.command && !onPath(pkg.command)) return false;
  if (pkg.path && !existsSync(pkg.path)) return false;
  // On Debian, also the package itself (busybox's dynamic build has the same /bin/busybox).
  if (pkg.dpkg && existsSync('/var/lib/dpkg/info'))
    return (
      existsSync(`/var/lib/dpkg/info/${pkg.dpkg}.list`) ||
      existsSync(`/var/lib/dpkg/info/${pkg.dpkg}:${dpkgArch()}.list`)
    );
  return true;
}

function dpkgArch() {
  return (
    { x64: 'amd64', arm64: 'arm64', arm: 'armhf', ppc64: 'ppc64el', s390x: 's390x' }[process.arch] ??
    process.arch
  );
}

/** The packages `purpose` needs that are missing. */
export function missingPackages(purpose = 'test') {
  return PACKAGES.filter((p) => p.for.includes(purpose) && !installed(p));
}

/** The unix socket the docker client would use (DOCKER_HOST when it names one). */
export function dockerSocket(env = process.env) {
  const host = env.DOCKER_HOST;
  if (!host) return '/var/run/docker.sock';
  return host.startsWith('unix://') ? host.slice('unix://'.length) : undefined;
}

/**
 * Whether a Docker daemon answers `GET /_ping` on `socket` within `timeoutMs` — what `docker info`
 * would tell, without starting a client (about 100 ms) on every `npm test`.
 */
export function dockerAnswers(socket = dockerSocket(), timeoutMs = 2000) {
  if (!socket || !existsSync(socket)) return Promise.resolve(false);
  return new Promise((resolvePromise) => {
    const conn = connect(socket);
    let reply = '';
    const done = (ok) => {
      clearTimeout(timer);
      conn.destroy();
      resolvePromise(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    conn.on('connect', () => conn.write('GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n'));
    conn.on('data', (d) => {
      reply += d;
      if (reply.includes('\r\n\r\n')) done(/^HTTP\/1\.[01] 200 /.test(reply));
    });
    conn.on('error', () => done(false)); // ECONNREFUSED: a socket file left by a daemon that died
    conn.on('end', () => done(/^HTTP\/1\.[01] 200 /.test(reply)));
  });
}

/** The command lines that install `packages` (for a message to a user who is not root). */
export function installHint(packages) {
  const names = packages.map((p) => p.name).join(' ');
  return `sudo apt-get update && sudo apt-get install -y --no-install-recommends ${names}`;
}

function describe(packages) {
  return packages.map((p) => `  ${p.name.padEnd(16)} ${p.why}`).join('\n');
}

/** Installs `packages` with apt-get (as root), updating the package lists first. */
function aptInstall(packages, log) {
  const names = packages.map((p) => p.name);
  log(`installing ${names.join(' ')} (apt-get update, apt-get install)…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Another apt (unattended-upgrades, a colleague) may hold the lock for a while: wait, do not fail.
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  let r = spawnSync('apt-get', [...lock, 'update', '-qq'], { stdio: 'inherit', env });
  if (r.status !== 0) throw new SetupError(`apt-get update failed (exit ${r.status ?? r.signal})`);
  r = spawnSync('apt-get', [...lock, 'install', '-y', '-qq', '--no-install-recommends', ...names], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env,
  });
  if (r.status !== 0)
    throw new SetupError(`apt-get install ${names.join(' ')} failed (exit ${r.status ?? r.signal})`);
  const still = packages.filter((p) => !installed(p));
  if (still.length > 0)
    throw new SetupError(
      `apt-get installed ${names.join(' ')} but these are still missing:\n${describe(still)}`,
    );
}

/** A set-up step that failed; its message says what to do. */
export class SetupError extends Error {}

/** Whether /var/run/docker.pid names a live process other than `ours`. */
function otherDockerdAlive(ours) {
  let pid;
  try {
    pid = Number(readFileSync('/var/run/docker.pid', 'utf8').trim());
  } catch {
    return false; // no pid file: no other daemon
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === ours) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false; // a pid file left by a daemon that died
  }
}

/** Starts dockerd in the background (it outlives this process) and waits until it answers. */
async function startDockerd(log) {
  log(`starting dockerd (log: ${DOCKERD_LOG})…`);
  const fd = openSync(DOCKERD_LOG, 'a');
  const child = spawn('dockerd', [], { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited;
  child.on('exit', (code, signal) => {
    exited = code ?? signal;
  });
  child.on('error', (error) => {
    exited = error.message;
  });
  child.unref();
  const started = Date.now();
  while (Date.now() - started < DOCKERD_TIMEOUT_MS) {
    // Ours exited: fail at once, unless another dockerd (another `npm test` started it a moment
    // earlier, and ours found its pid file) is still coming up.
    if (exited !== undefined && !otherDockerdAlive(child.pid)) break;
    if (await dockerAnswers()) {
      log(`dockerd is up (pid ${child.pid}, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const tail = existsSync(DOCKERD_LOG)
    ? readFileSync(DOCKERD_LOG, 'utf8').trim().split('\n').slice(-15).join('\n')
    : '';
  throw new SetupError(
    `${exited !== undefined ? `dockerd exited (${exited})` : `dockerd did not answer on ${dockerSocket()} within ${DOCKERD_TIMEOUT_MS / 1000} s`}; the end of ${DOCKERD_LOG}:\n${tail}`,
  );
}

/**
 * Makes the machine ready for `purpose` ('test' or 'demo'): installs missing packages and, for
 * the tests, starts dockerd. Throws a {@link SetupError} that says what to do when it cannot.
 * With `check`, only reports.
 */
export async function setUp({
  purpose = 'test',
  log = (text) => console.log(`setup: ${text}`),
  check = false,
} = {}) {
  const missing = missingPackages(purpose);
  const root = process.getuid?.() === 0;
  if (missing.length > 0) {
    const canInstall = root && !check && onPath('apt-get');
    if (!canInstall) {
      const why = check ? '' : !root ? ' (not root, so not installing them)' : ' (no apt-get here)';
      throw new SetupError(
        `missing Debian packages${why}:\n${describe(missing)}\ninstall them with:\n  ${installHint(missing)}` +
          (purpose === 'test' ? '\nor run `npm test` as root, which installs them' : ''),
      );
    }
    aptInstall(missing, log);
  }
  if (purpose !== 'test') return;
  const socket = dockerSocket();
  if (await dockerAnswers(socket)) return;
  if (check || !root || socket !== '/var/run/docker.sock') {
    throw new SetupError(
      `no Docker daemon answers on ${socket ?? process.env.DOCKER_HOST} (the tests use docker and BuildKit as oracles): ` +
        (socket === '/var/run/docker.sock'
          ? 'start it as root (`sudo dockerd &`, or `sudo service docker start`)'
          : 'start the daemon DOCKER_HOST names'),
    );
  }
  await startDockerd(log);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  setUp({ purpose: args.includes('--demo') ? 'demo' : 'test', check: args.includes('--check') }).then(
    () => console.log('setup: everything the tests need is here'),
    (error) => {
      console.error(`setup: ${error.message}`);
      process.exit(1);
    },
  );
}
