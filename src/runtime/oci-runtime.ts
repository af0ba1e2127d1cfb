import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { InternalError } from '../util/index.ts';

/**
 * How a runtime binary is invoked on this machine, as the probe found works:
 *
 * - `default`: plainly; the runtime puts the container in a cgroup of its own (runc always; crun where
 *   its cgroup code accepts the host's layout).
 * - `no-cgroups`: crun with `--cgroup-manager=disabled`; the container stays in strata's cgroup.
 * - `no-cgroups-hidden-v2`: as `no-cgroups`, and crun runs in a private mount namespace where the
 *   hybrid layout's cgroup2 mount (/sys/fs/cgroup/unified) is unmounted, so crun sees plain cgroup v1.
 *   crun 1.8 refuses hybrid hosts outright ("cgroups in hybrid mode not supported"), even with its
 *   cgroup manager disabled; a build step needs no cgroup, so hiding the hierarchy crun trips over
 *   loses nothing. Only crun's own mount namespace changes: the host and the container are unaffected.
 */
export type RuntimeMode = 'default' | 'no-cgroups' | 'no-cgroups-hidden-v2';

/** Which command-line dialect a runtime speaks (they differ in `--log` and cgroup flags). */
export type RuntimeFlavour = 'runc' | 'crun';

/** A runtime binary and the way it works here. Plain data, cached on disk by the probe. */
export interface RuntimeInfo {
  readonly flavour: RuntimeFlavour;
  /** Absolute path of the binary. */
  readonly path: string;
  /** The first line of `<runtime> --version`. */
  readonly version: string;
  readonly mode: RuntimeMode;
  /** cgroup2 mount points hidden from the runtime in `no-cgroups-hidden-v2` mode. */
  readonly hiddenMounts: readonly string[];
  /** util-linux's `unshare`, which makes the private mount namespace in `no-cgroups-hidden-v2` mode. */
  readonly unshare?: string;
}

/** Outcome of a short runtime command (kill, delete, list). */
export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * One OCI runtime binary bound to a state directory (its `--root`), in the mode the probe chose. It
 * only builds command lines and spawns them; containers, bundles and cleanup are the executor's.
 */
export class OciRuntime {
  /** The binary and how it is invoked. */
  readonly info: RuntimeInfo;
  /** The runtime's `--root`: where it keeps container state; one per strata state directory. */
  readonly root: string;

  constructor(info: RuntimeInfo, root: string) {
    this.info = info;
    this.root = root;
  }

  /** The command line for `args` after the global flags, wrapped for `no-cgroups-hidden-v2`. */
  command(args: readonly string[], logPath?: string): { file: string; args: string[] } {
    const global = ['--root', this.root];
    if (logPath !== undefined) {
      global.push(
        ...(this.info.flavour === 'crun' ? [`--log=file:${logPath}`] : ['--log', logPath]),
        '--log-format',
        'json',
      );
    }
    if (this.info.mode !== 'default') global.push('--cgroup-manager=disabled');
    const direct = { file: this.info.path, args: [...global, ...args] };
    if (this.info.mode !== 'no-cgroups-hidden-v2') return direct;
    if (this.info.unshare === undefined)
      throw new InternalError('runtime mode no-cgroups-hidden-v2 without unshare');
    const umounts = this.info.hiddenMounts.map((m) => `umount -l ${shellQuote(m)}`).join(' && ');
    // sh's $0 is the runtime path, "$@" its arguments: no string of ours reaches the shell unquoted.
    return {
      file: this.info.unshare,
      args: [
        '--mount',
        '--propagation',
        'private',
        '--',
        '/bin/sh',
        '-c',
        `${umounts} && exec "$0" "$@"`,
      ].concat([direct.file, ...direct.args]),
    };
  }

  /**
   * Starts `run --bundle <bundle> <id>` in the foreground. By default: stdin from /dev/null (or
   * `stdinFd`, passed through to the container), the container's stdout and stderr (and the
   * runtime's own error text) on the child's pipes. With `terminal` (config.json asks for one)
   * the runtime inherits this process's stdout and stderr and joins the container's pseudo-terminal
   * to this process's terminal itself.
   */
  spawnRun(
    bundle: string,
    id: string,
    logPath: string,
    io: { readonly stdinFd?: number; readonly terminal?: boolean } = {},
  ): ChildProcess {
    const { file, args } = this.command(['run', '--bundle', bundle, id], logPath);
    const stdin = io.stdinFd ?? 'ignore';
    return spawn(file, args, {
      stdio: io.terminal ? [stdin, 'inherit', 'inherit'] : [stdin, 'pipe', 'pipe'],
    });
  }

  /** Sends SIGKILL to the container's processes; false when the runtime does not know the container. */
  async kill(id: string): Promise<boolean> {
    const result = await this.exec(['kill', id, 'KILL']);
    return result.exitCode === 0;
  }

  /** Forcibly deletes the container's state (and kills what is left of it); absent is fine. */
  async delete(id: string): Promise<CommandResult> {
    return this.exec(['delete', '--force', id]);
  }

  /** Whether the runtime keeps state for `id` (runc and crun both use `<root>/<id>`). */
  async hasState(id: string): Promise<boolean> {
    try {
      await access(join(this.root, id));
      return true;
    } catch {
      return false; // no state directory: nothing to delete
    }
  }

  /** The ids of the containers the runtime has state for under {@link root}. */
  async list(): Promise<string[]> {
    const result = await this.exec(['list', '--quiet']);
    return result.stdout.split('\n').filter((line) => line !== '');
  }

  /** Runs a short runtime command and collects its output; never rejects on a non-zero exit. */
  exec(args: readonly string[]): Promise<CommandResult> {
    const { file, args: argv } = this.command(args);
    return execCollect(file, argv);
  }
}

/** Runs a command to completion; a non-zero exit or a spawn failure is reported, not thrown. */
export function execCollect(
  file: string,
  args: readonly string[],
  timeoutMs = 30_000,
): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 4 << 20 }, (error, stdout, stderr) => {
      let exitCode = 0;
      if (error !== null) {
        const code = (error as { code?: unknown }).code;
        exitCode = typeof code === 'number' ? code : 127;
        if (stderr === '') stderr = error.message;
      }
      resolve({ exitCode, stdout, stderr });
    });
  });
}

/** The absolute path of `name` on PATH (or `name` itself when it contains a slash), if executable. */
export async function findExecutable(
  name: string,
  path = process.env.PATH ?? '',
): Promise<string | undefined> {
  const candidates = name.includes('/')
    ? [name]
    : path
        .split(delimiter)
        .filter((d) => d !== '')
        .map((d) => join(d, name));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate.startsWith('/') ? candidate : join(process.cwd(), candidate);
    } catch {
      // not there or not executable: try the next directory on PATH
    }
  }
  return undefined;
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
