import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { dirname, join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  AbortedError,
  InvalidInputError,
  resolveInRoot,
  StrataError,
  type StrataErrorOptions,
} from '../util/index.ts';
import { prepareChrootRootFiles } from './chroot-root-files.ts';
import { containerNofile } from './container-nofile.ts';
import { DEFAULT_HOSTNAME, hostsFileContent, resolvConfContent } from './etc-files.ts';
import type { Container, ExecMount, Executor, RunResult, Ulimit } from './executor.ts';
import { CAPABILITY_NAMES, hostCapabilities } from './host-capabilities.ts';
import { ensureWorkingDirectory } from './oci-executor.ts';
import { resolveUser } from './resolve-user.ts';
import { ContainerStartError } from './runtime-errors.ts';
import { DEFAULT_CAPABILITIES, withDefaultEnv } from './runtime-spec.ts';

/** `--isolation=chroot` cannot be used here: no helper, not root, or no CAP_SYS_CHROOT/CAP_MKNOD. */
export class ChrootUnavailableError extends StrataError {
  constructor(message: string, options: StrataErrorOptions = {}) {
    super('CHROOT_UNAVAILABLE', message, options);
  }
}

/** The helper program strata runs each chroot step through (native/strata_chroot.c). */
const HELPER = join('build', 'Release', 'strata-chroot');

/** `/proc/self/status` capability bits `--isolation=chroot` needs in strata itself. */
const NEEDED_CAPABILITIES = [
  'CAP_SYS_CHROOT',
  'CAP_MKNOD',
  'CAP_SETUID',
  'CAP_SETGID',
  'CAP_SETPCAP',
  'CAP_CHOWN',
];

/** Linux's RLIMIT_* numbers (asm-generic/resource.h; x86, arm and most architectures). */
const RLIMIT_NUMBERS: Readonly<Record<string, number>> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};

const execFileAsync = promisify(execFile);

/** How long the output pipes may stay open after the step's process exited (a daemon it left behind). */
const OUTPUT_GRACE_MS = 2_000;

/** Where the helper is: `build/Release/` at the package root, one level above dist/, two above src/runtime/. */
export function chrootHelperPath(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const root of [join(here, '..'), join(here, '..', '..')]) {
    const path = join(root, HELPER);
    if (existsSync(path)) return path;
  }
  return undefined;
}

/**
 * Why `--isolation=chroot` cannot run steps in this process, or undefined when it can: the helper
 * must be built, and strata must be root with the capabilities the helper uses (Docker's default
 * set has them all: CAP_SYS_CHROOT, CAP_MKNOD, CAP_SETUID, CAP_SETGID, CAP_SETPCAP, CAP_CHOWN).
 */
export async function chrootUnavailableReason(): Promise<string | undefined> {
  if (chrootHelperPath() === undefined)
    return `strata's chroot helper (${HELPER}) was not built: run \`node scripts/build-native.mjs\` with a C compiler`;
  if (process.geteuid?.() !== 0)
    return `chroot isolation needs root in the container (this process runs as uid ${process.geteuid?.()})`;
  const effective = new Set(await effectiveCapabilities());
  const lacking = NEEDED_CAPABILITIES.filter((cap) => !effective.has(cap));
  if (lacking.length > 0) return `chroot isolation needs ${lacking.join(', ')}, which this process lacks`;
  return undefined;
}

