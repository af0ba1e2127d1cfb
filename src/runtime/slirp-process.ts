import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { type NativeCalls, nativeCalls, StrataError } from '../util/index.ts';

/** slirp4netns could not be started, or exited before its interface was up. */
export class SlirpStartError extends StrataError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SLIRP_START_FAILED', message, options);
  }
}

/** A running slirp4netns, started with `--ready-fd=3 --exit-fd=4`. */
export interface SlirpProcess {
  /** Resolves once slirp4netns has written to its ready fd (its tap device is configured). */
  readonly ready: Promise<void>;
  /**
   * Resolves to its exit status (128+n for signal n) once it has exited, whatever made it: its
   * stop, a crash, a kill. Never rejects.
   */
  readonly exited: Promise<number>;
  /**
   * Closes its exit fd, which makes slirp4netns exit, and resolves once it has (it is killed if it
   * takes longer than {@link EXIT_TIMEOUT_MS}). Idempotent.
   */
  stop(): Promise<void>;
}

/** How long slirp4netns may take to say the interface is up. */
const READY_TIMEOUT_MS = 10_000;

/** How long slirp4netns may take to exit once its exit fd is closed, before it is killed. */
const EXIT_TIMEOUT_MS = 5_000;

/**
 * Starts slirp4netns (`file`) with `args`, its fd 3 a pipe to its ready fd, fd 4 the read end of
 * its exit pipe (whose write end only strata holds: if strata dies, slirp4netns exits too) and, if
 * given, fd 5 `extraFd`. Started by strata's addon where it is built (posix_spawn on a pool thread:
 * Node's thread is not held up by a fork, which on a loaded machine costs it tens of ms per RUN),
 * else by child_process.spawn. Once it is up, it does not keep Node running.
 */
export async function startSlirp(
  file: string,
  args: readonly string[],
  extraFd?: number,
): Promise<SlirpProcess> {
  const native = nativeCalls();
  if (native?.spawnProcess && native.pipe && native.waitPid)
    return startWithAddon(native as Required<NativeCalls>, file, args, extraFd);
  return startWithChildProcess(file, args, extraFd);
}

async function startWithAddon(
  native: Required<NativeCalls>,
  file: string,
  args: readonly string[],
  extraFd: number | undefined,
): Promise<SlirpProcess> {
  const pipes: number[] = [];
  const pipe = () => {
    const ends = native.pipe();
    pipes.push(...ends);
    return ends;
  };
  let pid: number;
  let readyRead: number;
  let exitWrite: number;
  let errorRead: number;
  try {
    const [r, readyWrite] = pipe();
    const [exitRead, w] = pipe();
    const [e, errorWrite] = pipe();
    [readyRead, exitWrite, errorRead] = [r, w, e];
    pid = await native.spawnProcess(
      file,
      [file, ...args],
      [-1, -1, errorWrite, readyWrite, exitRead, ...(extraFd !== undefined ? [extraFd] : [])],
    );
    // The child's ends are the child's alone: EOF on its stderr then means it has exited.
    for (const fd of [readyWrite, exitRead, errorWrite]) closeFd(pipes, fd);
  } catch (error) {
    for (const fd of [...pipes]) closeFd(pipes, fd);
    throw new SlirpStartError(`cannot start ${file}`, { cause: error });
  }
  const readyPipe = new Socket({ fd: readyRead, readable: true, writable: false });
  const errorPipe = new Socket({ fd: errorRead, readable: true, writable: false });
  const stderr = collect(errorPipe);
  // Exited: its stderr is at EOF (slirp4netns closes its ready fd once it has written to it, but
  // keeps stderr; its helper child, which also has it, is gone by then); the process is reaped
  // then — it is gone or about to be.
  let reaped = false;
  const exited = new Promise<number>((resolve) => {
    errorPipe.once('close', () => {
      const reap = () => {
        const status = native.waitPid(pid);
        if (status === null) {
          setTimeout(reap, 2);
        } else {
          reaped = true;
          resolve(status);
        }
      };
      reap();
    });
  });
  const kill = () => {
    if (!reaped) killPid(pid); // never a pid that may have been reused
  };
  const ready = waitReady(readyPipe, exited, stderr);
  readyPipe.resume();
  // While it runs, it does not keep Node running (a network made ahead of need may be unused
  // when the program is done; its exit fd then stops it); while it starts or stops, it does.
  ready.then(
    () => errorPipe.unref(),
    () => undefined,
  );
  let stopped: Promise<void> | undefined;
  const stop = async () => {
    errorPipe.ref();
    closeFd(pipes, exitWrite);
    const timer = setTimeout(kill, EXIT_TIMEOUT_MS);
    try {
      await exited;
    } finally {
      clearTimeout(timer);
      readyPipe.destroy();
    }
  };
  ready.catch(() => {
    // It did not come up: it must not keep running, whatever held it.
    kill();
    stopped ??= stop();
  });
  return {
    ready,
    exited,
    stop() {
      stopped ??= stop();
      return stopped;
    },
  };
}

async function startWithChildProcess(
  file: string,
  args: readonly string[],
  extraFd: number | undefined,
): Promise<SlirpProcess> {
  const child: ChildProcess = spawn(file, args, {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', ...(extraFd !== undefined ? [extraFd] : [])],
  });
  const readyPipe = child.stdio[3] as Readable;
  const stderr = collect(child.stderr as Readable);
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code) => resolve(code ?? 128));
    child.once('error', () => resolve(127));
  });
  const failedToSpawn = new Promise<never>((_, reject) =>
    child.once('error', (error) => reject(new SlirpStartError(`cannot start ${file}`, { cause: error }))),
  );
  failedToSpawn.catch(() => undefined); // raced below
  const ready = Promise.race([waitReady(readyPipe, exited, stderr), failedToSpawn]);
  readyPipe.resume();
  const handles = [child, ...child.stdio] as ({ ref?: () => void; unref?: () => void } | null)[];
  ready.then(
    () => {
      for (const handle of handles) handle?.unref?.();
    },
    () => undefined,
  );
  let stopped: Promise<void> | undefined;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    for (const handle of handles) handle?.ref?.();
    (child.stdio[4] as Writable).destroy();
    const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_TIMEOUT_MS);
    try {
      await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  ready.catch(() => {
    child.kill('SIGKILL');
    stopped ??= stop();
  });
  await once(child, 'spawn').catch(() => undefined); // a spawn error is `ready`'s
  return {
    ready,
    exited,
    stop() {
      stopped ??= stop();
      return stopped;
    },
  };
}

/** Resolves on the first byte on the ready pipe; rejects if the process exits first or in time. */
function waitReady(readyPipe: Readable, exited: Promise<number>, stderr: () => string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(new SlirpStartError('slirp4netns did not come up in time'));
    }, READY_TIMEOUT_MS);
    timer.unref();
    readyPipe.once('data', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve();
    });
    exited.then((status) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(
        new SlirpStartError(`slirp4netns exited (${status}) before the network was up: ${stderr().trim()}`),
      );
    });
  });
}

/** The last 2000 characters a stream printed. */
function collect(stream: Readable): () => string {
  let text = '';
  stream.on('data', (chunk: Buffer) => {
    text = (text + chunk.toString('utf8')).slice(-2000);
  });
  stream.on('error', () => undefined); // a read error ends the text; the exit says what happened
  return () => text;
}

/** Closes `fd` once, dropping it from `open`. */
function closeFd(open: number[], fd: number): void {
  const at = open.indexOf(fd);
  if (at === -1) return;
  open.splice(at, 1);
  closeSync(fd);
}

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // ESRCH: it has exited (and may be reaped); nothing to kill
  }
}
