import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { AbortedError, InvalidInputError, isErrnoException, resolveInRoot } from '../util/index.ts';
import { containerNofile } from './container-nofile.ts';
import { DEFAULT_HOSTNAME, hostsFileContent, resolvConfContent } from './etc-files.ts';
import type { Container, Executor, RunResult } from './executor.ts';
import { findRuntime } from './find-runtime.ts';
import { hostCapabilities } from './host-capabilities.ts';
import { createMountStubs, type MountStubs } from './mount-stubs.ts';
import { execCollect, OciRuntime, type RuntimeInfo } from './oci-runtime.ts';
import { resolveUser } from './resolve-user.ts';
import { runBundle } from './run-bundle.ts';
import { ContainerStartError } from './runtime-errors.ts';
import { generateSpec, withUserNamespace } from './runtime-spec.ts';
import { type PreparedMounts, prepareStepMounts } from './step-mounts.ts';
import { type StepNetwork, sweepStepNetworks } from './step-network.ts';
import { StepNetworkPool } from './step-network-pool.ts';

/** Where an executor keeps its state, and which runtime to use. */
export interface OpenExecutorOptions {
  /**
   * A directory of strata's own (e.g. `$STRATA_ROOT/runtime`): the runtime's `--root`, the per-run
   * bundles and the probe cache live here. Created when missing.
   */
  readonly stateDir: string;
  /** `runc`, `crun` or a path (the CLI takes it from `STRATA_RUNTIME`); without it runc, then crun. */
  readonly runtime?: string;
}

/**
 * Finds a working OCI runtime (probing it once, see {@link findRuntime}) and returns an executor
 * that runs build steps with it.
 */
export async function openExecutor(options: OpenExecutorOptions, signal?: AbortSignal): Promise<OciExecutor> {
  signal?.throwIfAborted();
  await mkdir(options.stateDir, { recursive: true, mode: 0o700 });
  await chmod(options.stateDir, 0o700); // `strata info` may have made it with the umask's mode
  const info = await findRuntime(options);
  const executor = new OciExecutor(info, options.stateDir);
  await executor.sweep();
  return executor;
}

/**
 * The {@link Executor} over runc or crun. Each run gets a bundle directory under the state
 * directory holding config.json, the generated /etc/hosts and /etc/resolv.conf, the secrets tmpfs
 * and the runtime's log; the container is run in the foreground (`run --bundle`), and the bundle,
 * the runtime's state, the secrets and the mount-point stubs in the rootfs are removed afterwards,
 * whether the step succeeded, failed or was aborted.
 */
export class OciExecutor implements Executor {
  /** The runtime in use and how it is invoked. */
  readonly runtime: RuntimeInfo;
  readonly #oci: OciRuntime;
  readonly #bundles: string;
  readonly #networks = new StepNetworkPool();
  #nofile: Promise<number> | undefined;

  constructor(runtime: RuntimeInfo, stateDir: string) {
    this.runtime = runtime;
    this.#oci = new OciRuntime(runtime, join(stateDir, runtime.flavour));
    this.#bundles = join(stateDir, 'bundles');
  }

  /** The runtime's `--root`, where it keeps container state (for diagnostics and tests). */
  get runtimeRoot(): string {
    return this.#oci.root;
  }

