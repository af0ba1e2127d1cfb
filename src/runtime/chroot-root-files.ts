import { type BigIntStats, constants, type Stats } from 'node:fs';
import { chmod, chown, lstat, mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { posix } from 'node:path';
import { InvalidInputError, isErrnoException, resolveInRoot } from '../util/index.ts';
import { createMountStubs, type MountStubs, setMtime } from './mount-stubs.ts';

/** A file a step sees in place of the rootfs's own for the length of one run (/etc/hosts, /etc/resolv.conf). */
export interface RunFile {
  /** Absolute path inside the container. */
  readonly path: string;
  readonly content: string;
}

/**
 * What `--isolation=chroot` changes in a step's root filesystem for one run, and how to put it back.
 * Without CAP_SYS_ADMIN nothing can be mounted, so what runc gets from mounts is made in the rootfs
 * itself and undone after the run, so that the layer holds what it would have held under runc:
 *
 * - /etc/hosts and /etc/resolv.conf (runc: read-only bind mounts of generated files) are written
 *   in place; afterwards the original bytes, owner, mode and mtime are written back, or the file is
 *   removed again when the rootfs had none (and its parent's mtime put back). What the step wrote
 *   to them is discarded, as runc's read-only mounts refused it.
 * - /proc, /dev and /sys, the runtime's own mount points, are created when missing and stay in the
 *   layer, as they do under runc and BuildKit.
 * - /dev (runc: a tmpfs) gets the standard device nodes, made by the helper after chroot(2) with
 *   CAP_MKNOD; afterwards everything the run added to /dev is removed and its mtime put back.
 */
export interface ChrootRootFiles {
  /** `name:major:minor` of the devices missing from /dev, for the helper to make. */
  readonly devices: readonly string[];
  /** Puts the rootfs back (see above). Never follows a link the step planted. */
  restore(): Promise<void>;
}

/** A standard device node: /dev/<name>, character device major:minor (runc's default set). */
export interface DeviceNode {
  readonly name: string;
  readonly major: number;
  readonly minor: number;
}

/** runc's default devices (runtime-spec's "default devices"; the same list as `DEVICES` in runtime-spec.ts). */
export const CHROOT_DEVICES: readonly DeviceNode[] = [
  { name: 'null', major: 1, minor: 3 },
  { name: 'zero', major: 1, minor: 5 },
  { name: 'full', major: 1, minor: 7 },
  { name: 'random', major: 1, minor: 8 },
  { name: 'urandom', major: 1, minor: 9 },
  { name: 'tty', major: 5, minor: 0 },
];

/** The runtime's own mount points: created when missing and left in the layer, as runc does. */
const KERNEL_MOUNT_POINTS = ['/proc', '/dev', '/sys'];

interface SavedFile {
  readonly path: string;
  readonly real: string;
  readonly content: Buffer;
  readonly stat: BigIntStats;
}

/**
 * Prepares `rootfs` for one chroot run: the kernel mount points, the run files and the list of
 * device nodes to make. The caller must call `restore()` after the run, whatever happened.
 */
export async function prepareChrootRootFiles(
  rootfs: string,
  files: readonly RunFile[],
): Promise<ChrootRootFiles> {
  const root = posix.resolve(rootfs);
  const saved: SavedFile[] = [];
  let stubs: MountStubs | undefined;
  let devBefore: { real: string; names: Set<string>; mtimeNs: bigint; ino: bigint } | undefined;
  const restore = async () => {
    const errors: unknown[] = [];
    const attempt = async (work: () => Promise<void>) => {
      try {
        await work();
      } catch (error) {
        errors.push(error);
      }
    };
    for (const file of saved) await attempt(() => restoreFile(root, file));
    if (stubs) {
      for (const path of stubs.paths) await attempt(() => emptyStubFile(root, path));
      await attempt(() => stubs?.remove() ?? Promise.resolve());
    }
    if (devBefore) {
      const before = devBefore;
      await attempt(() => restoreDev(root, before));
    }
    if (errors.length > 0) throw errors[0];
  };
  try {
    for (const point of KERNEL_MOUNT_POINTS) {
      const real = resolveInRoot(root, point);
      const info = await lstatOptional(real);
      if (info === undefined) await mkdir(real, { mode: 0o755 });
      else if (!info.isDirectory())
        throw new InvalidInputError(`${point} in the step's root filesystem is not a directory`);
    }
    const devReal = resolveInRoot(root, '/dev');
    const devStat = await lstat(devReal, { bigint: true });
    const names = new Set(await readdir(devReal));
    devBefore = { real: devReal, names, mtimeNs: devStat.mtimeNs, ino: devStat.ino };
    const devices = CHROOT_DEVICES.filter((d) => !names.has(d.name)).map(
      (d) => `${d.name}:${d.major}:${d.minor}`,
    );

    const missing: RunFile[] = [];
    for (const file of files) {
      const real = resolveInRoot(root, file.path);
      const stat = await lstatOptional(real, true);
      if (stat === undefined) {
        missing.push(file);
        continue;
      }
      if (!stat.isFile())
        throw new InvalidInputError(`${file.path} in the step's root filesystem is not a regular file`);
      saved.push({ path: file.path, real, content: await readFile(real), stat });
      await writeNoFollow(real, file.content, 'w');
      await chown(real, 0, 0);
      await chmod(real, 0o644);
    }
    if (missing.length > 0) {
      stubs = await createMountStubs(
        root,
        missing.map((f) => ({ path: f.path, kind: 'file' as const })),
      );
      for (const file of missing) {
        const real = resolveInRoot(root, file.path);
        await writeNoFollow(real, file.content, 'w');
        await chmod(real, 0o644);
      }
    }
    return { devices, restore };
  } catch (error) {
    await restore().catch(() => undefined); // the preparation's own error is the one to report
    throw error;
  }
}

/** Writes the saved bytes and metadata back; a path the step replaced (even by a symlink) is made a file again. */
async function restoreFile(root: string, file: SavedFile): Promise<void> {
  // Where the file was (its symlinks followed then), re-resolved without following the last part.
  const real = resolveInRoot(root, file.real.slice(root.length) || '/', { followFinal: false });
  if (real !== file.real) {
    // A parent was replaced by a symlink: the original location is gone from the tree, and what the
    // path resolves to now is the step's. Nothing of ours to put back there.
    return;
  }
  const now = await lstatOptional(real);
  if (now !== undefined && !now.isFile()) await rm(real, { recursive: true, force: true });
  await writeNoFollow(real, file.content, now?.isFile() ? 'w' : 'wx');
  await chown(real, Number(file.stat.uid), Number(file.stat.gid));
  await chmod(real, Number(file.stat.mode) & 0o7777);
  await setMtime(real, file.stat.mtimeNs);
}

/** Empties a run file created as a stub, so that the stub removal (empty files only) takes it. */
async function emptyStubFile(root: string, path: string): Promise<void> {
  const real = resolveInRoot(root, path, { followFinal: false });
  const info = await lstatOptional(real);
  if (info?.isFile() && info.size > 0) await writeNoFollow(real, '', 'w');
}

/** Removes what the run added to /dev and puts its mtime back (runc's /dev is a tmpfs). */
async function restoreDev(
  root: string,
  before: { real: string; names: Set<string>; mtimeNs: bigint; ino: bigint },
): Promise<void> {
  if (resolveInRoot(root, '/dev', { followFinal: false }) !== before.real) return;
  const now = await lstatOptional(before.real, true);
  if (now === undefined || !now.isDirectory() || now.ino !== before.ino) return;
  for (const name of await readdir(before.real)) {
    // rm never follows a symlink it removes, nor one inside a directory it removes.
    if (!before.names.has(name)) await rm(posix.join(before.real, name), { recursive: true, force: true });
  }
  await setMtime(before.real, before.mtimeNs);
}

async function writeNoFollow(path: string, content: string | Buffer, flags: 'w' | 'wx'): Promise<void> {
  const { O_WRONLY, O_CREAT, O_TRUNC, O_EXCL, O_NOFOLLOW } = constants;
  const mode = O_WRONLY | O_CREAT | O_NOFOLLOW | (flags === 'wx' ? O_EXCL : O_TRUNC);
  const handle = await open(path, mode, 0o644);
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
}

async function lstatOptional(path: string): Promise<Stats | undefined>;
async function lstatOptional(path: string, bigint: true): Promise<BigIntStats | undefined>;
async function lstatOptional(path: string, bigint?: true) {
  try {
    return bigint ? await lstat(path, { bigint: true }) : await lstat(path);
  } catch (error) {
    if (isErrnoException(error, 'ENOENT') || isErrnoException(error, 'ENOTDIR')) return undefined;
    throw error;
  }
}
