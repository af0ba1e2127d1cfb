import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type Compression,
  type Digest,
  type MediaType,
  ociLayerMediaType,
  sha256Digest,
} from '../oci/index.ts';
import { HashingStream } from '../util/index.ts';
import { type CompressorOptions, createCompressor } from './compression.ts';

/** A layer blob as written: what the image config (diff_id) and the manifest (descriptor) need. */
export interface LayerBlob {
  /** sha256 of the uncompressed tar: the config's `rootfs.diff_ids` entry. */
  readonly diffId: Digest;
  /** sha256 of the blob as stored (compressed): the manifest descriptor's digest. */
  readonly digest: Digest;
  /** Bytes of the stored blob. */
  readonly size: number;
  /** Bytes of the uncompressed tar. */
  readonly uncompressedSize: number;
  readonly mediaType: MediaType;
}

/** Options of {@link writeLayerBlob}. */
export interface WriteLayerOptions extends CompressorOptions {
  /** Where the blob goes: a path (created exclusively, fsynced before returning) or a stream. */
  readonly sink: string | Writable;
  /** Default `gzip`. */
  readonly compression?: Compression;
  readonly signal?: AbortSignal;
}

/**
 * Streams a layer tar into a blob in one pass: tar → sha256 + size (diff_id) → compress →
 * sha256 + size (digest) → sink. Nothing is buffered whole and the tar is never stored, so memory
 * does not grow with the layer; the walk (main thread) overlaps compression (threadpool).
 * The caller renames a sink file into its content store under the returned digest.
 */
export async function writeLayerBlob(tar: Readable, options: WriteLayerOptions): Promise<LayerBlob> {
  const compression = options.compression ?? 'gzip';
  const uncompressed = new HashingStream({ highWaterMark: 1024 * 1024 });
  const compressed = new HashingStream({ highWaterMark: 1024 * 1024 });
  const toFile = typeof options.sink === 'string';
  const sink =
    typeof options.sink === 'string' ? createWriteStream(options.sink, { flags: 'wx' }) : options.sink;
  let created = false;
  if (toFile) sink.once('open', () => (created = true)); // not when 'wx' found the file already there
  const stages = [tar, uncompressed, createCompressor(compression, options), compressed, sink] as const;
  try {
    await (options.signal ? pipeline(stages, { signal: options.signal }) : pipeline(stages));
    if (toFile) {
      const handle = await open(options.sink as string, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
  } catch (error) {
    // The sink file was created exclusively by this call, so a partial blob is ours to remove —
    // once the stream has closed (an open still in flight would otherwise recreate it).
    if (toFile && !sink.closed) await once(sink, 'close').catch(() => undefined);
    if (created) await unlink(options.sink as string).catch(() => undefined); // best effort: already failing
    throw error;
  }
  return {
    diffId: sha256Digest(uncompressed.hex()),
    digest: sha256Digest(compressed.hex()),
    size: compressed.size,
    uncompressedSize: uncompressed.size,
    mediaType: ociLayerMediaType(compression),
  };
}
