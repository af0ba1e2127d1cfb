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
 */
export function diffTrees(lower: string | undefined, upper: string): LayerChange[] {
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
      if (upStat.isDirectory()) {
        if (!sameMetadata(upAbs, upStat, lowAbs!, lowStat))
          changes.push({ kind: 'add', path: childRel, source: upAbs });
        walk(childRel);
        continue;
      }
      const changed =
        !sameMetadata(upAbs, upStat, lowAbs!, lowStat) ||
        (upStat.isSymbolicLink() && readlinkSync(upAbs) !== readlinkSync(lowAbs!));
      if (changed) changes.push({ kind: 'add', path: childRel, source: upAbs });
    }
  };
  walk('');
  return changes;
}
