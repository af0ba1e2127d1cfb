import { PassThrough, pipeline, Readable, type Transform } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import type { Compression } from '../oci/index.ts';
import { InvalidInputError } from '../util/index.ts';
import { DecompressionError } from './errors.ts';
import { ParallelGzip } from './parallel-gzip.ts';
import { loadZstd } from './zstd.ts';

/** Options of {@link createCompressor}. */
export interface CompressorOptions {
  /** gzip 1–9 (default 6), zstd 1–19 (default 3). */
  readonly level?: number;
  /**
   * gzip only: `'parallel'` deflates 1 MiB blocks on all cores ({@link ParallelGzip});
   * `'single'` is one zlib stream. The two give different (each deterministic) bytes.
   */
  readonly gzipMode?: 'parallel' | 'single';
  /**
   * Parallel gzip: how many blocks are deflated at once (default: the cores, at least 2), or a
   * function asked before each block. The bytes do not depend on it; a background conversion
   * leaves a core to the build's steps until the build waits for it.
   */
  readonly gzipConcurrency?: number | (() => number);
}

/** The gzip mode used when none is asked for; chosen by measurement (src/archive/README.md). */
export const DEFAULT_GZIP_MODE: 'parallel' | 'single' = 'parallel';

/** The gzip level `options` ask for (default 6), checked. */
export function gzipLevel(options: CompressorOptions): number {
  const level = options.level ?? 6;
  if (!Number.isInteger(level) || level < 1 || level > 9)
    throw new InvalidInputError(`gzip compression level ${level} is out of range`, { hint: 'use 1 to 9' });
  return level;
}

/** A Transform compressing a layer tar with `compression` (a PassThrough for `none`). */
export function createCompressor(compression: Compression, options: CompressorOptions = {}): Transform {
  switch (compression) {
    case 'none':
      return new PassThrough({ highWaterMark: 1024 * 1024 });
    case 'gzip': {
      const level = gzipLevel(options);
      if ((options.gzipMode ?? DEFAULT_GZIP_MODE) === 'parallel')
        return new ParallelGzip({
          level,
          ...(options.gzipConcurrency !== undefined ? { concurrency: options.gzipConcurrency } : {}),
        });
      return createGzip({ level, chunkSize: 256 * 1024 });
    }
    case 'zstd': {
      const level = options.level ?? 3;
      if (!Number.isInteger(level) || level < 1 || level > 19)
        throw new InvalidInputError(`zstd compression level ${level} is out of range`, {
          hint: 'use 1 to 19',
        });
      return new (loadZstd().CompressStream)({ compressionLevel: level });
    }
  }
}

/** The compression a stream's first bytes announce (gzip 1f 8b, zstd 28 b5 2f fd); else `none`. */
export function detectCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd)
    return 'zstd';
  return 'none';
}

/**
 * The uncompressed bytes of a layer blob, whatever its compression (detected from its magic
 * bytes, not trusted from a media type). Concatenated gzip members are read as one stream.
 */
export function openDecompressed(source: Readable | AsyncIterable<Uint8Array>): Readable {
  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  const iterator = source[Symbol.asyncIterator]();
  void (async () => {
    let head: Buffer = Buffer.alloc(0);
    let done = false;
    while (head.length < 4 && !done) {
      const next = await iterator.next();
      if (next.done) done = true;
      else head = head.length === 0 ? asBuffer(next.value) : Buffer.concat([head, next.value]);
    }
    async function* rest(): AsyncGenerator<Buffer> {
      try {
        if (head.length > 0) yield head;
        if (done) return;
        for (;;) {
          const next = await iterator.next();
          if (next.done) {
            done = true;
            return;
          }
          yield asBuffer(next.value);
        }
      } finally {
        // Stopped early (the consumer failed or was destroyed): release the source too.
        if (!done) await iterator.return?.();
      }
    }
    const compression = detectCompression(head);
    const stages: Array<NodeJS.ReadableStream | NodeJS.WritableStream> = [Readable.from(rest())];
    const decompressor =
      compression === 'gzip'
        ? createGunzip({ chunkSize: 256 * 1024 })
        : compression === 'zstd'
          ? (new (loadZstd().DecompressStream)() as NodeJS.ReadWriteStream)
          : undefined;
    // Which error the decompressor raised (not the source's: an abort, a digest mismatch).
    let raised: unknown;
    decompressor?.once('error', (error: unknown) => {
      raised = error;
    });
    if (decompressor) stages.push(decompressor);
    pipeline([...stages, out], (error) => {
      if (!error) return;
      out.destroy(error === raised ? new DecompressionError(compression, { cause: error }) : error);
    });
  })().catch((error: unknown) => out.destroy(error as Error));
  return out;
}

