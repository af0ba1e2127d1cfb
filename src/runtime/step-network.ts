import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { isErrnoException, MNT_DETACH, nativeCalls, StrataError } from '../util/index.ts';
import { execCollect, findExecutable } from './oci-runtime.ts';

/**
 * A step's own network namespace with outbound access through slirp4netns (BuildKit's default
 * "sandbox" network, which BuildKit makes with a CNI bridge or, rootless, with slirp4netns too):
 * the namespace is made with `ip netns add` (a bind mount under /run/netns that runc joins by
 * path), and slirp4netns gives it `tap0` (10.0.2.100/24, gateway 10.0.2.2, DNS 10.0.2.3) and `lo`,
 * NATing its connections to sockets of the host's own. `--disable-host-loopback` keeps 10.0.2.2
 * from reaching the host's 127.0.0.1, so loopback services of the host are out of reach; the
 * step's packets never appear on any interface of the host.
 */
export interface StepNetwork {
  /** The namespace file to put in the spec's `linux.namespaces` (`{ type: 'network', path }`). */
  readonly path: string;
  /** Stops slirp4netns and removes the namespace. */
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

/** How long slirp4netns may take to say the interface is up. */
const READY_TIMEOUT_MS = 10_000;

/**
 * Makes the network namespace `name` (the run's id, so a crashed run's namespace is found by its
 * bundle) and starts slirp4netns on it; resolves once `tap0` is configured.
 */
export async function openStepNetwork(name: string): Promise<StepNetwork> {
  const path = `/run/netns/${name}`;
  const added = await execCollect(await tool('ip'), ['netns', 'add', name]);
  if (added.exitCode !== 0) {
    throw new NetworkSetupError(`cannot create network namespace ${name}: ${added.stderr.trim()}`, {
      hint: 'apt-get install iproute2',
    });
  }
  let slirp: ChildProcess | undefined;
  try {
    slirp = spawn(
      await tool('slirp4netns'),
      [
        '--configure',
        '--mtu=65520',
        '--disable-host-loopback',
        '--ready-fd=3',
        // fd 4 is a pipe whose other end only strata holds: if strata dies, slirp4netns exits too.
        '--exit-fd=4',
        '--netns-type=path',
        path,
        'tap0',
      ],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
    );
    await ready(slirp);
  } catch (error) {
    slirp?.kill('SIGKILL');
    await deleteNamespace(name);
    if (error instanceof NetworkSetupError) throw error;
    throw new NetworkSetupError('cannot start slirp4netns for the step', {
      cause: error,
      hint: 'apt-get install slirp4netns, or build with --network host --allow network.host',
    });
  }
  const process = slirp;
  return {
    path,
    async release() {
      if (process.exitCode === null && process.signalCode === null) {
        const exited = once(process, 'exit');
        process.kill('SIGTERM');
        await exited;
      }
      await deleteNamespace(name);
    },
  };
}

/** Removes the namespaces `ip netns` lists under strata's prefix that `keep` does not name. */
export async function sweepStepNetworks(isLive: (name: string) => boolean): Promise<string[]> {
  const listed = await execCollect(await tool('ip'), ['netns', 'list']);
  if (listed.exitCode !== 0) return []; // no iproute2: no namespace of strata's can exist
  const names = listed.stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(NETNS_PREFIX) && !isLive(n));
  for (const name of names) await deleteNamespace(name);
  return names;
}

/**
 * `ip netns delete`: a lazy unmount of the namespace's bind mount, then the file's removal. Done
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
  const deleted = await execCollect(await tool('ip'), ['netns', 'delete', name]);
  if (deleted.exitCode !== 0 && !/No such file/.test(deleted.stderr))
    throw new NetworkSetupError(`cannot remove network namespace ${name}: ${deleted.stderr.trim()}`);
}

/** Waits for slirp4netns to write to its ready fd, or fails with what it printed. */
async function ready(slirp: ChildProcess): Promise<void> {
  const readyPipe = slirp.stdio[3] as Readable;
  let stderr = '';
  slirp.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-2000);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new NetworkSetupError('slirp4netns did not come up in time')),
      READY_TIMEOUT_MS,
    );
    const done = () => {
      clearTimeout(timer);
      readyPipe.removeAllListeners('data');
      slirp.removeListener('exit', onExit);
      slirp.removeListener('error', fail);
    };
    const fail = (error: Error) => {
      done();
      reject(error);
    };
    const onExit = (code: number | null) =>
      fail(
        new NetworkSetupError(
          `slirp4netns exited (${code ?? 'signal'}) before the network was up: ${stderr.trim()}`,
        ),
      );
    readyPipe.once('data', () => {
      done();
      resolve();
    });
    slirp.once('exit', onExit);
    slirp.once('error', fail);
  });
  readyPipe.resume();
}

const tools = new Map<string, Promise<string>>();

/** A tool's path on PATH or in the sbin directories a non-login root shell may lack (else its bare name, for the error). */
function tool(name: string): Promise<string> {
  let found = tools.get(name);
  if (found === undefined) {
    const path = [process.env.PATH ?? '', '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'].join(
      ':',
    );
    found = findExecutable(name, path).then((file) => file ?? name);
    tools.set(name, found);
  }
  return found;
}
