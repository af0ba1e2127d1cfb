import { closeSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { isErrnoException, MNT_DETACH, nativeCalls, StrataError } from '../util/index.ts';
import { execCollect, findExecutable } from './oci-runtime.ts';
import { type SlirpProcess, startSlirp } from './slirp-process.ts';

/**
 * A step's own network namespace with outbound access through slirp4netns (BuildKit's default
 * "sandbox" network, which BuildKit makes with a CNI bridge or, rootless, with slirp4netns too).
 * slirp4netns gives the namespace `tap0` (10.0.2.100/24, gateway 10.0.2.2, DNS 10.0.2.3) and
 * NATs its connections to sockets of the host's own; `--disable-host-loopback` keeps 10.0.2.2
 * from reaching the host's 127.0.0.1, so loopback services of the host are out of reach, and the
 * step's packets never appear on any interface of the host.
 *
 * The namespace itself is made in-process by strata's addon (`unshare(CLONE_NEWNET)` on a thread
 * of its own, `lo` brought up) and held by an open file descriptor that runc joins through
 * `/proc/<strata's pid>/fd/<n>`: no process start, no mount, and nothing left when strata dies.
 * Without the addon it is made with `ip netns add` (a bind mount under /run/netns).
 */
export interface StepNetwork {
  /** The namespace file to put in the spec's `linux.namespaces` (`{ type: 'network', path }`). */
  readonly path: string;
  /**
   * False once its slirp4netns has exited (and been reaped): the namespace no longer reaches out.
   * A network made ahead of need may die before a step takes it.
   */
  isUp(): boolean;
  /**
   * Stops slirp4netns (by closing its exit fd) and lets go of the namespace; resolves once
   * slirp4netns has exited and the namespace is gone. Idempotent.
   */
  release(): Promise<void>;
}

/** The private network of a step could not be set up. */
export class NetworkSetupError extends StrataError {
  constructor(message: string, options: { cause?: unknown; hint?: string } = {}) {
    super('NETWORK_SETUP_FAILED', message, options);
  }
}

/** The prefix of every namespace name strata makes, so a sweep finds only its own. */
export const NETNS_PREFIX = 'strata-';

/** slirp4netns's fds: 3 is the ready fd, 4 the exit fd, 5 the namespace (when strata holds it open). */
const SLIRP_STDIO_NETNS_FD = 5;

/** How {@link openStepNetwork} makes the network. */
export interface StepNetworkOptions {
  /** The slirp4netns program (default: the one on PATH or in the sbin directories). */
  readonly slirp4netns?: string;
}

/** The slirp4netns that steps' networks use (absolute); rejects, naming its package, when it is missing. */
export function slirp4netnsPath(): Promise<string> {
  return tool('slirp4netns', 'slirp4netns');
}

/** How a step's namespace is made here: by strata's addon, or by `ip netns add` without it. */
export function namespaceMaker(): 'addon' | 'ip netns' {
  return nativeCalls()?.netNamespace ? 'addon' : 'ip netns';
}

/** A namespace for a step's network: where runc and slirp4netns find it, and how it is let go. */
interface Namespace {
  /** For runc (and everything else outside slirp4netns). */
  readonly path: string;
  /** For slirp4netns, whose fd 5 is `fd` when there is one. */
  readonly slirpPath: string;
  readonly fd?: number;
  remove(): Promise<void>;
}

/**
 * Makes a network namespace for one step and starts slirp4netns on it; resolves once `tap0` is
 * configured. `name` (under {@link NETNS_PREFIX}, see {@link sweepStepNetworks}) names the
 * namespace only where `ip netns add` makes it.
 */
export async function openStepNetwork(name: string, options: StepNetworkOptions = {}): Promise<StepNetwork> {
  const namespace = await createNamespace(name);
  let slirp: SlirpProcess | undefined;
  try {
    slirp = await startSlirp(
      options.slirp4netns ?? (await slirp4netnsPath()),
      [
        '--configure',
        '--mtu=65520',
        '--disable-host-loopback',
        '--ready-fd=3',
        '--exit-fd=4',
        '--netns-type=path',
        namespace.slirpPath,
        'tap0',
      ],
      namespace.fd,
    );
    await slirp.ready;
  } catch (error) {
    await slirp?.stop();
    await namespace.remove();
    throw new NetworkSetupError('cannot start slirp4netns for the step', {
      cause: error,
      hint: 'apt-get install slirp4netns, or build with --network host --allow network.host',
    });
  }
  const running = slirp;
  let up = true;
  running.exited.then(() => {
    up = false;
  });
  let released: Promise<void> | undefined;
  return {
    path: namespace.path,
    isUp: () => up,
    release() {
      released ??= running.stop().then(() => namespace.remove());
      return released;
    },
  };
}

/** A new network namespace: by the addon where it is built, else by `ip netns add`. */
async function createNamespace(name: string): Promise<Namespace> {
  const native = nativeCalls();
  if (native?.netNamespace) {
    let fd: number;
    try {
      fd = await native.netNamespace();
    } catch (error) {
      throw new NetworkSetupError('cannot create a network namespace for the step', { cause: error });
    }
    let closed = false;
    return {
      path: `/proc/${process.pid}/fd/${fd}`,
      slirpPath: `/proc/self/fd/${SLIRP_STDIO_NETNS_FD}`,
      fd,
      async remove() {
        // The namespace goes when its last reference does; slirp4netns has exited, the step's
        // processes are gone, and this fd is the last.
        if (!closed) closeSync(fd);
        closed = true;
      },
    };
  }
  const path = `/run/netns/${name}`;
  const added = await execCollect(await tool('ip', 'iproute2'), ['netns', 'add', name]);
  if (added.exitCode !== 0) {
    throw new NetworkSetupError(`cannot create network namespace ${name}: ${added.stderr.trim()}`, {
      hint: 'apt-get install iproute2',
    });
  }
  return { path, slirpPath: path, remove: () => deleteNamespace(name) };
}

/**
 * Removes the namespaces `ip netns` lists under strata's prefix whose owner is gone. `ip netns`
 * lists the namespaces of every strata process on the machine, whatever its store, so each is
 * judged by its own owner: a `strata-net-<pid>-…` one (this version's, made without the addon)
 * by whether that process runs; one named after a run's bundle (older versions) by `isLive` (the
 * bundles of this store) and, as it may be another store's, by whether a slirp4netns still serves it.
 */
export async function sweepStepNetworks(isLive: (name: string) => boolean): Promise<string[]> {
  const ip = await tool('ip', 'iproute2').catch(() => undefined);
  if (ip === undefined) return []; // no iproute2: no namespace of strata's can exist
  const listed = await execCollect(ip, ['netns', 'list']);
  if (listed.exitCode !== 0) return [];
  const candidates = listed.stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(NETNS_PREFIX) && !isLive(n));
  const served = candidates.some((n) => !OWNED_NAME.test(n)) ? await servedNamespaces() : new Set<string>();
  const names = candidates.filter((n) => {
    const pid = OWNED_NAME.exec(n)?.[1];
    return pid === undefined ? !served.has(n) : !isRunning(Number(pid));
  });
  for (const name of names) await deleteNamespace(name);
  return names;
}