/** A Buffer view of a chunk, without copying. */
function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/**
 * The compressions ADD recognises in a local file, as docker 20.10's `archive.DecompressStream`
 * does (pkg/archive DetectCompression): gzip `1f 8b 08`, bzip2 `BZh`, xz `fd 37 7a 58 5a 00`.
 * zstd is not among them (moby added it after 20.10), so ADD copies a `.tar.zst` as it is.
 */
export type ArchiveCompression = 'none' | 'gzip' | 'bzip2' | 'xz';

const ARCHIVE_MAGIC: ReadonlyArray<{ kind: ArchiveCompression; bytes: readonly number[] }> = [
  { kind: 'bzip2', bytes: [0x42, 0x5a, 0x68] },
  { kind: 'gzip', bytes: [0x1f, 0x8b, 0x08] },
  { kind: 'xz', bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] },
];

/** The {@link ArchiveCompression} a file's first bytes announce. */
export function detectArchiveCompression(head: Uint8Array): ArchiveCompression {
  for (const m of ARCHIVE_MAGIC) {
    if (head.length >= m.bytes.length && m.bytes.every((b, i) => head[i] === b)) return m.kind;
  }
  return 'none';
}

/** Go's archive/tar parseOctal: NULs and spaces trimmed, up to the first NUL, base 8. */
function goOctal(field: Uint8Array): number | undefined {
  let start = 0;
  let end = field.length;
  while (start < end && (field[start] === 0 || field[start] === 0x20)) start++;
  while (end > start && (field[end - 1] === 0 || field[end - 1] === 0x20)) end--;
  if (start === end) return 0;
  const nul = field.subarray(start, end).indexOf(0);
  const text = Buffer.from(field.subarray(start, nul === -1 ? end : start + nul)).toString('latin1');
  return /^[0-7]+$/.test(text) ? Number.parseInt(text, 8) : undefined;
}

/** A numeric header field as Go reads it: base-256 when its first byte has the high bit, else octal. */
function goNumericValid(field: Uint8Array): boolean {
  if (field.length > 0 && (field[0]! & 0x80) !== 0) return true;
  return goOctal(field) !== undefined;
}

/**
 * Whether `head` (the first bytes of a decompressed stream) starts with a tar header Go's
 * `tar.Reader.Next` accepts — BuildKit's test for "is this an archive" before ADD extracts a
 * file (solver/llbsolver/file/unpack.go isArchivePath): a non-zero first block whose checksum
 * (unsigned or signed sum, the field counted as spaces) matches and whose mode, owner, size and
 * time fields parse. Anything else — text, a truncated block, a zero block — is copied as a file.
 */
export function isTarHeader(head: Uint8Array): boolean {
  if (head.length < 512) return false;
  const block = head.subarray(0, 512);
  if (block.every((b) => b === 0)) return false;
  const stored = goOctal(block.subarray(148, 156));
  if (stored === undefined) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b >= 0x80 ? b - 256 : b;
  }
  if (stored !== unsigned && stored !== signed) return false;
  // mode, uid, gid, size, mtime (V7 layout, common to every format).
  const fields: Array<[number, number]> = [
    [100, 108],
    [108, 116],
    [116, 124],
    [124, 136],
    [136, 148],
  ];
  return fields.every(([from, to]) => goNumericValid(block.subarray(from, to)));
}