/** The names of this process's effective capabilities (`CapEff` of /proc/self/status). */
export async function effectiveCapabilities(): Promise<string[]> {
  const status = await readFile('/proc/self/status', 'utf8');
  const mask = BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0'}`);
  return CAPABILITY_NAMES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/** Opens the chroot executor, or fails with why it cannot be used here. */
export async function openChrootExecutor(): Promise<ChrootExecutor> {
  const reason = await chrootUnavailableReason();
  const helper = chrootHelperPath();
  if (reason !== undefined || helper === undefined)
    throw new ChrootUnavailableError(reason ?? 'no chroot helper', {
      hint: 'docs/kubernetes.md lists what each isolation mode needs',
    });
  return new ChrootExecutor(helper);
}

/**
 * The {@link Executor} of `--isolation=chroot` (buildah's name for it; kaniko's model, "the
 * container is the boundary"): each step runs with chroot(2) into its rootfs, in strata's own
 * namespaces, as the step's user with Docker's default capabilities (the bounding set is cut to
 * them), under whatever seccomp profile strata itself runs under. For containers where no namespace
 * can be made and nothing mounted (Docker's and Kubernetes' defaults without CAP_SYS_ADMIN).
 *
 * What the step sees differs from runc's container (docs/kubernetes.md, "chroot isolation"):
 * strata's network (no `--network=none`), hostname, pids and IPC; no /proc or /sys contents; /dev
 * with the standard nodes only; RUN --mount only inside /dev (heredocs, --shm-size). Environment, user, groups, working directory,
 * rlimits, output and exit status are as under runc.
 */
export class ChrootExecutor implements Executor {
  readonly #helper: string;
  #nofile: Promise<number> | undefined;

  constructor(helper: string) {
    this.#helper = helper;
  }

  async run(container: Container, signal?: AbortSignal): Promise<RunResult> {
    throwIfAborted(signal);
    const spec = container.process;
    if (spec.args.length === 0) throw new InvalidInputError('cannot run a step with an empty command');
    const cwd = spec.cwd === '' ? '/' : spec.cwd;
    if (!cwd.startsWith('/'))
      throw new InvalidInputError(`working directory ${JSON.stringify(cwd)} is not absolute`);
    if (spec.network === 'none')
      throw new InvalidInputError(
        'RUN --network=none needs a network namespace, which --isolation=chroot cannot make',
        {
          hint: 'under --isolation=chroot a step uses the network of the container strata runs in; drop --network=none or build where runc works',
        },
      );
    if (spec.terminal) throw new InvalidInputError('--isolation=chroot cannot give a step a terminal');
    if (container.stdinFd !== undefined)
      throw new InvalidInputError('--isolation=chroot steps read no input');
    const mounts = spec.mounts ?? [];
    const unsupported = mounts.filter((m) => !isUnderDev(m.target));
    if (unsupported.length > 0) {
      const kinds = [...new Set(unsupported.map((m) => `type=${m.type}`))].join(', ');
      throw new InvalidInputError(
        `RUN --mount (${kinds}) needs mounts, which --isolation=chroot cannot make`,
        {
          hint: 'without CAP_SYS_ADMIN nothing can be mounted: COPY what the step needs, or build where runc works (docs/kubernetes.md)',
        },
      );
    }
    const rootfs = posix.resolve(container.rootfs);
    const rootInfo = await stat(rootfs).catch((error: unknown) => {
      throw new InvalidInputError(`rootfs ${rootfs} is not accessible`, { cause: error });
    });
    if (!rootInfo.isDirectory()) throw new InvalidInputError(`rootfs ${rootfs} is not a directory`);

    const user = await resolveUser(rootfs, spec.user);
    const files = await prepareChrootRootFiles(rootfs, [
      {
        path: '/etc/hosts',
        content: hostsFileContent(spec.hostname ?? DEFAULT_HOSTNAME, spec.extraHosts ?? []),
      },
      // The step is in strata's own network namespace: the host's view of resolv.conf is the right one.
      { path: '/etc/resolv.conf', content: await resolvConfContent('host') },
    ]);
    let outcome: { ok: true; value: RunResult } | { ok: false; error: unknown };
    try {
      // After the /dev listing was taken: restore() removes these with the rest of the step's /dev.
      for (const mount of mounts) await makeDevMount(rootfs, mount);
      await ensureWorkingDirectory(rootfs, cwd, user.uid, user.gid);
      const keep = spec.security === 'insecure' ? await hostCapabilities() : DEFAULT_CAPABILITIES;
      const nofile = await this.#maxNofile();
      const args = [
        rootfs,
        cwd,
        `${user.uid}`,
        `${user.gid}`,
        user.additionalGids.length > 0 ? user.additionalGids.join(',') : '-',
        capabilityMask(keep),
        rlimitList(nofile, spec.ulimits ?? []),
        files.devices.length > 0 ? files.devices.join(',') : '-',
        '--',
        ...spec.args,
      ];
      outcome = {
        ok: true,
        value: await this.#spawn(args, withDefaultEnv(spec.env, user.home), container, signal),
      };
    } catch (error) {
      outcome = { ok: false, error };
    }
    try {
      await files.restore();
    } catch (error) {
      if (outcome.ok) throw error;
    }
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  async #spawn(
    args: string[],
    env: string[],
    container: Container,
    signal: AbortSignal | undefined,
  ): Promise<RunResult> {
    throwIfAborted(signal);
    const child = spawn(this.#helper, args, {
      env: Object.fromEntries(env.map((entry) => splitEnv(entry))),
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      // Its own session and process group: an abort, and the end of the step, kill the whole group.
      detached: true,
    });
    const errorChannel = collect(child.stdio[3] as Readable);
    const killGroup = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: the group is gone already.
      }
    };
    const onAbort = () => killGroup();
    signal?.addEventListener('abort', onAbort, { once: true });
    const stdoutDone = pipeOut(child.stdout as Readable, container.stdout);
    const stderrDone = pipeOut(child.stderr as Readable, container.stderr);
    try {
      const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
        (resolve, reject) => {
          child.once('error', reject);
          child.once('exit', (code, sig) => resolve({ code, signal: sig }));
        },
      );
      // No pid namespace: what the step left running in its process group dies with it, as it
      // would with runc's pid namespace (a process that made a session of its own escapes; see docs).
      killGroup();
      await Promise.race([
        Promise.all([stdoutDone, stderrDone]),
        new Promise((resolve) => setTimeout(resolve, OUTPUT_GRACE_MS).unref()),
      ]);
      if (signal?.aborted) throw new AbortedError('step aborted', { cause: signal.reason });
      const startError = (await errorChannel).trim();
      if (startError !== '') {
        throw new ContainerStartError(
          `chroot could not run ${JSON.stringify(container.process.args[0])}: ${startError}`,
          exit.code ?? 127,
        );
      }
      const exitCode = exit.code ?? 128 + signalNumber(exit.signal);
      return { exitCode, mountStubs: [] };
    } finally {
      signal?.removeEventListener('abort', onAbort);
      (child.stdout as Readable).destroy();
      (child.stderr as Readable).destroy();
    }
  }

  #maxNofile(): Promise<number> {
    this.#nofile ??= containerNofile();
    return this.#nofile;
  }
}

