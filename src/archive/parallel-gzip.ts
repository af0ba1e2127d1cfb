import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { constants, crc32, deflateRaw, deflateRawSync } from 'node:zlib';

/** Options of {@link ParallelGzip}. */
export interface ParallelGzipOptions {
  /** zlib level 1–9 (default 6, gzip's own default). */
  readonly level?: number;
  /** Input bytes per independently deflated block (default 1 MiB). Part of the output format. */
  readonly blockSize?: number;
  /**
   * Blocks in flight on the libuv threadpool (default: the number of cores, at least 2); a
   * function is asked again before each block, so a caller can change it while the stream runs.
   */
  readonly concurrency?: number | (() => number);
}

const DICTIONARY = 32 * 1024;
const OUTPUT_CHUNK = 256 * 1024;

/** The gzip header ParallelGzip writes: deflate, no flags, mtime 0, no extra flags, OS = Unix. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);

/**
 * What {@link ParallelGzip} makes of `data` shorter than one block, computed synchronously on
 * this thread: the same bytes (one block, deflated with Z_FINISH and no dictionary; a full block
 * would be sync-flushed and followed by an empty final one), for small layers, where the
 * threadpool round trips cost more than the deflate.
 */
export function parallelGzipSmallSync(data: Uint8Array, options: ParallelGzipOptions = {}): Buffer {
  const blockSize = options.blockSize ?? 1024 * 1024;
  if (data.length >= blockSize)
    throw new RangeError(`${data.length} bytes are not less than one ${blockSize}-byte block`);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data) >>> 0, 0);
  trailer.writeUInt32LE(data.length % 0x100000000, 4);
  return Buffer.concat([GZIP_HEADER, deflateRawSync(data, { level: options.level ?? 6 }), trailer]);
}

/**
 * pigz-style gzip: the input is cut into fixed blocks, each deflated on the libuv threadpool
 * with the previous block's last 32 KiB as dictionary and ended with a sync flush, and the raw
 * deflate pieces are concatenated in order inside one gzip member (RFC 1952) whose CRC-32 is
 * computed on the way in. The bytes depend only on the input, level and block size — never on
 * the concurrency or on timing — so layer digests stay reproducible.
 */
export class ParallelGzip extends Transform {
  readonly #level: number;
  readonly #blockSize: number;
  readonly #concurrency: () => number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #dictionary: Buffer | undefined;
  #crc = 0;
  #inputBytes = 0;
  /** Deflate jobs in input order; each resolves to its compressed bytes. */
  readonly #jobs: Array<Promise<Buffer>> = [];
  #headerWritten = false;

  constructor(options: ParallelGzipOptions = {}) {
    super();
    this.#level = options.level ?? 6;
    this.#blockSize = options.blockSize ?? 1024 * 1024;
    const concurrency = options.concurrency ?? Math.max(2, availableParallelism());
    this.#concurrency = typeof concurrency === 'number' ? () => concurrency : concurrency;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#crc = crc32(chunk, this.#crc);
    this.#inputBytes += chunk.length;
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    const blocks: Buffer[] = [];
    if (this.#pendingBytes >= this.#blockSize) {
      // The common case (1 MiB chunks from the tar writer) slices without copying.
      const all =
        this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes);
      let offset = 0;
      while (all.length - offset >= this.#blockSize) {
        blocks.push(all.subarray(offset, offset + this.#blockSize));
        offset += this.#blockSize;
      }
      this.#pending = offset < all.length ? [all.subarray(offset)] : [];
      this.#pendingBytes = all.length - offset;
    }
    for (const block of blocks) this.#start(block, false);
    this.#drain(Math.max(1, this.#concurrency())).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    this.#start(Buffer.concat(this.#pending, this.#pendingBytes), true);
    this.#pending = [];
    this.#drain(0).then(() => {
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(this.#crc >>> 0, 0);
      trailer.writeUInt32LE(this.#inputBytes % 0x100000000, 4);
      this.push(trailer);
      callback();
    }, callback);
  }

  #start(block: Buffer, last: boolean): void {
    const dictionary = this.#dictionary;
    this.#dictionary = Buffer.from(block.subarray(Math.max(0, block.length - DICTIONARY)));
    const options = {
      level: this.#level,
      // 256 KiB output buffers: with zlib's default 16 KiB an incompressible block takes 64
      // threadpool round trips, each waiting for the main thread; a block-sized buffer would be
      // mostly empty garbage for compressible data (layers typically compress 2–4×).
      chunkSize: OUTPUT_CHUNK,
      finishFlush: last ? constants.Z_FINISH : constants.Z_SYNC_FLUSH,
      ...(dictionary && dictionary.length > 0 ? { dictionary } : {}),
    };
    const job = new Promise<Buffer>((resolve, reject) =>
      deflateRaw(block, options, (error, result) => (error ? reject(error) : resolve(result))),
    );
    // Awaited in order by #drain; after a failure the later jobs are never awaited, and their
    // rejections must not surface as unhandled.
    job.catch(() => undefined);
    this.#jobs.push(job);
  }

  /** Emits finished blocks in order until at most `keep` jobs remain in flight. */
  async #drain(keep: number): Promise<void> {
    if (!this.#headerWritten) {
      this.push(GZIP_HEADER); // as Node's gzip writes it
      this.#headerWritten = true;
    }
    while (this.#jobs.length > keep) {
      const compressed = await this.#jobs.shift()!;
      this.push(compressed);
    }
  }
}
