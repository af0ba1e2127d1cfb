import type { DiveNode, DiveTree } from './dive-tree.ts';

/** One sighting of a path in a layer, as dive's `EfficiencyData.Nodes` holds them. */
export interface PathSighting {
  /** Index of the layer (0 = the base layer). */
  readonly layer: number;
  /** The bytes dive charges this sighting (0 for a whiteout of a file). */
  readonly size: number;
  readonly whiteout: boolean;
}

/** dive's `EfficiencyData`: every sighting of one path across the layers. */
export interface PathEfficiency {
  readonly path: string;
  readonly sightings: readonly PathSighting[];
  /** Σ of the sightings' sizes. */
  readonly cumulativeSize: number;
  /** The smallest sighting (-1 when the only sighting was a whiteout dive could not resolve). */
  readonly minDiscoveredSize: number;
}

/** What {@link diveEfficiency} computes. */
export interface DiveEfficiency {
  /** Σ min / Σ cumulative over every path; 1 when nothing has a size. */
  readonly score: number;
  /** Paths seen in two or more layers, largest cumulative size first. */
  readonly inefficiencies: readonly PathEfficiency[];
  /** Σ cumulative size of the inefficiencies: dive's "wasted bytes" (every copy counts, the kept one too). */
  readonly wastedBytes: number;
}

interface MutableEfficiency {
  path: string;
  sightings: PathSighting[];
  cumulativeSize: number;
  minDiscoveredSize: number;
}

/**
 * dive's efficiency score and inefficient paths, computed exactly as `Efficiency(trees)` in
 * wagoodman/dive `dive/filetree/efficiency.go` does:
 * - the leaves of each layer's tree are visited in layer order, children before parents, by name;
 * - a leaf's size is its tar size; a whiteout's is 0 unless the removed path was a directory in the
 *   stack of the layers below, then the sum of the sizes under it;
 * - a whiteout whose path is not in the layers below stops the walk of that layer (dive returns an
 *   error from its visitor and only logs it), leaving a path entry whose minimum is -1;
 * - score = Σ min / Σ cumulative; a path seen twice or more is an inefficiency.
 */
export function diveEfficiency(trees: readonly DiveTree[]): DiveEfficiency {
  const byPath = new Map<string, MutableEfficiency>();
  const inefficient: MutableEfficiency[] = [];
  // dive stacks trees[0] onto a copy of itself, then trees[1..k-1], for a whiteout in layer k.
  const stacked = trees.length > 0 ? trees[0]!.copy() : undefined;
  trees.forEach((tree, layer) => {
    tree.root.visitChildFirst(
      (node: DiveNode) => {
        const path = node.path();
        let data = byPath.get(path);
        if (!data) {
          data = { path, sightings: [], cumulativeSize: 0, minDiscoveredSize: -1 };
          byPath.set(path, data);
        }
        let size = 0;
        if (node.isWhiteout) {
          const previous = stacked!.getNode(path);
          if (!previous) return false; // dive: "path does not exist" aborts this layer's walk
          if (previous.info.isDir) {
            previous.visitChildFirst((n) => {
              size += n.info.size;
              return true;
            });
            // dive's sizer also visits the node itself unless it is the root.
          }
        } else {
          size = node.info.size;
        }
        data.cumulativeSize += size;
        if (data.minDiscoveredSize < 0 || size < data.minDiscoveredSize) data.minDiscoveredSize = size;
        data.sightings.push({ layer, size, whiteout: node.isWhiteout });
        if (data.sightings.length === 2) inefficient.push(data);
        return true;
      },
      (node) => node.isLeaf,
    );
    stacked!.stack(tree);
  });
  let minimum = 0;
  let discovered = 0;
  for (const data of byPath.values()) {
    minimum += data.minDiscoveredSize;
    discovered += data.cumulativeSize;
  }
  const score = discovered === 0 ? 1 : minimum / discovered;
  // dive sorts ascending (sort.Sort, not stable) and its reports read the list from the end.
  const inefficiencies = [...inefficient].sort((a, b) => b.cumulativeSize - a.cumulativeSize);
  const wastedBytes = inefficiencies.reduce((n, d) => n + d.cumulativeSize, 0);
  return { score, inefficiencies, wastedBytes };
}