/** Whether a mount target lies inside /dev (not /dev itself). */
function isUnderDev(target: string): boolean {
  const clean = posix.normalize(`/${target}`);
  return clean.startsWith('/dev/') && clean.length > '/dev/'.length;
}

/**
 * Makes a mount inside /dev as plain files there: a bind source is copied, a tmpfs is an empty
 * directory, a secret a file with its mode and owner. runc's /dev is a tmpfs, so nothing under it
 * reaches the layer; under chroot, {@link prepareChrootRootFiles}' restore removes every /dev entry
 * the run added. This is how heredocs reach a step (BuildKit mounts them under /dev/pipes) and
 * `--shm-size` (a tmpfs at /dev/shm). The top-level /dev entry must be new, or it would stay.
 */
async function makeDevMount(rootfs: string, mount: ExecMount): Promise<void> {
  const target = posix.normalize(`/${mount.target}`);
  const top = target.split('/').slice(0, 3).join('/');
  if (existsSync(resolveInRoot(rootfs, top)))
    throw new InvalidInputError(
      `RUN --mount at ${target}: ${top} exists in the image, and --isolation=chroot cannot mount over it`,
    );
  const real = resolveInRoot(rootfs, target);
  await mkdir(dirname(real), { recursive: true, mode: 0o755 });
  switch (mount.type) {
    case 'bind':
    case 'cache':
      // cp -a: owners, modes and times as the source has them; symlinks copied as links.
      await execFileAsync('cp', ['-a', '--', mount.source, real]);
      return;
    case 'tmpfs':
      await mkdir(real, { mode: 0o1777 });
      return;
    case 'secret':
      await writeFile(real, mount.content, { mode: mount.mode ?? 0o400, flag: 'wx' });
      await chown(real, mount.uid ?? 0, mount.gid ?? 0);
      return;
  }
}

/** The hexadecimal capability mask the helper keeps. */
function capabilityMask(names: readonly string[]): string {
  let mask = 0n;
  for (const name of names) {
    const bit = CAPABILITY_NAMES.indexOf(name);
    if (bit >= 0) mask |= 1n << BigInt(bit);
  }
  return mask.toString(16);
}

/** RLIMIT_NOFILE as runc gets it (`nofile` unless a `--ulimit` replaces it), then every `--ulimit`. */
function rlimitList(nofile: number, ulimits: readonly Ulimit[]): string {
  const limits = [
    ...(ulimits.some((u) => u.type === 'RLIMIT_NOFILE')
      ? []
      : [{ type: 'RLIMIT_NOFILE', soft: nofile, hard: nofile }]),
    ...ulimits,
  ];
  return limits
    .map((limit) => {
      const number = RLIMIT_NUMBERS[limit.type];
      if (number === undefined) throw new InvalidInputError(`unknown resource limit ${limit.type}`);
      return `${number}=${limit.soft}:${limit.hard}`;
    })
    .join(',');
}

function splitEnv(entry: string): [string, string] {
  const eq = entry.indexOf('=');
  return eq < 0 ? [entry, ''] : [entry.slice(0, eq), entry.slice(eq + 1)];
}

function signalNumber(name: NodeJS.Signals | null): number {
  if (name === null) return 0;
  return osConstants.signals[name] ?? 0;
}

async function collect(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Copies a child's output to the caller's stream with backpressure; never ends the target. */
function pipeOut(from: Readable, to: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    from.on('data', (chunk: Buffer) => {
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    from.once('end', resolve);
    from.once('close', resolve);
    from.once('error', () => resolve());
  });
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError('step aborted', { cause: signal.reason });
}
