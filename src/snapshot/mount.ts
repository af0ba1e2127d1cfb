import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { currentUserNamespace, MNT_DETACH, nativeCalls, StrataError } from '../util/index.ts';

const run = promisify(execFile);

/** Thrown when mounting or unmounting fails. */
export class MountError extends StrataError {
  constructor(message: string, options: { cause?: unknown; hint?: string } = {}) {
    super('MOUNT_FAILED', message, options);
  }
}

/** An overlay's directories: absolute, or relative to the `cwd` given to {@link mountOverlay}. */
export interface OverlayDirs {
  /** Top layer first. */
  readonly lower: readonly string[];
  /** upperdir and workdir: a writable overlay (none: read-only). */
  readonly upper?: { readonly upper: string; readonly work: string };
  /** Further options (`index=off`, …). */
  readonly options?: readonly string[];
}

/**
 * The options every strata overlay is mounted with: no inodes index, no redirects (a renamed
 * directory is copied up whole, so the upper dir alone says what changed) and no metacopy. In a
 * user namespace overlayfs keeps its marks in `user.overlay.*` xattrs (`userxattr`), which implies
 * redirect_dir=nofollow (redirects neither made nor followed) and refuses an explicit
 * `redirect_dir=off` there (EPERM without `userxattr`, EINVAL with it; kernel 6.x).
 */
export function overlayMountOptions(): readonly string[] {
  return currentUserNamespace()
    ? ['userxattr', 'index=off', 'metacopy=off']
    : ['index=off', 'redirect_dir=off', 'metacopy=off'];
}

/** The kernel copies mount options into one page, NUL included. */
const MAX_MOUNT_DATA = 4095;

/**
 * The overlay option string, with each relative directory prefixed by `prefix`. A `\`, `:` or `,`
 * in a path is escaped with a backslash, as overlayfs reads them (a build context may be anywhere).
 */
export function overlayOptions(dirs: OverlayDirs, prefix = ''): string {
  const dir = (d: string) => (d.startsWith('/') ? d : prefix + d).replace(/[\\:,]/g, '\\$&');
  const parts = [`lowerdir=${dirs.lower.map(dir).join(':')}`];
  if (dirs.upper) parts.push(`upperdir=${dir(dirs.upper.upper)}`, `workdir=${dir(dirs.upper.work)}`);
  return [...parts, ...(dirs.options ?? [])].join(',');
}

/**
 * Mounts an overlay at `target` — with mount(2) through strata's addon when it is built and the
 * options, made absolute, fit in a page; else by spawning mount(8) in `cwd` with the directories
 * relative to it, which keeps the options short (Docker's overlay2 uses the same trick with `l/`
 * links). mount(8) costs ~5 ms per mount and unmount pair in a child process, the calls ~0.6 ms.
 */
export async function mountOverlay(target: string, dirs: OverlayDirs, cwd: string): Promise<void> {
  const native = nativeCalls();
  const absolute = native ? overlayOptions(dirs, `${cwd}/`) : '';
  try {
    if (native && Buffer.byteLength(absolute) <= MAX_MOUNT_DATA)
      native.mount('overlay', target, 'overlay', 0, absolute);
    else await run('mount', ['-t', 'overlay', 'overlay', '-o', overlayOptions(dirs), target], { cwd });
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr?.trim() || (error as { code?: string }).code;
    throw new MountError(`mounting overlay at ${target} failed${detail ? `: ${detail}` : ''}`, {
      cause: error,
      hint: 'overlay mounts need root (or a user namespace) and a kernel with overlayfs; STRATA_SNAPSHOTTER=native avoids them',
    });
  }
}

/** Unmounts `target`; falls back to a lazy unmount when it is busy. */
export async function unmount(target: string): Promise<void> {
  const native = nativeCalls();
  try {
    if (native) native.umount2(target, 0);
    else await run('umount', [target]);
  } catch (error) {
    try {
      if (native) native.umount2(target, MNT_DETACH);
      else await run('umount', ['-l', target]);
    } catch {
      throw new MountError(`unmounting ${target} failed`, { cause: error });
    }
  }
}
