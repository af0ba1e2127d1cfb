import { open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { isErrnoException, StrataError } from './errors.ts';
import { processStartTime } from './process-liveness.ts';

/** Thrown when a lock could not be taken in time. */
export class LockTimeoutError extends StrataError {
  constructor(path: string, holder: string) {
    super('LOCK_TIMEOUT', `timed out waiting for lock ${path} (held by ${holder})`, {
      hint: 'another strata process is working on the same store; if none is, remove the lock file',
    });
  }
}

interface LockOwner {
  readonly pid: number;
  readonly host: string;
  /** Process start time from /proc/<pid>/stat, so a reused pid is not taken for the holder. */
  readonly start: string;
}

const selfOwner: LockOwner = {
  pid: process.pid,
  host: hostname(),
  start: processStartTime(process.pid) ?? '',
};

function isStale(owner: LockOwner): boolean {
  if (owner.host !== selfOwner.host) return false; // another machine's process: cannot tell
  const start = processStartTime(owner.pid);
  return start === undefined || (owner.start !== '' && start !== owner.start);
}

/**
 * An exclusive lock held as a file created with O_EXCL that records the holder's pid, host and
 * start time. A lock whose holder died (SIGKILL, crash) is detected and broken at once, so a crash
 * never wedges the store. Measured 20× faster than proper-lockfile under contention
 * (../shared/research/libraries.md §8).
 */
export async function withLock<T>(
  path: string,
  fn: () => Promise<T>,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<T> {
  const release = await acquireLock(path, options);
  try {
    return await fn();
  } finally {
    await release();
  }
}

/** Takes the lock at `path`, waiting up to `timeoutMs`; resolves with its release function. */
export async function acquireLock(
  path: string,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<() => Promise<void>> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let delay = 1;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const handle = await open(path, 'wx', 0o644);
      await handle.writeFile(JSON.stringify(selfOwner));
      await handle.close();
      return async () => {
        await unlink(path).catch((error: unknown) => {
          if (!isErrnoException(error, 'ENOENT')) throw error;
        });
      };
    } catch (error) {
      if (!isErrnoException(error, 'EEXIST')) throw error;
    }
    let owner: LockOwner | undefined;
    try {
      owner = JSON.parse(await readFile(path, 'utf8')) as LockOwner;
    } catch {
      owner = undefined; // being written or just removed: retry
    }
    if (owner && isStale(owner)) {
      // Break the stale lock. Two waiters may both see it stale; unlink of an already-replaced lock
      // is prevented by re-reading right before unlinking (a small window remains, as with any
      // lockfile; holders only write idempotent, atomically renamed files).
      try {
        const again = JSON.parse(await readFile(path, 'utf8')) as LockOwner;
        if (again.pid === owner.pid && again.start === owner.start) await unlink(path);
      } catch {
        // gone or replaced meanwhile: retry from the top
      }
      continue;
    }
    if (Date.now() > deadline) throw new LockTimeoutError(path, owner ? `pid ${owner.pid}` : 'unknown');
    await sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
}
