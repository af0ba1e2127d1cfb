import { type BigIntStats, lstatSync } from 'node:fs';
import { defaultXattrFilter } from '../archive/index.ts';
import { getAttributeSync, isErrnoException, listAttributesSync, overlayOpaqueXattr } from '../util/index.ts';

/** lstat with nanosecond times, or undefined when the path does not exist. */
export function lstatOrUndefined(path: string): BigIntStats | undefined {
  try {
    return lstatSync(path, { bigint: true });
  } catch (error) {
    if (isErrnoException(error, 'ENOENT') || isErrnoException(error, 'ENOTDIR')) return undefined;
    throw error;
  }
}

/** True for an overlayfs whiteout: a character device with device number 0:0. */
export function isWhiteoutStat(stat: BigIntStats): boolean {
  return stat.isCharacterDevice() && stat.rdev === 0n;
}

/** The xattrs a layer records for `path` (symlinks have none here), as name → hex value. */
export function layerXattrs(path: string, stat: BigIntStats): Map<string, string> {
  const out = new Map<string, string>();
  if (stat.isSymbolicLink()) return out;
  for (const name of listAttributesSync(path)) {
    if (!defaultXattrFilter(name)) continue;
    const value = getAttributeSync(path, name);
    if (value) out.set(name, value.toString('hex'));
  }
  return out;
}

/**
 * True when overlayfs marked directory `path` opaque (`trusted.overlay.opaque=y`; `user.overlay.`
 * in a user namespace).
 */
export function isOpaqueDir(path: string): boolean {
  const value = getAttributeSync(path, overlayOpaqueXattr());
  return value !== null && value.length === 1 && value[0] === 0x79;
}

/**
 * Whether two nodes carry the same metadata a layer records: type and permission bits, owner,
 * size, device number, mtime (ns) and xattrs. Like BuildKit's overlay differ, a directory that
 * overlayfs merely copied up (same metadata as below) is not a change.
 */
export function sameMetadata(aPath: string, a: BigIntStats, bPath: string, b: BigIntStats): boolean {
  if (a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid) return false;
  if (a.mtimeNs !== b.mtimeNs) return false;
  if (!a.isDirectory() && a.size !== b.size) return false;
  if ((a.isCharacterDevice() || a.isBlockDevice()) && a.rdev !== b.rdev) return false;
  const xa = layerXattrs(aPath, a);
  const xb = layerXattrs(bPath, b);
  if (xa.size !== xb.size) return false;
  for (const [k, v] of xa) if (xb.get(k) !== v) return false;
  return true;
}
