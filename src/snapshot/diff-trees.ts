import type { BigIntStats } from 'node:fs';
import { readdirSync, readlinkSync } from 'node:fs';
import type { LayerChange } from '../archive/index.ts';
import { lstatOrUndefined, sameMetadata } from './metadata.ts';

/**
 * The changes that turn tree `lower` into tree `upper`, found by walking both (the native
 * snapshotter's differ, like containerd's continuity `fs.Changes`): entries only in `upper` are
 * additions (a new directory with all its content), entries only in `lower` are whiteouts, entries
 * whose type, mode, owner, size, mtime, xattrs or symlink target differ are additions; a directory
 * whose own metadata is unchanged is not emitted, but its children are compared.
 *
 * `changedAfter` (a ctime in ns, from {@link ctimeWatermark}) makes a non-directory whose inode
 * changed after it an addition even when its metadata is the same as below — a file written again
 * with the same content and times, as a second identical COPY does. overlayfs has copied such a
 * file up, so its differ emits it, and BuildKit's layer holds it: the two snapshotters agree.
 * Likewise a directory born after it where the lower tree has one was removed and made again:
 * it is opaque, as overlayfs makes it.
 */
export function diffTrees(
  lower: string | undefined,
  upper: string,
  options: { changedAfter?: bigint } = {},
): LayerChange[] {
  const touched = (stat: BigIntStats) =>
    options.changedAfter !== undefined && stat.ctimeNs > options.changedAfter;
  // Birth times come from statx; a filesystem without them reports 0, which is never after.
  const born = (stat: BigIntStats) =>
    options.changedAfter !== undefined && stat.birthtimeNs > options.changedAfter;
  const changes: LayerChange[] = [];
  const addAll = (rel: string, abs: string, stat: BigIntStats) => {
    changes.push({ kind: 'add', path: rel, source: abs });
    if (stat.isDirectory()) {
      for (const name of readdirSync(abs)) {
        const childAbs = `${abs}/${name}`;
        const childStat = lstatOrUndefined(childAbs);
        if (childStat) addAll(`${rel}/${name}`, childAbs, childStat);
      }
    }
  };
  const walk = (rel: string) => {
    const upperDir = rel === '' ? upper : `${upper}/${rel}`;
    const lowerDir = lower === undefined ? undefined : rel === '' ? lower : `${lower}/${rel}`;
    const upperNames = new Set(readdirSync(upperDir));
    const lowerNames = lowerDir === undefined ? new Set<string>() : new Set(readdirSync(lowerDir));
    for (const name of lowerNames) {
      if (!upperNames.has(name))
        changes.push({ kind: 'whiteout', path: rel === '' ? name : `${rel}/${name}` });
    }
    for (const name of upperNames) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const upAbs = `${upperDir}/${name}`;
      const upStat = lstatOrUndefined(upAbs);
      if (!upStat) continue;
      const lowAbs = lowerDir === undefined ? undefined : `${lowerDir}/${name}`;
      const lowStat = lowAbs === undefined || !lowerNames.has(name) ? undefined : lstatOrUndefined(lowAbs);
      if (!lowStat) {
        addAll(childRel, upAbs, upStat);
        continue;
      }
      const sameType = (upStat.mode & 0o170000n) === (lowStat.mode & 0o170000n);
      if (!sameType) {
        addAll(childRel, upAbs, upStat);
        continue;
      }
      if (upStat.isDirectory() && born(upStat)) {
        // Removed and made again (`rm -rf /w && mkdir /w`): overlayfs turns that into an opaque
        // directory, which hides the lower one's entries; do the same, so the layers agree.
        changes.push({ kind: 'add', path: childRel, source: upAbs });
        changes.push({ kind: 'opaque', path: childRel });
        for (const child of readdirSync(upAbs)) {
          const childAbs = `${upAbs}/${child}`;
          const childStat = lstatOrUndefined(childAbs);
          if (childStat) addAll(`${childRel}/${child}`, childAbs, childStat);
        }
        continue;
      }
      if (upStat.isDirectory()) {
        if (!sameMetadata(upAbs, upStat, lowAbs!, lowStat))
          changes.push({ kind: 'add', path: childRel, source: upAbs });
        walk(childRel);
        continue;
      }
      const changed =
        touched(upStat) ||
        !sameMetadata(upAbs, upStat, lowAbs!, lowStat) ||
        (upStat.isSymbolicLink() && readlinkSync(upAbs) !== readlinkSync(lowAbs!));
      if (changed) changes.push({ kind: 'add', path: childRel, source: upAbs });
    }
  };
  walk('');
  return changes;
}
