import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, constants, lchownSync, lstatSync, lutimesSync, mkdirSync, type Stats } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { nativeCalls } from '../util/index.ts';

const run = promisify(execFile);

/** Whiteouts made by spawning mknod(1) (no addon) before the caller had better copy. */
const MAX_SPAWNED_WHITEOUTS = 64;

/** What a bind mount's source must look like inside a RUN step (see Snapshotter.bindView). */
export interface BindViewOptions {
  /** Paths under the source (relative, `/`-separated) the step must not see: .dockerignore'd files. */
  readonly hidden: readonly string[];
  /** Writes allowed, and thrown away when the view is released (`RUN --mount=type=bind,rw`). */
  readonly writable: boolean;
}

/**
 * Fills `dir` as the top layer of an overlay over `source` that hides `hidden`: a whiteout (a 0:0
 * character device) for each hidden path, under directories that copy their counterparts' mode,
 * owner and times in `source` — the topmost layer's directory is what the overlay shows, so they
 * must look like the source's. `dir` itself takes the source root's. Throws when it would take
 * more than a few dozen mknod(1) processes (no addon): the caller then copies instead.
 */
export function makeWhiteoutLayer(dir: string, source: string, hidden: readonly string[]): void {
  if (!nativeCalls()?.mknod && hidden.length > MAX_SPAWNED_WHITEOUTS) {
    // One mknod(1) process per whiteout: beyond a few dozen, copying is the cheaper view.
    throw new Error(`${hidden.length} whiteouts without mknod(2)`);
  }
  const made = new Map<string, Stats>([['', lstatSync(source)]]);
  for (const path of hidden) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (made.has(parent)) continue;
      mkdirSync(join(dir, parent));
      made.set(parent, lstatSync(join(source, parent)));
    }
    makeWhiteout(join(dir, path));
  }
  // Deepest first: creating entries moves a directory's mtime, so its own times come last.
  for (const [path, st] of [...made].sort((a, b) => b[0].length - a[0].length)) {
    const abs = path === '' ? dir : join(dir, path);
    lchownSync(abs, st.uid, st.gid);
    chmodSync(abs, st.mode & 0o7777);
    lutimesSync(abs, st.atime, st.mtime);
  }
}

/** An overlay whiteout: mknod(2) through strata's addon, else mknod(1). */
function makeWhiteout(path: string): void {
  const native = nativeCalls();
  if (native?.mknod) {
    native.mknod(path, constants.S_IFCHR, 0, 0);
    return;
  }
  const r = spawnSync('mknod', ['-m', '000', '--', path, 'c', '0', '0'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mknod ${path} failed: ${r.stderr?.trim() || String(r.error)}`);
}

/**
 * A private copy of `source` at `dest` (`cp -a`: modes, owners, times, xattrs, links; reflinks
 * where the filesystem has them), without the `hidden` paths — for where an overlay cannot be used.
 */
export async function copyForBind(source: string, dest: string, hidden: readonly string[]): Promise<void> {
  if (lstatSync(source).isDirectory()) {
    mkdirSync(dest, { recursive: true });
    await run('cp', ['-a', '--reflink=auto', '--', `${source}/.`, `${dest}/`]);
    for (const path of hidden) await rm(join(dest, path), { recursive: true, force: true });
  } else {
    await run('cp', ['-a', '--reflink=auto', '--', source, dest]);
  }
}
