import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { isErrnoException } from '../util/index.ts';
import type { OciRuntime } from './oci-runtime.ts';
import { OutputStreamError } from './runtime-errors.ts';

/** How a `run` of a bundle ended. */
export interface BundleOutcome {
  /** The container process's exit status (128+n for signal n), or the runtime's own when it failed. */
  readonly exitCode: number;
  /** The runtime's error when it failed before or around the process (from its JSON log). */
  readonly runtimeError?: string;
  /** True when the signal fired and the container was killed. */
  readonly aborted: boolean;
}

/** What {@link runBundle} runs and where its output goes. */
export interface RunBundleOptions {
  readonly bundle: string;
  readonly id: string;
  /** The runtime's JSON log (inside the bundle); read afterwards to tell a start failure from an exit. */
  readonly logPath: string;
  /** A descriptor of this process the container reads as stdin; /dev/null without it. */
  readonly stdinFd?: number;
  /** The container has a terminal the runtime joins to this process's: stdout and stderr are inherited. */
  readonly terminal?: boolean;
  readonly stdout?: Writable;
  readonly stderr?: Writable;
}

/** How often a kill is retried while the runtime has not yet registered the container. */
const KILL_RETRY_MS = 20;
/** After this long killing through the runtime, the runtime process itself is killed. */
const KILL_GIVE_UP_MS = 10_000;

/**
 * Runs a prepared bundle in the foreground and waits for it, piping its output (without ending the
 * streams). On abort the container is killed with `<runtime> kill <id> KILL`, retried until the
 * runtime knows the container; the wait then continues until the runtime exits. Afterwards the
 * container's state is deleted if the runtime left any. Never rejects on a non-zero exit.
 */
export async function runBundle(
  runtime: OciRuntime,
  options: RunBundleOptions,
  signal?: AbortSignal,
): Promise<BundleOutcome> {
  const child = runtime.spawnRun(options.bundle, options.id, options.logPath, {
    ...(options.stdinFd !== undefined ? { stdinFd: options.stdinFd } : {}),
    ...(options.terminal ? { terminal: true } : {}),
  });
  const outputFailures: unknown[] = [];
  forward(child.stdout, options.stdout, outputFailures);
  forward(child.stderr, options.stderr, outputFailures);

  let exited = false;
  let aborted = false;
  const killContainer = async () => {
    aborted = true;
    const started = Date.now();
    while (!exited) {
      if (await runtime.kill(options.id)) return;
      if (Date.now() - started > KILL_GIVE_UP_MS) {
        child.kill('SIGKILL');
        return;
      }
      await sleep(KILL_RETRY_MS);
    }
  };
  let killing: Promise<void> | undefined;
  const onAbort = () => {
    killing ??= killContainer();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();

  try {
    const { code, signalName } = await new Promise<{
      code: number | null;
      signalName: NodeJS.Signals | null;
    }>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signalName) => resolve({ code, signalName }));
    });
    exited = true;
    await killing;
    const exitCode = code ?? 128 + (signalName === null ? 0 : (constants.signals[signalName] ?? 0));
    if (outputFailures.length > 0) {
      throw new OutputStreamError(`writing the output of container ${options.id} failed`, {
        cause: outputFailures[0],
      });
    }
    const runtimeError = exitCode === 0 ? undefined : await readRuntimeError(options.logPath);
    return runtimeError === undefined ? { exitCode, aborted } : { exitCode, runtimeError, aborted };
  } finally {
    exited = true;
    signal?.removeEventListener('abort', onAbort);
    // `run` deletes the container when it exits normally; after a kill or a runtime failure the
    // state may remain (checked on disk, which saves a process start on every normal run).
    if (aborted || (await runtime.hasState(options.id))) await runtime.delete(options.id);
  }
}

/**
 * Pipes a container stream to the caller's, without ending it. Should the caller's stream fail,
 * the rest is drained and dropped (a container blocked on a full pipe would never exit) and the
 * error is kept for the run to report once the container is done.
 */
function forward(source: Readable | null, destination: Writable | undefined, failures: unknown[]): void {
  if (source === null) return;
  if (destination === undefined) {
    source.resume();
    return;
  }
  source.pipe(destination, { end: false });
  const drop = () => {
    source.unpipe(destination);
    source.resume();
  };
  destination.once('error', (error) => {
    failures.push(error);
    drop();
  });
  destination.once('close', drop);
}

/**
 * The messages of error-level entries in a runc/crun JSON log (`{"level":"error","msg":…}` per
 * line), joined; undefined when there are none. runc and crun log nothing there when the process
 * itself exits non-zero or is killed, so an entry means the runtime failed.
 */
export async function readRuntimeError(logPath: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(logPath, 'utf8');
  } catch (error) {
    if (isErrnoException(error, 'ENOENT')) return undefined;
    throw error;
  }
  const messages: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
      if ((entry.level === 'error' || entry.level === 'fatal') && typeof entry.msg === 'string') {
        messages.push(entry.msg);
      }
    } catch {
      messages.push(line); // not JSON: an old runtime writing plain text; keep it as it is
    }
  }
  return messages.length > 0 ? messages.join('; ') : undefined;
}
