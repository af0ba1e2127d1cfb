import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { InvalidInputError, isErrnoException, MS_NODEV, MS_NOSUID, nativeCalls } from '../util/index.ts';
import type { ExecMount } from './executor.ts';
import type { MountPoint } from './mount-stubs.ts';
import type { OciMount } from './runtime-spec.ts';

/** A step's mounts made ready for a runtime spec. */
export interface PreparedMounts {
  readonly mounts: readonly OciMount[];
  /** The mount points they need in the rootfs. */
  readonly points: readonly MountPoint[];
  /** Unmounts and removes what preparing created (the secrets tmpfs); idempotent. */
  release(): Promise<void>;
}

const execFileAsync = promisify(execFile);

/**
 * Turns `RUN --mount` requests into runtime-spec mounts, with BuildKit's options
 * (solver/llbsolver/mounts/mount.go): binds `rbind` + `ro`/`rw`; cache directories created on first
 * use with their uid, gid and mode; tmpfs `nosuid` with an optional size; secrets written into a
 * tmpfs under `bundle` (never the rootfs, never the disk when the tmpfs can be mounted) and bound
 * `ro,rbind,nodev,nosuid` (+`noexec` unless the mode has an execute bit).
 */
export async function prepareStepMounts(
  mounts: readonly ExecMount[],
  bundle: string,
): Promise<PreparedMounts> {
  const result: OciMount[] = [];
  const points: MountPoint[] = [];
  let secretsDir: string | undefined;
  let secretsMounted = false;
  const release = async () => {
    if (secretsDir === undefined) return;
    if (secretsMounted) {
      const native = nativeCalls();
      if (native) native.umount2(secretsDir, 0);
      else await execFileAsync('umount', [secretsDir]);
      secretsMounted = false;
    }
    await rm(secretsDir, { recursive: true, force: true });
    secretsDir = undefined;
  };
  try {
    for (const mount of mounts) {
      const target = checkTarget(mount.target);
      switch (mount.type) {
        case 'bind': {
          const info = await stat(mount.source).catch((error: unknown) => {
            throw new InvalidInputError(`bind mount source ${mount.source} for ${target} is not accessible`, {
              cause: error,
            });
          });
          result.push({
            destination: target,
            type: 'bind',
            source: mount.source,
            options: ['rbind', mount.readonly ? 'ro' : 'rw'],
          });
          points.push({ path: target, kind: info.isDirectory() ? 'directory' : 'file' });
          break;
        }
        case 'cache': {
          await ensureCacheDirectory(mount.source, mount.uid ?? 0, mount.gid ?? 0, mount.mode ?? 0o755);
          result.push({
            destination: target,
            type: 'bind',
            source: mount.source,
            options: ['rbind', mount.readonly === true ? 'ro' : 'rw'],
          });
          points.push({ path: target, kind: 'directory' });
          break;
        }
        case 'tmpfs': {
          const options = ['nosuid'];
          if (mount.sizeBytes !== undefined) options.push(`size=${mount.sizeBytes}`);
          result.push({ destination: target, type: 'tmpfs', source: 'tmpfs', options });
          points.push({ path: target, kind: 'directory' });
          break;
        }
        case 'secret': {
          if (secretsDir === undefined) {
            secretsDir = join(bundle, 'secrets');
            await mkdir(secretsDir, { mode: 0o711 });
            secretsMounted = await mountTmpfs(secretsDir);
          }
          const mode = (mount.mode ?? 0o400) & 0o777;
          const file = join(secretsDir, randomBytes(12).toString('hex'));
          await writeFile(file, mount.content, { mode: 0o600, flag: 'wx' });
          await chown(file, mount.uid ?? 0, mount.gid ?? 0);
          await chmod(file, mode);
          const options = ['ro', 'rbind', 'nodev', 'nosuid'];
          if ((mode & 0o111) === 0) options.push('noexec');
          result.push({ destination: target, type: 'bind', source: file, options });
          points.push({ path: target, kind: 'file' });
          break;
        }
      }
    }
  } catch (error) {
    await release();
    throw error;
  }
  return { mounts: result, points, release };
}

/** An absolute, clean container path; anything else is the caller's bug or bad input. */
function checkTarget(target: string): string {
  if (!target.startsWith('/')) {
    throw new InvalidInputError(`mount target ${JSON.stringify(target)} is not an absolute path`);
  }
  const clean = posix.normalize(target).replace(/\/+$/, '');
  if (clean === '') throw new InvalidInputError('a mount cannot replace the root directory');
  return clean;
}

/** Creates a cache directory with its owner and mode the first time it is used (BuildKit's semantics). */
async function ensureCacheDirectory(path: string, uid: number, gid: number, mode: number): Promise<void> {
  try {
    await mkdir(path, { mode });
  } catch (error) {
    if (isErrnoException(error, 'EEXIST')) return;
    if (!isErrnoException(error, 'ENOENT')) throw error;
    await mkdir(join(path, '..'), { recursive: true, mode: 0o755 });
    return ensureCacheDirectory(path, uid, gid, mode);
  }
  await chown(path, uid, gid);
  await chmod(path, mode); // mkdir's mode is filtered by the umask
}

/**
 * Mounts a small private tmpfs at `dir` for secret files. Without the privilege to mount (rootless),
 * the secrets stay in `dir` itself, a 0711 directory outside the rootfs removed after the run.
 */
async function mountTmpfs(dir: string): Promise<boolean> {
  try {
    const native = nativeCalls();
    if (native) native.mount('tmpfs', dir, 'tmpfs', MS_NODEV | MS_NOSUID, 'mode=0711');
    else await execFileAsync('mount', ['-t', 'tmpfs', '-o', 'mode=0711,nodev,nosuid', 'tmpfs', dir]);
    return true;
  } catch {
    return false; // no privilege to mount: fall back to the plain directory, as documented above
  }
}
