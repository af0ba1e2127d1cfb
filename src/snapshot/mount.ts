import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { StrataError } from '../util/index.ts';

const run = promisify(execFile);

/** Thrown when mount(8) or umount(8) fails. */
export class MountError extends StrataError {
  constructor(message: string, options: { cause?: unknown; hint?: string } = {}) {
    super('MOUNT_FAILED', message, options);
  }
}

/**
 * Mounts an overlay at `target`. Paths in `options` may be relative to `cwd`: the kernel resolves
 * them against the mounting process's working directory, which keeps the option string short
 * (overlay options must fit in one page; Docker's overlay2 uses the same trick with `l/` links).
 */
export async function mountOverlay(target: string, options: string, cwd: string): Promise<void> {
  try {
    await run('mount', ['-t', 'overlay', 'overlay', '-o', options, target], { cwd });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new MountError(`mounting overlay at ${target} failed${stderr ? `: ${stderr}` : ''}`, {
      cause: error,
      hint: 'overlay mounts need root (or a user namespace) and a kernel with overlayfs; STRATA_SNAPSHOTTER=native avoids them',
    });
  }
}

/** Unmounts `target`; falls back to a lazy unmount when it is busy. */
export async function unmount(target: string): Promise<void> {
  try {
    await run('umount', [target]);
  } catch (error) {
    try {
      await run('umount', ['-l', target]);
    } catch {
      throw new MountError(`unmounting ${target} failed`, { cause: error });
    }
  }
}
