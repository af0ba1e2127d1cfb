import { lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';
import { isErrnoException, StrataError } from './errors.ts';

/** Thrown when a path would resolve through too many symlinks (a loop). */
export class SymlinkLoopError extends StrataError {
  constructor(path: string) {
    super('SYMLINK_LOOP', `too many levels of symbolic links resolving ${JSON.stringify(path)}`);
  }
}

const MAX_SYMLINKS = 255;

/**
 * Resolves `path` inside `root` the way a process chrooted at `root` would see it: `..` stops at
 * the root, and every symlink met on the way is followed *relative to the root* (an absolute
 * target means root + target). The result is always `root` or a path below it, so no symlink in
 * the tree can lead a write outside. Components that do not exist are kept as they are.
 *
 * This is the semantics of Docker's and BuildKit's `securejoin` (github.com/cyphar/filepath-securejoin):
 * COPY into a rootfs whose `/usr/bin` is a symlink to `/bin` must land in `/bin`, never on the host.
 *
 * @param options.followFinal when false, a symlink in the last component is not followed (for
 *   operations that act on the link itself: lchown, unlink, a tar entry replacing it).
 */
export function resolveInRoot(root: string, path: string, options: { followFinal?: boolean } = {}): string {
  const followFinal = options.followFinal ?? true;
  const rootClean = posix.resolve(root);
  let pending = splitPath(path);
  const resolved: string[] = [];
  let linksFollowed = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = posix.join(rootClean, ...resolved, part);
    const isLast = pending.length === 0;
    if (isLast && !followFinal) {
      resolved.push(part);
      break;
    }
    let target: string | undefined;
    try {
      if (lstatSync(candidate).isSymbolicLink()) target = readlinkSync(candidate);
    } catch (error) {
      if (!isErrnoException(error, 'ENOENT') && !isErrnoException(error, 'ENOTDIR')) throw error;
    }
    if (target === undefined) {
      resolved.push(part);
      continue;
    }
    if (++linksFollowed > MAX_SYMLINKS) throw new SymlinkLoopError(path);
    if (target.startsWith('/')) resolved.length = 0;
    pending = [...splitPath(target), ...pending];
  }
  return resolved.length === 0 ? rootClean : posix.join(rootClean, ...resolved);
}

/** Splits a path into its non-empty, non-`.` components. */
function splitPath(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.');
}

/**
 * Cleans a path the way Go's `filepath.Clean` does (lexically, no filesystem access):
 * `a//b/./c/..` → `a/b`, `` → `.`, `/..` → `/`.
 */
export function cleanPath(path: string): string {
  if (path === '') return '.';
  const absolute = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!absolute) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (absolute) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

/** True when `child` is `parent` or lies below it (both absolute, cleaned). */
export function isWithin(parent: string, child: string): boolean {
  if (parent === '/') return child.startsWith('/');
  return child === parent || child.startsWith(`${parent}/`);
}
