import { packChanges, writeLayerBlob } from '../archive/index.ts';
import type { Compression, Layer } from '../oci/index.ts';
import { type ActiveSnapshot, chainIdOf, type Snapshot } from '../snapshot/index.ts';
import type { Store } from '../store/index.ts';

/** How layers are written. */
export interface LayerOptions {
  /** The compression of the layers the target image is made of. */
  readonly compression: Compression;
  /** Its level (gzip 1–9, zstd 1–19); the compressor's default when absent. */
  readonly level?: number;
  /** Recompress base-image layers not in `compression` too (`force-compression=true`). */
  readonly forceCompression?: boolean;
  /**
   * The compression of the layers of stages the target does not include (builder stages, whose
   * layers are only cache records): default `compression`. `none` skips gzip where BuildKit
   * compresses nothing either; such a layer is compressed if it is ever exported (LayerCompressor).
   */
  readonly internalCompression?: Compression;
  /** Clamp mtimes to SOURCE_DATE_EPOCH (seconds) for reproducible layers. */
  readonly sourceDateEpoch?: number;
  /**
   * Compresses, beside the steps that follow, a layer committed uncompressed that the image will
   * need compressed (solveGraph's LayerCompressor): a step of the target image then pays for its
   * tar, not its gzip, and the next step starts sooner.
   */
  readonly background?: { prefetch(layer: Layer): void };
}

/** A committed step: its layer (stored, leased) and the snapshot that now includes it. */
export interface CommittedLayer {
  readonly layer: Layer;
  readonly snapshot: Snapshot;
  /** Bytes of the uncompressed layer tar. */
  readonly uncompressedSize: number;
}

/**
 * Turns an active snapshot's changes into a layer in one pass — walk → tar → diff_id → compress →
 * digest → the store's temp file → rename — then keeps the snapshot under the new diff_id. A step
 * that changed nothing still gets a layer (an empty tar), as BuildKit writes one.
 */
export async function commitLayer(
  active: ActiveSnapshot,
  store: Store,
  options: LayerOptions,
  signal?: AbortSignal,
): Promise<CommittedLayer> {
  const changes = await active.changes();
  const pending = await store.blobs.pending();
  let blob: Awaited<ReturnType<typeof writeLayerBlob>>;
  try {
    const tar = packChanges(changes, {
      ...(options.sourceDateEpoch !== undefined ? { sourceDateEpoch: options.sourceDateEpoch } : {}),
      ...(signal ? { signal } : {}),
    });
    blob = await writeLayerBlob(tar, {
      sink: pending.path,
      compression: options.compression,
      ...(options.level !== undefined && options.compression !== 'none' ? { level: options.level } : {}),
      ...(signal ? { signal } : {}),
    });
    await pending.commit({ digest: blob.digest, size: blob.size });
  } catch (error) {
    await pending.abort();
    throw error;
  }
  await store.lease.add(blob.digest);
  // The new snapshot's unpacked layers are protected before they exist (see unpackLeased).
  const diffIds = [...active.parent.diffIds, blob.diffId];
  await store.lease.addSnapshot({ chainId: chainIdOf(diffIds), diffIds }, signal);
  const snapshot = await active.commit(blob.diffId);
  const digest = blob.digest;
  return {
    layer: {
      descriptor: { mediaType: blob.mediaType, digest, size: blob.size },
      diffId: blob.diffId,
      open: (s) => store.blobs.open(digest, s ? { signal: s } : {}),
    },
    snapshot,
    uncompressedSize: blob.uncompressedSize,
  };
}
