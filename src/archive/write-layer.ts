import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, writeFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type Compression,
  type Digest,
  type MediaType,
  ociLayerMediaType,
  sha256Digest,
} from '../oci/index.ts';
import { HashingStream } from '../util/index.ts';
import { type CompressorOptions, createCompressor, DEFAULT_GZIP_MODE, gzipLevel } from './compression.ts';
import { parallelGzipSmallSync } from './parallel-gzip.ts';

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
  /**
   * Where the blob goes: a path (created exclusively; not fsynced — the store's commit of a
   * pending blob does that) or a stream.
   */
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
  // Most layers a build writes are small (a COPY of a few files, a WORKDIR). Their tar arrives in
  // one slice; then everything below is done with synchronous calls, to the same bytes — a layer
  // step otherwise waits on a dozen threadpool round trips for a few kilobytes.
  const small = smallPathApplies(compression, options) ? await readWholeIfSmall(tar) : undefined;
  if (small?.whole) return writeSmallLayerBlob(small.whole, compression, options);
  if (small) tar = small.rest;
  return streamLayerBlob(tar, compression, options);
}

/** Layers up to this size (uncompressed) take the synchronous path. */
const SMALL_LAYER = 256 * 1024;

/** The synchronous path makes the streaming path's exact bytes for no compression and parallel gzip. */
function smallPathApplies(compression: Compression, options: WriteLayerOptions): boolean {
  if (typeof options.sink !== 'string') return false;
  if (compression === 'none') return true;
  return compression === 'gzip' && (options.gzipMode ?? DEFAULT_GZIP_MODE) === 'parallel';
}

/**
 * Reads `tar` until it ends or passes {@link SMALL_LAYER}: `whole` when it ended, else `rest`, a
 * stream of everything (what was read, then the remainder).
 */
async function readWholeIfSmall(tar: Readable): Promise<{ whole?: Buffer; rest: Readable }> {
  const iterator = tar[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const read: Buffer[] = [];
  let bytes = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done) return { whole: Buffer.concat(read, bytes), rest: tar };
    read.push(next.value);
    bytes += next.value.length;
    if (bytes > SMALL_LAYER) break;
  }
  async function* everything(): AsyncGenerator<Buffer> {
    try {
      yield* read;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      tar.destroy(); // when the pipeline fails and ends this early, the source goes too
    }
  }
  return { rest: Readable.from(everything(), { objectMode: false }) };
}

function writeSmallLayerBlob(tar: Buffer, compression: Compression, options: WriteLayerOptions): LayerBlob {
  options.signal?.throwIfAborted();
  const blob = compression === 'gzip' ? parallelGzipSmallSync(tar, { level: gzipLevel(options) }) : tar;
  writeFileSync(options.sink as string, blob, { flag: 'wx' });
  return {
    diffId: sha256Digest(createHash('sha256').update(tar).digest('hex')),
    digest: sha256Digest(createHash('sha256').update(blob).digest('hex')),
    size: blob.length,
    uncompressedSize: tar.length,
    mediaType: ociLayerMediaType(compression),
  };
}

async function streamLayerBlob(
  tar: Readable,
  compression: Compression,
  options: WriteLayerOptions,
): Promise<LayerBlob> {
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