/** A namespace name that carries its strata process's pid. */
const OWNED_NAME = /^strata-net-(\d+)-/;

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isErrnoException(error, 'EPERM'); // ESRCH: gone
  }
}

/** The /run/netns names that a running process (slirp4netns) has on its command line. */
async function servedNamespaces(): Promise<Set<string>> {
  const served = new Set<string>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => ''); // exited meanwhile
    for (const arg of cmdline.split('\0'))
      if (arg.startsWith('/run/netns/')) served.add(arg.slice('/run/netns/'.length));
  }
  return served;
}

/**
 * `ip netns delete` (of a namespace `ip netns add` made): a lazy unmount of the namespace's bind mount, then the file's removal. Done
 * with strata's addon where it is built (one process start less per step), else with `ip`.
 */
async function deleteNamespace(name: string): Promise<void> {
  const native = nativeCalls();
  if (native) {
    const path = `/run/netns/${name}`;
    try {
      native.umount2(path, MNT_DETACH);
    } catch (error) {
      // EINVAL: not a mount point (a half-made namespace); ENOENT: already gone. Both end in rm.
      if (!isErrnoException(error, 'EINVAL') && !isErrnoException(error, 'ENOENT'))
        throw new NetworkSetupError(`cannot remove network namespace ${name}`, { cause: error });
    }
    await rm(path, { force: true });
    return;
  }
  const deleted = await execCollect(await tool('ip', 'iproute2'), ['netns', 'delete', name]);
  if (deleted.exitCode !== 0 && !/No such file/.test(deleted.stderr))
    throw new NetworkSetupError(`cannot remove network namespace ${name}: ${deleted.stderr.trim()}`);
}

const tools = new Map<string, Promise<string>>();

/** Where {@link tool} looks: PATH, then the sbin directories a non-login root shell may lack. */
function toolSearchPath(): string {
  return [process.env.PATH ?? '', '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'].join(':');
}

/**
 * The absolute path of the program `name` (of Debian's package `debianPackage`) on `searchPath`;
 * rejects with a {@link NetworkSetupError} naming both when it is not there. Never the bare name:
 * strata starts it as root with posix_spawn, which would take a bare name from the current
 * directory (often a build context).
 */
export async function findTool(name: string, debianPackage: string, searchPath: string): Promise<string> {
  const file = await findExecutable(name, searchPath);
  if (file === undefined || !file.startsWith('/'))
    throw new NetworkSetupError(`${name} not found on PATH or in /usr/local/sbin, /usr/sbin, /sbin`, {
      hint: `apt-get install ${debianPackage}`,
    });
  return file;
}

/** {@link findTool} on PATH and the sbin directories, remembered once found. */
function tool(name: string, debianPackage: string): Promise<string> {
  let found = tools.get(name);
  if (found === undefined) {
    found = findTool(name, debianPackage, toolSearchPath());
    tools.set(name, found);
    found.catch(() => tools.delete(name)); // installed later: looked for again
  }
  return found;
}