  /** Runs the container's process; see {@link Executor.run}. */
  async run(container: Container, signal?: AbortSignal): Promise<RunResult> {
    throwIfAborted(signal);
    const { process: spec } = container;
    if (spec.args.length === 0) throw new InvalidInputError('cannot run a step with an empty command');
    const cwd = spec.cwd === '' ? '/' : spec.cwd;
    if (!cwd.startsWith('/'))
      throw new InvalidInputError(`working directory ${JSON.stringify(cwd)} is not absolute`);
    const rootfs = posix.resolve(container.rootfs);
    const rootInfo = await stat(rootfs).catch((error: unknown) => {
      throw new InvalidInputError(`rootfs ${rootfs} is not accessible`, { cause: error });
    });
    if (!rootInfo.isDirectory()) throw new InvalidInputError(`rootfs ${rootfs} is not a directory`);

    const id = `strata-${randomBytes(12).toString('hex')}`;
    const bundle = join(this.#bundles, id);
    // The owner's alone: config.json holds the step's environment, `env=` secrets included.
    await mkdir(bundle, { recursive: true, mode: 0o700 });
    await writeFile(join(bundle, OWNER_FILE), ownerStamp(process.pid) ?? `${process.pid}`);
    const resources: RunResources = {};
    let outcome: { ok: true; value: RunResult } | { ok: false; error: unknown };
    try {
      outcome = {
        ok: true,
        value: await this.#runInBundle(container, { rootfs, cwd, id, bundle }, resources, signal),
      };
    } catch (error) {
      outcome = { ok: false, error };
    }
    // Cleanup must all happen, even when one part fails. The run's own error wins over a cleanup
    // error; a cleanup error after a good run is still an error (something may be left behind).
    const cleanupErrors: unknown[] = [];
    // The network goes down in the background (the step's processes are gone; nothing of its
    // result depends on slirp4netns's exit); close() waits for it.
    resources.network?.then(
      (network) => this.#networks.release(network),
      () => undefined, // it failed to come up and removed what it had made; the run reported it
    );
    const cleanups = [
      () => resources.stubs?.remove(),
      () => resources.mounts?.release(),
      () => rm(bundle, { recursive: true, force: true }),
    ];
    for (const cleanup of cleanups) {
      try {
        await cleanup();
      } catch (error) {
        cleanupErrors.push(error);
      }
    }
    if (!outcome.ok) throw outcome.error;
    if (cleanupErrors.length > 0) throw cleanupErrors[0];
    return outcome.value;
  }

  async #runInBundle(
    container: Container,
    where: { rootfs: string; cwd: string; id: string; bundle: string },
    resources: RunResources,
    signal: AbortSignal | undefined,
  ): Promise<RunResult> {
    const { rootfs, cwd, id, bundle } = where;
    const spec = container.process;
    // The step's network (made ahead while the previous step ran, or coming up while the bundle is
    // prepared).
    if (spec.network === 'sandbox') {
      const network = this.#networks.take();
      network.catch(() => undefined); // awaited below, where its failure is the run's error
      resources.network = network;
    }
    const user = await resolveUser(rootfs, spec.user);
    const hostname = spec.hostname ?? DEFAULT_HOSTNAME;
    const hostsPath = join(bundle, 'hosts');
    const resolvConfPath = join(bundle, 'resolv.conf');
    await writeFile(hostsPath, hostsFileContent(hostname, spec.extraHosts ?? []), { mode: 0o644 });
    await writeFile(resolvConfPath, await resolvConfContent(spec.network), { mode: 0o644 });
    const mounts = await prepareStepMounts(spec.mounts ?? [], bundle);
    resources.mounts = mounts;
    const stubs = await createMountStubs(rootfs, [
      { path: '/etc/resolv.conf', kind: 'file' },
      { path: '/etc/hosts', kind: 'file' },
      ...mounts.points,
    ]);
    resources.stubs = stubs;
    await ensureWorkingDirectory(rootfs, cwd, user.uid, user.gid);
    const network = await resources.network;
    const config = generateSpec({
      rootfs,
      args: spec.args,
      env: spec.env,
      cwd,
      user,
      hostname,
      network: spec.network,
      ...(spec.terminal ? { terminal: true } : {}),
      ...(network ? { networkNamespace: network.path } : {}),
      hostsPath,
      resolvConfPath,
      mounts: mounts.mounts,
      nofile: await this.#maxNofile(),
      ...withUserNamespace(),
      ...(spec.ulimits && spec.ulimits.length > 0 ? { ulimits: spec.ulimits } : {}),
      ...(spec.security === 'insecure'
        ? { security: 'insecure' as const, privilegedCapabilities: await hostCapabilities() }
        : {}),
    });
    await writeFile(join(bundle, 'config.json'), JSON.stringify(config), { mode: 0o600 });
    throwIfAborted(signal);
    const running = runBundle(
      this.#oci,
      {
        bundle,
        id,
        logPath: join(bundle, 'runtime.log'),
        ...(container.stdinFd !== undefined ? { stdinFd: container.stdinFd } : {}),
        ...(spec.terminal ? { terminal: true } : {}),
        stdout: container.stdout,
        stderr: container.stderr,
      },
      signal,
    );
    // The runtime has been started: the next sandboxed step's network comes up while this runs.
    if (network) this.#networks.prepareNext();
    const outcome = await running;
    if (outcome.aborted) throw new AbortedError('step aborted', { cause: signal?.reason });
    if (outcome.runtimeError !== undefined) {
      throw new ContainerStartError(
        `${this.runtime.flavour} could not run ${JSON.stringify(spec.args[0])}: ${outcome.runtimeError}`,
        outcome.exitCode,
      );
    }
    return { exitCode: outcome.exitCode, mountStubs: stubs.paths };
  }

