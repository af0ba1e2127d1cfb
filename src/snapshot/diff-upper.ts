import type { BigIntStats } from 'node:fs';
import { readdirSync } from 'node:fs';
import type { LayerChange } from '../archive/index.ts';
import { isOpaqueDir, isWhiteoutStat, lstatOrUndefined, sameMetadata } from './metadata.ts';

/** Where a path is found in a stack of overlay-form layer dirs. */
interface LowerHit {
  readonly path: string;
  readonly stat: BigIntStats;
}

/**
 * Looks `rel` up in overlay-form layer dirs (bottom first) the way overlayfs merges them: the
 * topmost layer holding the path wins; a whiteout there, or an opaque or non-directory ancestor
 * in a higher layer, hides everything below.
 */
export function lowerLookup(layers: readonly string[], rel: string): LowerHit | undefined {
  const parts = rel.split('/');
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i]!;
    const stat = lstatOrUndefined(`${layer}/${rel}`);
    if (stat) return isWhiteoutStat(stat) ? undefined : { path: `${layer}/${rel}`, stat };
    // Not here: does an ancestor in this layer hide the lower layers' copy?
    let prefix = layer;
    for (let j = 0; j < parts.length - 1; j++) {
      prefix = `${prefix}/${parts[j]}`;
      const ancestor = lstatOrUndefined(prefix);
      if (!ancestor) break;
      if (!ancestor.isDirectory()) return undefined; // a file or whiteout replaces the directory
      if (isOpaqueDir(prefix)) return undefined;
    }
  }
  return undefined;
}

/**
 * The changes an overlayfs upperdir holds against its lower layers, as BuildKit's overlay differ
 * computes them (util/overlay, read for semantics): a 0:0 char device is a deletion (dropped when
 * nothing below has the path), an opaque directory replaces the lower directory's content, a
 * directory that was only copied up (same metadata as below) is not itself a change but its
 * children are walked, everything else is an addition.
 */
export function diffUpperdir(upper: string, lowers: readonly string[]): LayerChange[] {
  const changes: LayerChange[] = [];
  // `belowHasDir`: the lower layers hold this directory, so its entries may shadow theirs. Under
  // a directory they lack (a new one), nothing below can exist: its subtree is all additions,
  // with no lookups below and no opaque flag to read (a whiteout there hides nothing).
  const walk = (rel: string, belowHasDir: boolean) => {
    const dir = rel === '' ? upper : `${upper}/${rel}`;
    for (const name of readdirSync(dir)) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const abs = `${upper}/${childRel}`;
      const stat = lstatOrUndefined(abs);
      if (!stat) continue;
      if (isWhiteoutStat(stat)) {
        if (belowHasDir && lowerLookup(lowers, childRel)) changes.push({ kind: 'whiteout', path: childRel });
        continue;
      }
      if (stat.isDirectory()) {
        const lower = belowHasDir ? lowerLookup(lowers, childRel) : undefined;
        const lowerIsDir = lower?.stat.isDirectory() ?? false;
        // An opaque directory hides the lower one's entries: its own are all additions.
        const opaque = lowerIsDir && isOpaqueDir(abs);
        if (opaque) {
          changes.push({ kind: 'add', path: childRel, source: abs });
          changes.push({ kind: 'opaque', path: childRel });
        } else if (!lowerIsDir || !sameMetadata(abs, stat, lower!.path, lower!.stat)) {
          changes.push({ kind: 'add', path: childRel, source: abs });
        }
        walk(childRel, lowerIsDir && !opaque);
        continue;
      }
      changes.push({ kind: 'add', path: childRel, source: abs });
    }
  };
  walk('', true);
  return changes;
}
