import { join, posix, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import type { Digest, Image } from '../oci/index.ts';
import { type BindMount, type Executor, openExecutor } from '../runtime/index.ts';
import { openSnapshotter } from '../snapshot/index.ts';
import type { Store } from '../store/index.ts';
import { InvalidInputError, makeDirectories } from '../util/index.ts';
import { resolveStoredImage } from './images.ts';
import { processSettings, type StrataSettings } from './settings.ts';

/** Inputs of {@link runImage}: `strata run`'s flags as data. */
export interface RunImageOptions {
  /** The environment's settings (snapshotter, runtime); default: this process's. */
  readonly settings?: StrataSettings;
  /** The image: a name in the store (`hello-go:multi`) or a manifest digest. */
  readonly image: string;
  /** Replaces the image's Cmd (`docker run IMAGE cmd…`); the Entrypoint stays. */
  readonly command?: readonly string[];
  /** Replaces the image's Entrypoint (`--entrypoint`); `[]` clears it. Also clears Cmd unless `command` is given, as docker does. */
  readonly entrypoint?: readonly string[];
  /** `KEY=value` entries added to (and overriding) the image's Env; `KEY` alone takes the caller's value. */
  readonly env?: readonly string[];
  /** Overrides the image's User. */
  readonly user?: string;
  /** Overrides the image's WorkingDir. */
  readonly workdir?: string;
  /** `host` (default) shares the host's network, so ports the process listens on are on 127.0.0.1. */
  readonly network?: 'host' | 'none';
  readonly hostname?: string;
  /** `-v HOST:CONTAINER[:ro|rw]` bind mounts, as docker run's (see {@link parseVolume}). */
  readonly volumes?: readonly string[];
  /** `-i`: a descriptor of this process (0) the container reads as stdin; /dev/null without it. */
  readonly stdinFd?: number;
  /**
   * `-t`: a pseudo-terminal, joined to this process's terminal by the runtime (output then goes
   * to the terminal, not to `stdout`/`stderr`); `TERM=xterm` unless the image or `-e` sets TERM.
   */
  readonly terminal?: boolean;
  /** Where the process's output goes; written to, never ended. */
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** Aborting stops the container (it is killed and its filesystem discarded). */
  readonly signal?: AbortSignal;
  /** The executor to use (default: runc/crun found as for builds). */
  readonly executor?: Executor;
}

/** How a run ended. */
export interface RunImageResult {
  /** The manifest digest that ran. */
  readonly digest: Digest;
  /** The process's exit status (128+n when killed by signal n). */
  readonly exitCode: number;
  /** The argv that ran. */
  readonly args: readonly string[];
}

/**
 * The argv a container of `image` runs: Entrypoint + Cmd, with `docker run`'s override rules (a
 * command replaces Cmd; an entrypoint replaces Entrypoint and drops the image's Cmd).
 */
export function containerArgs(
  image: Pick<Image, 'config'>,
  overrides: Pick<RunImageOptions, 'command' | 'entrypoint'> = {},
): string[] {
  const c = image.config.config ?? {};
  const entrypoint = overrides.entrypoint ?? c.Entrypoint ?? [];
  const cmd =
    overrides.command && overrides.command.length > 0
      ? overrides.command
      : overrides.entrypoint
        ? []
        : (c.Cmd ?? []);
  return [...entrypoint, ...cmd];
}

/** The image's Env with `-e` entries applied (`KEY=value` sets, `KEY` copies the caller's value). */
export function containerEnv(
  imageEnv: readonly string[],
  overrides: readonly string[] = [],
  callerEnv: NodeJS.ProcessEnv = process.env,
): string[] {
  const env = [...imageEnv];
  const set = (key: string, value: string) => {
    const at = env.findIndex((e) => e.slice(0, e.indexOf('=') < 0 ? e.length : e.indexOf('=')) === key);
    if (at >= 0) env[at] = `${key}=${value}`;
    else env.push(`${key}=${value}`);
  };
  for (const entry of overrides) {
    const eq = entry.indexOf('=');
    if (eq === 0) throw new InvalidInputError(`invalid environment entry ${JSON.stringify(entry)}`);
    if (eq > 0) set(entry.slice(0, eq), entry.slice(eq + 1));
    else if (callerEnv[entry] !== undefined) set(entry, callerEnv[entry]);
  }
  return env;
}

/**
 * One `-v` of docker run: `HOST:CONTAINER`, `HOST:CONTAINER:ro` or `…:rw`. HOST is an absolute
 * path or one starting with `.` (taken from the working directory); a missing HOST directory is
 * created, as docker's `-v` does. A named or anonymous volume (`data:/x`, `/x` alone) is docker's
 * volume store, which strata does not have: refused with the bind form to use instead.
 */
export async function parseVolume(text: string, cwd = process.cwd()): Promise<BindMount> {
  const parts = text.split(':');
  const invalid = (why: string, hint = 'e.g. -v /srv/data:/data or -v ./conf:/etc/app:ro') =>
    new InvalidInputError(`invalid volume specification ${JSON.stringify(text)}: ${why}`, { hint });
  if (parts.length < 2) throw invalid('anonymous volumes are not supported (strata has no volume store)');
  if (parts.length > 3) throw invalid('too many colons');
  const [host, target, mode = 'rw'] = parts as [string, string, string?];
  if (mode !== 'ro' && mode !== 'rw')
    throw invalid(`mode ${JSON.stringify(mode)} is not supported`, 'ro or rw');
  if (!host.startsWith('/') && !host.startsWith('.'))
    throw invalid(
      `${JSON.stringify(host)} would be a named volume, which strata does not have`,
      `give a host path: -v /path/${host}:${target}`,
    );
  if (!posix.isAbsolute(target))
    throw invalid(`the container path ${JSON.stringify(target)} is not absolute`);
  if (posix.normalize(target) === '/') throw invalid('the container path cannot be /');
  const source = resolve(cwd, host);
  await makeDirectories(source);
  return { type: 'bind', source, target: posix.normalize(target), readonly: mode === 'ro' };
}

async function imageFor(store: Store, text: string): Promise<Image> {
  return store.image(await resolveStoredImage(store, text));
}

/**
 * Runs an image from the store in a fresh container, like `docker run --rm`: unpacks its layers
 * (shared with builds by diff_id), prepares a writable filesystem over them, runs Entrypoint+Cmd
 * with the image's Env, WorkingDir and User in the OCI runtime builds use, and discards the
 * container's filesystem afterwards, whatever happened. A non-zero exit is a result, not an error.
 */
export async function runImage(store: Store, options: RunImageOptions): Promise<RunImageResult> {
  const image = await imageFor(store, options.image);
  const args = containerArgs(image, options);
  if (args.length === 0) {
    throw new InvalidInputError(`image ${options.image} has no Entrypoint or Cmd`, {
      hint: `give a command: strata run ${options.image} <command>…`,
    });
  }
  const c = image.config.config ?? {};
  const env = containerEnv(c.Env ?? [], options.env);
  // docker run -t: TERM=xterm unless the image or -e says otherwise.
  if (options.terminal && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
  const mounts: BindMount[] = [];
  for (const volume of options.volumes ?? []) mounts.push(await parseVolume(volume));
  const settings = options.settings ?? processSettings();
  const snapshotter = openSnapshotter(store.root, settings.snapshotter);
  const snapshot = await snapshotter.unpack(image.layers, options.signal);
  const executor =
    options.executor ??
    (await openExecutor(
      { stateDir: join(store.root, 'runtime'), ...(settings.runtime ? { runtime: settings.runtime } : {}) },
      options.signal,
    ));
  const active = await snapshotter.prepare(snapshot, options.signal);
  try {
    const result = await executor.run(
      {
        rootfs: active.rootfs,
        process: {
          args,
          env,
          cwd: options.workdir ?? (c.WorkingDir || '/'),
          user: options.user ?? c.User ?? '',
          network: options.network ?? 'host',
          hostname: options.hostname ?? image.digest.slice('sha256:'.length, 'sha256:'.length + 12),
          ...(mounts.length > 0 ? { mounts } : {}),
          ...(options.terminal ? { terminal: true } : {}),
        },
        ...(options.stdinFd !== undefined ? { stdinFd: options.stdinFd } : {}),
        stdout: options.stdout,
        stderr: options.stderr,
      },
      options.signal,
    );
    return { digest: image.digest, exitCode: result.exitCode, args };
  } finally {
    await active.discard();
    if (options.executor === undefined) await executor.close?.();
  }
}
