import type { Layer } from '../oci/index.ts';
import { chainIdOf, type Snapshot } from '../snapshot/index.ts';
import type { SolverDeps } from './step-context.ts';

/**
 * The snapshot of `layers`, unpacked as needed, leased first: a `strata prune` running beside the
 * build then keeps its unpacked layers for as long as the build lives (a finished stage that a
 * later `COPY --from` reads; the base a step runs on). Every snapshot the solver makes is leased,
 * here or, for a committed step, in commitLayer.
 */
export async function unpackLeased(
  deps: Pick<SolverDeps, 'store' | 'snapshotter'>,
  layers: readonly Layer[],
  signal?: AbortSignal,
): Promise<Snapshot> {
  const diffIds = layers.map((l) => l.diffId);
  await deps.store.lease.addSnapshot({ chainId: chainIdOf(diffIds), diffIds }, signal);
  // A layer still to be downloaded (an imported cache's hit) starts downloading now, beside the
  // unpack of the layers below it, not once the unpack reaches it. Its failure is not lost: the
  // fetch is shared, so the unpack's `open` of that layer awaits the same promise and throws it.
  for (const layer of layers) layer.fetch?.(signal).catch(() => undefined);
  return deps.snapshotter.unpack(layers, signal);
}
