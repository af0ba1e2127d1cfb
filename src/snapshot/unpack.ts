import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { applyLayer, openDecompressed } from '../archive/index.ts';
import { DigestMismatchError, type Layer, sha256Digest } from '../oci/index.ts';

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
  await Promise.all([
    pipeline(tar, tap).catch((error: unknown) => {
      tap.destroy(error as Error);
      throw error;
    }),
    applying,
  ]);
  const actual = sha256Digest(hash.digest('hex'));
  if (actual !== layer.diffId)
    throw new DigestMismatchError({ expected: layer.diffId, actual, what: 'layer diff_id' });
}
