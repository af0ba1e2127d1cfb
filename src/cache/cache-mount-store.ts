import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, utimesSync } from 'node:fs';
import { readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  acquireLock,
  isErrnoException,
  processStartTime,
  withLock,
  writeFileAtomicSync,
} from '../util/index.ts';

const run = promisify(execFile);

/**
 * The local cache-mount store, `$STRATA_ROOT/cache-mounts/`: one directory per mount id
 * (`<first 32 hex of sha256(id)>`, as `RUN --mount=type=cache` has always used), with beside it
 * `<name>.json` (the id, and where the mount was restored from; its mtime is the mount's last use),
 * `<name>.lock` (sharing=locked|private) and `<name>.use-<pid>-<start>-<rand>` while a step has the
 * mount bound. `strata prune` removes a mount only under `locks/cache-mount-prune.lock` and only
 * when no live process has it in use; a step that marks a mount in use waits for a running prune
 * to end first, so a mount is never removed under a step.
 */
export function cacheMountsDir(root: string): string {
  return join(root, 'cache-mounts');
}

/** The directory of the cache mount `id`. */
export function cacheMountDir(root: string, id: string): string {
  return join(cacheMountsDir(root), createHash('sha256').update(id).digest('hex').slice(0, 32));
}

function pruneLock(root: string): string {
  return join(root, 'locks', 'cache-mount-prune.lock');
}

/** What the `.json` beside a mount says. */
interface CacheMountMeta {
  readonly id: string;
  /** The `--cache-from` it was restored from, and when (absent: made on this machine). */
  readonly restoredFrom?: string;
  readonly restoredAt?: string;
}

function readMeta(dir: string): CacheMountMeta | undefined {
  try {
    const value = JSON.parse(readFileSync(`${dir}.json`, 'utf8')) as Record<string, unknown>;
    if (typeof value.id !== 'string') return undefined;
    return {
      id: value.id,
      ...(typeof value.restoredFrom === 'string' ? { restoredFrom: value.restoredFrom } : {}),
      ...(typeof value.restoredAt === 'string' ? { restoredAt: value.restoredAt } : {}),
    };
  } catch {
    return undefined; // none yet (a mount made before this file existed), or damaged
  }
}

/**
 * Records a use of the mount at `dir` (its last use, for `strata du` and `prune --filter until`);
 * `restoredFrom` when this use restored it from an imported cache.
 */
export function noteCacheMountUse(dir: string, id: string, restoredFrom?: string): void {
  const meta = readMeta(dir);
  if (meta?.id === id && restoredFrom === undefined) {
    const now = new Date();
    try {
      utimesSync(`${dir}.json`, now, now);
      return;
    } catch {
      // gone meanwhile: written again below
    }
  }
  const next: CacheMountMeta = restoredFrom
    ? { id, restoredFrom, restoredAt: new Date().toISOString() }
    : { id, ...(meta?.id === id && meta.restoredFrom ? { restoredFrom: meta.restoredFrom } : {}) };
  writeFileAtomicSync(`${dir}.json`, JSON.stringify(next), { durable: false });
}

/**
 * Marks the mount at `dir` in use by this process until the returned function is called; waits for
 * a prune of cache mounts that is running now to end first (it may have seen no mark).
 */
export async function markCacheMountInUse(
  root: string,
  dir: string,
  signal?: AbortSignal,
): Promise<() => Promise<void>> {
  mkdirSync(cacheMountsDir(root), { recursive: true });
  const mark = `${dir}.use-${process.pid}-${processStartTime(process.pid) ?? '0'}-${randomBytes(4).toString('hex')}`;
  writeFileAtomicSync(mark, '', { durable: false });
  const lock = pruneLock(root);
  if (existsSync(lock))
    await (await acquireLock(lock, { timeoutMs: 3_600_000, ...(signal ? { signal } : {}) }))();
  return () => unlink(mark).catch(() => undefined);
}

/** One mount of the local store, for `strata du` and `strata prune`. */
export interface CacheMountInfo {
  /** The directory's name under `cache-mounts/`. */
  readonly name: string;
  readonly path: string;
  /** The mount's id, when known. */
  readonly id?: string;
  readonly restoredFrom?: string;
  readonly lastUsed: Date;
  readonly bytes: number;
  /** A live process has it bound now. */
  readonly inUse: boolean;
}

