import { execFile } from 'node:child_process';
import { lstat, mkdir, open, readdir, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, posix } from 'node:path';
import { promisify } from 'node:util';
import { cleanPath, isErrnoException, resolveInRoot } from '../util/index.ts';

/** A mount point a container needs: a directory, or a file for a bind-mounted file. */
export interface MountPoint {
  /** Absolute path inside the container. */
  readonly path: string;
  readonly kind: 'file' | 'directory';
}

/** Mount points created in a rootfs, and how to take them out again. */
export interface MountStubs {
  /** Container paths created, shallowest first. */
  readonly paths: readonly string[];
  /**
   * Removes each created path that is still an empty directory or an empty regular file, deepest
   * first, and puts back the mtime of the directories they were created in. Never follows a link
   * the step may have planted: a path that no longer resolves to where it was created is left alone.
   */
  remove(): Promise<void>;
}

interface CreatedStub {
  readonly path: string;
  readonly real: string;
}

interface ParentTimes {
  /** The directory's path inside the container, to check it is still where it was. */
  readonly path: string;
  /** mtime before the first stub was created in it, in nanoseconds. */
  readonly before: bigint;
  /** mtime right after the stubs were created. */
  after: bigint;
}

const execFileAsync = promisify(execFile);

/**
 * Creates the missing mount points for `points` inside `rootfs` (directories 0755, files 0755 and
 * empty, as runc would create them), so that the runtime does not create them in the layer itself
 * and they can be told apart and removed after the run (BuildKit's executor/stubs.go does the same,
 * and restores the parent's timestamps, moby/buildkit#3148). Every component is resolved with
 * {@link resolveInRoot}, so a symlink in the rootfs cannot place a stub outside it.
 */
export async function createMountStubs(rootfs: string, points: readonly MountPoint[]): Promise<MountStubs> {
  const root = posix.resolve(rootfs);
  const created: CreatedStub[] = [];
  const parents = new Map<string, ParentTimes>();
  // Creates `path` (a container path, symlinks allowed) and whatever it needs above it, where its
  // resolution inside the root says: through a symlink /etc -> /private/etc that is /private/etc.
  const ensure = async (path: string, kind: MountPoint['kind']): Promise<void> => {
    const real = resolveInRoot(root, path);
    if (real === root || (await exists(real))) return;
    const resolved = real.slice(root.length);
    await ensure(posix.dirname(resolved), 'directory');
    const parent = dirname(real);
    if (!parents.has(parent)) {
      const before = (await stat(parent, { bigint: true })).mtimeNs;
      parents.set(parent, { path: posix.dirname(resolved), before, after: before });
    }
    try {
      if (kind === 'file') await (await open(real, 'wx', 0o755)).close();
      else await mkdir(real, { mode: 0o755 });
    } catch (error) {
      // Created by someone else since we looked (two runs on one rootfs): theirs, not a stub of ours.
      if (isErrnoException(error, 'EEXIST')) return;
      throw error;
    }
    created.push({ path: resolved, real });
  };
  try {
    for (const point of points) await ensure(cleanPath(`/${point.path}`), point.kind);
    for (const [parent, times] of parents) times.after = (await stat(parent, { bigint: true })).mtimeNs;
  } catch (error) {
    await removeStubs(root, created, parents);
    throw error;
  }
  return { paths: created.map((c) => c.path), remove: () => removeStubs(root, created, parents) };
}

async function removeStubs(root: string, created: readonly CreatedStub[], parents: Map<string, ParentTimes>) {
  // The parents' mtimes as the run left them, before our removals bump them again.
  const atEnd = new Map<string, bigint>();
  for (const parent of parents.keys()) {
    const now = await lstatOptionalNs(parent);
    if (now !== undefined) atEnd.set(parent, now.mtimeNs);
  }
  for (const stub of [...created].reverse()) {
    // Re-resolve: if the step replaced a component with a symlink, this no longer lands on `real`.
    if (resolveInRoot(root, stub.path, { followFinal: false }) !== stub.real) continue;
    const info = await lstatOptional(stub.real);
    if (info === undefined) continue;
    try {
      if (info.isDirectory()) {
        if ((await readdir(stub.real)).length === 0) await rmdir(stub.real);
      } else if (info.isFile() && info.size === 0) {
        await unlink(stub.real);
      }
    } catch (error) {
      // Raced with something else removing or filling it: what is there now stays.
      if (!isErrnoException(error, 'ENOENT') && !isErrnoException(error, 'ENOTEMPTY')) throw error;
    }
  }
  for (const [parent, times] of parents) {
    const end = atEnd.get(parent);
    if (end === undefined) continue;
    // Only a directory still at the place it was made: a step that replaced it with a symlink
    // (to a host directory, say) must not have the host's directory touched through it.
    if (resolveInRoot(root, times.path, { followFinal: false }) !== parent) continue;
    if ((await lstatOptional(parent))?.isDirectory() !== true) continue;
    // Untouched by the step since we made the stubs: back to the original time. Otherwise keep the
    // step's own change and only undo the bump from removing the stub (what BuildKit does).
    await setMtime(parent, end === times.after ? times.before : end);
  }
}

/**
 * Sets a directory's mtime to the nanosecond. Node's utimes takes seconds as a double, which loses
 * the low bits of the nanoseconds, so GNU touch does it.
 */
export async function setMtime(path: string, mtimeNs: bigint): Promise<void> {
  const seconds = mtimeNs / 1_000_000_000n;
  const nanos = (mtimeNs % 1_000_000_000n).toString().padStart(9, '0');
  // -h: the path's own times, never a link's target (the caller checked it is a directory).
  await execFileAsync('touch', ['-h', '-m', '-c', '-d', `@${seconds}.${nanos}`, '--', path]);
}

async function exists(path: string): Promise<boolean> {
  return (await lstatOptional(path)) !== undefined;
}

async function lstatOptional(path: string) {
  try {
    return await lstat(path);
  } catch (error) {
    if (isErrnoException(error, 'ENOENT') || isErrnoException(error, 'ENOTDIR')) return undefined;
    throw error;
  }
}

async function lstatOptionalNs(path: string) {
  try {
    return await lstat(path, { bigint: true });
  } catch (error) {
    if (isErrnoException(error, 'ENOENT') || isErrnoException(error, 'ENOTDIR')) return undefined;
    throw error;
  }
}
