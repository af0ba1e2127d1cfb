import { StrataError, type StrataErrorOptions } from '../util/index.ts';

/** Hint printed whenever no usable OCI runtime is found. */
const INSTALL_HINT =
  'install an OCI runtime: apt-get install runc (or crun), or set STRATA_RUNTIME to its path';

/** Neither crun nor runc (nor the runtime that was asked for) is installed. */
export class RuntimeNotFoundError extends StrataError {
  constructor(message: string, options: StrataErrorOptions = {}) {
    super('RUNTIME_NOT_FOUND', message, { hint: INSTALL_HINT, ...options });
  }
}

/**
 * A runtime is installed but cannot run a container on this machine, in any of the ways strata
 * knows (e.g. crun 1.8 on a hybrid cgroup v1/v2 host with no way to hide the v2 hierarchy).
 */
export class RuntimeUnusableError extends StrataError {
  constructor(message: string, options: StrataErrorOptions = {}) {
    super('RUNTIME_UNUSABLE', message, { hint: INSTALL_HINT, ...options });
  }
}

/**
 * The runtime failed before the process ran (executable not found, bad working directory, a mount
 * that could not be made). The message is the runtime's own. A process that ran and exited non-zero
 * is not this error: it is a result.
 */
export class ContainerStartError extends StrataError {
  /** The exit code of the runtime command itself. */
  readonly runtimeExitCode: number;

  constructor(message: string, runtimeExitCode: number, options: StrataErrorOptions = {}) {
    super('CONTAINER_START_FAILED', message, options);
    this.runtimeExitCode = runtimeExitCode;
  }
}

/**
 * A USER could not be resolved in the rootfs's /etc/passwd or /etc/group. The message matches
 * runc's and BuildKit's text ("unable to find user x: no matching entries in passwd file").
 */
export class UserNotFoundError extends StrataError {
  constructor(message: string, options: StrataErrorOptions = {}) {
    super('USER_NOT_FOUND', message, options);
  }
}

/** The caller's stdout or stderr stream failed while a step ran; the step ran to its end regardless. */
export class OutputStreamError extends StrataError {
  constructor(message: string, options: StrataErrorOptions = {}) {
    super('OUTPUT_STREAM_FAILED', message, options);
  }
}
