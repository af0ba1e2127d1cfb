import type { Writable } from 'node:stream';

/**
 * A mount a RUN step adds on top of its rootfs (`RUN --mount=…`). Targets are absolute paths inside
 * the container; the solver turns a Dockerfile's relative target into one against the WORKDIR.
 */
export type ExecMount = BindMount | CacheMount | TmpfsMount | SecretMount;

/** A host directory or file, bind-mounted (`--mount=type=bind`, after the solver made `source` available). */
export interface BindMount {
  readonly type: 'bind';
  /** Host path of a directory or file. */
  readonly source: string;
  readonly target: string;
  /** BuildKit's bind mounts are read-only unless `rw` is given; here the caller always says which. */
  readonly readonly: boolean;
}

/**
 * A persistent host directory (`--mount=type=cache`): created on first use with `uid`, `gid` and
 * `mode` (BuildKit's defaults 0, 0, 0o755), then bind-mounted read-write. The caller owns the
 * directory's location, sharing and locking.
 */
export interface CacheMount {
  readonly type: 'cache';
  readonly source: string;
  readonly target: string;
  readonly uid?: number;
  readonly gid?: number;
  readonly mode?: number;
  readonly readonly?: boolean;
}

/** A fresh tmpfs (`--mount=type=tmpfs`), gone when the step ends. */
export interface TmpfsMount {
  readonly type: 'tmpfs';
  readonly target: string;
  /** Upper size limit in bytes; the kernel's default (half of RAM) when absent. */
  readonly sizeBytes?: number;
}

/**
 * A secret file (`--mount=type=secret`): its bytes live in a tmpfs outside the rootfs and are
 * bind-mounted read-only at `target`, so they never touch the layer, the rootfs or the disk.
 */
export interface SecretMount {
  readonly type: 'secret';
  readonly target: string;
  readonly content: Uint8Array;
  /** Defaults as in BuildKit: uid 0, gid 0, mode 0o400. */
  readonly uid?: number;
  readonly gid?: number;
  readonly mode?: number;
}

/** What to run in a container, in the image config's terms. */
export interface ProcessSpec {
  /** argv; `args[0]` is looked up in the env's PATH by the runtime. */
  readonly args: readonly string[];
  /** `KEY=value` entries. BuildKit's default PATH is added when there is none. */
  readonly env: readonly string[];
  /** Working directory; created (owned by the user, mode 0755) when missing, as BuildKit does for WORKDIR. */
  readonly cwd: string;
  /** `""` (root), `name`, `uid`, `uid:gid`, `name:group`…, resolved inside the rootfs. */
  readonly user: string;
  /**
   * `sandbox`: a network namespace of the step's own with outbound access through slirp4netns and
   * no view of the host's interfaces or loopback (BuildKit's default); `host` shares the host's
   * network namespace (the caller checks `network.host` was granted); `none` has only `lo`.
   */
  readonly network: 'sandbox' | 'host' | 'none';
  /**
   * `sandbox` (default): Docker's capabilities and seccomp profile. `insecure`: a privileged step
   * (`RUN --security=insecure`; the caller checks the build was granted `security.insecure`).
   */
  readonly security?: 'sandbox' | 'insecure';
  /** Defaults to BuildKit's `buildkitsandbox`. */
  readonly hostname?: string;
  readonly mounts?: readonly ExecMount[];
  /** `--add-host`: lines added to /etc/hosts after BuildKit's defaults, in order. */
  readonly extraHosts?: readonly ExtraHost[];
  /** `--ulimit`: resource limits, replacing the default of the same type (RLIMIT_NOFILE's included). */
  readonly ulimits?: readonly Ulimit[];
  /**
   * Give the process a pseudo-terminal (`strata run -t`). The runtime, in the foreground, makes it
   * and joins it to this process's terminal: it puts that terminal in raw mode, copies input and
   * output, passes window size changes on, and restores the terminal when the process exits (runc
   * and crun both do this; no console socket is needed). `stdout` and `stderr` are then unused.
   * Needs a terminal on this process's stdin, stdout or stderr. Never for build steps.
   */
  readonly terminal?: boolean;
}

/** One `--add-host` entry: a name and the address /etc/hosts gives it. */
export interface ExtraHost {
  readonly host: string;
  readonly ip: string;
}

/** One `--ulimit` (docker's `name=soft[:hard]`), as the OCI spec's `process.rlimits` takes it. */
export interface Ulimit {
  /** `RLIMIT_NOFILE`, `RLIMIT_NPROC`, … */
  readonly type: string;
  readonly soft: number;
  readonly hard: number;
}

/** One process to run in a fresh container. */
export interface Container {
  /**
   * The root filesystem: a writable directory (an overlay mount point or a plain directory). Its
   * changes are the step's output; strata adds and removes its mount-point stubs (see
   * {@link RunResult.mountStubs}) but nothing else.
   */
  readonly rootfs: string;
  readonly process: ProcessSpec;
  /**
   * A file descriptor of this process the container's stdin reads from directly (`strata run -i`:
   * 0); without it stdin is /dev/null, as for every build step.
   */
  readonly stdinFd?: number;
  /** The process's output streams. They are written to but never ended. */
  readonly stdout: Writable;
  readonly stderr: Writable;
}

/** How a run ended. */
export interface RunResult {
  /** The process's exit status; 128+n when it was killed by signal n (shell convention). */
  readonly exitCode: number;
  /**
   * Paths (absolute, as seen inside the container) that did not exist in the rootfs and were created
   * as mount points for /etc/hosts, /etc/resolv.conf and the step's mounts, parents included, deepest
   * last. Each was removed again after the run if it was still an empty directory or empty file
   * (BuildKit's executor/stubs.go), with its parent's mtime put back; a snapshotter comparing
   * against the base can ignore these paths' parents when only their mtime differs.
   */
  readonly mountStubs: readonly string[];
}

/**
 * Runs one process in a fresh container and waits for it. A non-zero exit is a result, not an
 * error; errors mean the container could not be set up or started, or the signal aborted it (then
 * the container is killed and everything is cleaned up before the promise rejects with AbortedError).
 */
export interface Executor {
  run(container: Container, signal?: AbortSignal): Promise<RunResult>;
  /**
   * Releases what the executor keeps between runs (processes, namespaces) and waits until it is
   * gone; for an executor that keeps nothing, absent. The executor stays usable.
   */
  close?(): Promise<void>;
}