/** Bytes under `path` on disk as `du -sb` counts them (0 when it does not exist). */
export async function diskUsageBytes(path: string): Promise<number> {
  try {
    const { stdout } = await run('du', ['-sb', path]);
    return Number(stdout.split('\t')[0]);
  } catch (error) {
    if (isErrnoException(error, 'ENOENT') || (error as { code?: number }).code === 1) return 0;
    throw error;
  }
}

/** Live use marks of `name` among `files`; stale ones (their process is gone) are deleted. */
async function liveUses(dir: string, name: string, files: readonly string[]): Promise<number> {
  let live = 0;
  for (const file of files) {
    if (!file.startsWith(`${name}.use-`)) continue;
    const [pid, start] = file.slice(name.length + 5).split('-');
    const alive = processStartTime(Number(pid));
    if (alive !== undefined && (start === '0' || alive === start)) live++;
    else await rm(join(dir, file), { force: true });
  }
  return live;
}

/** Every mount in the local store, least recently used first. */
export async function listCacheMounts(root: string): Promise<CacheMountInfo[]> {
  const dir = cacheMountsDir(root);
  let files: string[];
  try {
    files = await readdir(dir);
  } catch (error) {
    if (isErrnoException(error, 'ENOENT')) return [];
    throw error;
  }
  const out: CacheMountInfo[] = [];
  for (const name of files) {
    if (!/^[0-9a-f]{32}$/.test(name)) continue;
    const path = join(dir, name);
    let lastUsed: Date;
    try {
      lastUsed = statSync(`${path}.json`).mtime;
    } catch {
      try {
        lastUsed = (await stat(path)).mtime;
      } catch {
        continue; // removed meanwhile
      }
    }
    const meta = readMeta(path);
    out.push({
      name,
      path,
      ...(meta ? { id: meta.id } : {}),
      ...(meta?.restoredFrom ? { restoredFrom: meta.restoredFrom } : {}),
      lastUsed,
      bytes: await diskUsageBytes(path),
      inUse: (await liveUses(dir, name, files)) > 0,
    });
  }
  return out.sort((a, b) => a.lastUsed.getTime() - b.lastUsed.getTime() || a.name.localeCompare(b.name));
}

/**
 * Removes the mounts named, except those a live process has in use (checked again under the
 * prune lock); returns the ones removed. Also removes what a killed restore left
 * (`<name>.restore-<pid>-<start>-…` of a process that is gone).
 */
export async function removeCacheMounts(root: string, names: readonly string[]): Promise<string[]> {
  const dir = cacheMountsDir(root);
  if (!existsSync(dir)) return [];
  mkdirSync(join(root, 'locks'), { recursive: true });
  return withLock(
    pruneLock(root),
    async () => {
      const files = await readdir(dir);
      const removed: string[] = [];
      for (const name of names) {
        if ((await liveUses(dir, name, files)) > 0) continue;
        const path = join(dir, name);
        const trash = join(dir, `trash-${randomBytes(6).toString('hex')}`);
        try {
          await rename(path, trash);
        } catch (error) {
          if (isErrnoException(error, 'ENOENT')) continue;
          throw error;
        }
        await rm(trash, { recursive: true, force: true });
        await rm(`${path}.json`, { force: true });
        await rm(`${path}.lock`, { force: true });
        removed.push(name);
      }
      for (const name of files) {
        // What an interrupted prune left, and restores whose process is gone (killed mid-way).
        const restore = /^[0-9a-f]{32}\.restore-(\d+)-([^-]+)-[0-9a-f]+$/.exec(name);
        const dead =
          restore !== null &&
          (() => {
            const alive = processStartTime(Number(restore[1]));
            return alive === undefined || (restore[2] !== '0' && alive !== restore[2]);
          })();
        if (name.startsWith('trash-') || dead) await rm(join(dir, name), { recursive: true, force: true });
      }
      return removed;
    },
    { timeoutMs: 3_600_000 },
  );
}