  /**
   * Cleans up after strata processes that died mid-run (SIGKILL, power loss) on this state
   * directory: each bundle whose owner process is gone has its container killed and deleted, its
   * secrets tmpfs unmounted and the bundle removed. Bundles of live processes are left alone, so
   * several strata processes can share a state directory. Called by {@link openExecutor}.
   */
  async sweep(): Promise<string[]> {
    const swept: string[] = [];
    let ids: string[];
    try {
      ids = await readdir(this.#bundles);
    } catch (error) {
      if (isErrnoException(error, 'ENOENT')) return swept;
      throw error;
    }
    for (const id of ids) {
      const bundle = join(this.#bundles, id);
      const owner = await readFile(join(bundle, OWNER_FILE), 'utf8').catch(() => undefined);
      if (owner === undefined) {
        // A bundle is stamped right after mkdir; an unstamped one is either being created this
        // instant or the leftover of a crash in between. Give the former a minute.
        // Gone meanwhile: another strata process sharing this state directory swept it first.
        const info = await lstat(bundle).catch((error: unknown) => {
          if (isErrnoException(error, 'ENOENT')) return undefined;
          throw error;
        });
        if (info === undefined || Date.now() - info.mtimeMs < 60_000) continue;
      } else if (isOwnerAlive(owner)) {
        continue;
      }
      await this.#oci.delete(id);
      const secrets = join(bundle, 'secrets');
      if ((await readFile('/proc/self/mountinfo', 'utf8')).includes(` ${secrets} `)) {
        await execCollect('umount', [secrets]);
      }
      await rm(bundle, { recursive: true, force: true });
      swept.push(id);
    }
    // A dead run's network namespace is named after its bundle: remove those whose bundle is gone.
    const live = new Set(ids.filter((id) => !swept.includes(id)));
    await sweepStepNetworks((name) => live.has(name));
    return swept;
  }

  /**
   * Releases what the executor keeps between runs (the network made ahead for the next sandbox
   * step) and waits until the networks of finished runs are gone. Call it when the build is done,
   * failed or was interrupted; a run after it starts afresh.
   */
  close(): Promise<void> {
    return this.#networks.close();
  }

  /** RLIMIT_NOFILE for containers; see {@link containerNofile}. */
  #maxNofile(): Promise<number> {
    this.#nofile ??= containerNofile();
    return this.#nofile;
  }
}

/**
 * Creates a missing working directory, 0755 and owned by the step's user, each missing parent
 * included (BuildKit's runc executor: `MkdirAllAndChown(cwd, 0o755, uid, gid)`). It stays in the
 * layer, as in BuildKit.
 */
export async function ensureWorkingDirectory(
  rootfs: string,
  cwd: string,
  uid: number,
  gid: number,
): Promise<void> {
  const parts = cwd.split('/').filter((p) => p !== '');
  let current = '/';
  for (const part of parts) {
    current = posix.join(current, part);
    const real = resolveInRoot(rootfs, current);
    try {
      await mkdir(real, { mode: 0o755 });
    } catch (error) {
      if (isErrnoException(error, 'EEXIST')) continue;
      throw error;
    }
    await chown(real, uid, gid);
  }
}

/** What a run holds that its cleanup releases. */
interface RunResources {
  mounts?: PreparedMounts;
  stubs?: MountStubs;
  network?: Promise<StepNetwork>;
}

/** The file in a bundle naming the strata process that runs it: "<pid> <start time>". */
const OWNER_FILE = 'owner';

/** "<pid> <start time>" for a live process (start time from /proc/<pid>/stat, so pid reuse is seen). */
function ownerStamp(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; the fields after it are plain.
    const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return startTime === undefined ? undefined : `${pid} ${startTime}`;
  } catch {
    return undefined; // no such process
  }
}

function isOwnerAlive(owner: string): boolean {
  const pid = Number.parseInt(owner, 10);
  if (!(pid > 0)) return false;
  const now = ownerStamp(pid);
  return now !== undefined && (owner.trim() === `${pid}` || now === owner.trim());
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError('step aborted', { cause: signal.reason });
}
