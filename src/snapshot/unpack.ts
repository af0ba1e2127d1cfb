import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { applyLayer, DecompressionError, openDecompressed } from '../archive/index.ts';
import { DigestMismatchError, type Layer, sha256Digest } from '../oci/index.ts';
import { CorruptBlobError } from '../store/index.ts';

/**
 * Unpacks one layer blob into `dir`, checking on the way that the uncompressed stream hashes to
 * the layer's diff_id (the blob's own digest is checked by the store's reader).
 */
export async function unpackLayerInto(
  layer: Layer,
  dir: string,
  options: { whiteouts: 'apply' | 'overlay'; parentsFrom?: readonly string[]; signal?: AbortSignal },
): Promise<void> {
  const hash = createHash('sha256');
  const tap = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  const blob = await layer.open(options.signal);
  const tar = openDecompressed(blob);
  const applying = applyLayer(tap, dir, {
    whiteouts: options.whiteouts,
    ...(options.parentsFrom ? { parentsFrom: options.parentsFrom } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const [reading, applied] = await Promise.allSettled([
    pipeline(tar, tap).catch((error: unknown) => {
      tap.destroy(error as Error);
      throw error;
    }),
    applying,
  ]);
  // Damaged bytes (they do not decompress, or do not hash to the digest) explain whatever the
  // tar reader then made of the stream: name the layer, as a user's problem.
  if (reading.status === 'rejected') throw corruptOr(layer, reading.reason);
  if (applied.status === 'rejected') throw applied.reason;
  const actual = sha256Digest(hash.digest('hex'));
  if (actual !== layer.diffId)
    throw corruptOr(
      layer,
      new DigestMismatchError({ expected: layer.diffId, actual, what: 'layer diff_id' }),
    );
}

/** `error` as the store's corrupt-layer error when it says the layer's bytes are damaged. */
function corruptOr(layer: Layer, error: unknown): unknown {
  return error instanceof DecompressionError || error instanceof DigestMismatchError
    ? new CorruptBlobError({ digest: layer.descriptor.digest, kind: 'layer', cause: error })
    : error;
}
