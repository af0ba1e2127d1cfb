/**
 * The defaults BuildKit gives a Linux image config that does not set them: `PATH` in `Env`
 * (util/system `DefaultPathEnvUnix`) and the shell that wraps shell-form commands (the
 * Dockerfile frontend's `defaultShell`). One copy each, shared by the planner, the solver and the
 * runtime.
 */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The shell BuildKit prepends to shell-form RUN, CMD and ENTRYPOINT when the image sets no SHELL. */
export const DEFAULT_SHELL: readonly string[] = ['/bin/sh', '-c'];
