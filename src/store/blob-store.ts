import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  createWriteStream,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  type ReadStream,
  renameSync,
  statSync,
} from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, pipeline as streamPipeline, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type Digest,
  DigestMismatchError,
  digestHex,
  digestOf,
  parseDigest,
  sha256Digest,
} from '../oci/index.ts';
import {
  fsyncDirectory,
  fsyncDirectorySync,
  isErrnoException,
  NotFoundError,
  processAlive,
} from '../util/index.ts';

/** Size and digest of a blob as stored. */
export interface BlobInfo {
  readonly digest: Digest;
  readonly size: number;
}

/** What an ingest is expected to produce; a mismatch is an error and leaves nothing behind. */
export interface ExpectedBlob {
  readonly digest?: Digest;
  readonly size?: number;
}

/**
 * A temp file in the store's `tmp/` that becomes a blob on `commit`. For producers that write a
 * file themselves (the layer pipeline computes the digest while writing).
 */
export interface PendingBlob {
  /** Path of the temp file to write. */
  readonly path: string;
  /** fsyncs, checks the digest against the content if `verify` is set, and renames into place. */
  commit(info: BlobInfo, options?: { verify?: boolean }): Promise<BlobInfo>;
  /** Removes the temp file. Safe to call after commit (then a no-op). */
  abort(): Promise<void>;
}

/**
 * Blobs by digest under `blobs/sha256/<hex>` — the content half of an OCI image layout.
 * Writes go to `tmp/` first and are renamed into place after fsync and digest verification, so
 * a crash at any moment leaves either no blob or a complete, correct one. No lock is needed: a
 * rename of equal content is idempotent.
 */
/** Blobs up to this size are committed with synchronous calls (fsync of a small file is quick). */
const SYNC_COMMIT_LIMIT = 1024 * 1024;

/**
 * {@link PendingBlob.commit} of a small blob: the same steps — fsync, size check, rename, fsync of
 * the directory — as synchronous calls, since a layer step would otherwise wait on seven
 * threadpool round trips for a few kilobytes.
 */
function commitSmallSync(path: string, digest: Digest, size: number, target: string): void {
  const fd = openSync(path, 'r+');
  try {
    fsyncSync(fd);
    const actual = fstatSync(fd).size;
    if (actual !== size)
      throw new DigestMismatchError({ expected: digest, expectedSize: size, actualSize: actual });
  } finally {
    closeSync(fd);
  }
  mkdirSync(dirname(target), { recursive: true });
  renameSync(path, target);
  fsyncDirectorySync(dirname(target));
}

export class BlobStore {
  readonly root: string;
  readonly tmpDir: string;

  constructor(root: string) {
    this.root = root;
    this.tmpDir = join(root, 'tmp');
  }

  /** Path of a blob (whether or not it exists). */
  path(digest: Digest): string {
    const algorithm = digest.slice(0, digest.indexOf(':'));
    return join(this.root, 'blobs', algorithm, digestHex(digest));
  }

  /** Size of a blob, or undefined when absent. */
  async size(digest: Digest): Promise<number | undefined> {
    try {
      return (await stat(this.path(digest))).size;
    } catch (error) {
      if (isErrnoException(error, 'ENOENT')) return undefined;
      throw error;
    }
  }

  /** {@link size}, synchronously: one stat, for hot paths that check many blobs. */
  sizeSync(digest: Digest): number | undefined {
    try {
      return statSync(this.path(digest)).size;
    } catch (error) {
      if (isErrnoException(error, 'ENOENT')) return undefined;
      throw error;
    }
  }

  /** True when the blob is present. */
  async has(digest: Digest): Promise<boolean> {
    return (await this.size(digest)) !== undefined;
  }

  /**
   * Opens a blob for reading. With `verify` (default), the stream fails with DigestMismatchError
   * at its end if the bytes do not hash to the digest (a corrupted store is never trusted silently).
   */
  async open(digest: Digest, options: { verify?: boolean; signal?: AbortSignal } = {}): Promise<Readable> {
    let stream: ReadStream;
    try {
      const handle = await open(this.path(digest), 'r');
      stream = handle.createReadStream({
        highWaterMark: 1 << 20,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      if (isErrnoException(error, 'ENOENT')) throw new NotFoundError(`blob ${digest} not found in the store`);
      throw error;
    }
    if (options.verify === false) return stream;
    // pipeline, not pipe: an error of the file stream (an abort, EIO) fails the stream the caller
    // reads, and the caller destroying that stream closes the file. With a bare pipe the file
    // stream's error had no listener and crashed the process.
    const verified = verifyingTransform(digest);
    streamPipeline(stream, verified, () => {
      // Nothing to do: every error, the file's or the digest check's, reaches the caller on
      // `verified`, which the pipeline destroys with it.
    });
    return verified;
  }

  /** Reads a whole (small) blob, verified: manifests and configs. */
  async read(digest: Digest): Promise<Buffer> {
    let data: Buffer;
    try {
      data = await readFile(this.path(digest));
    } catch (error) {
      if (isErrnoException(error, 'ENOENT')) throw new NotFoundError(`blob ${digest} not found in the store`);
      throw error;
    }
    const actual = digestOf(data);
    if (actual !== digest) throw new DigestMismatchError({ expected: digest, actual, what: 'stored blob' });
    return data;
  }

  /** Stores bytes (a manifest or config) and returns their digest and size. */
  async writeBytes(data: Uint8Array): Promise<BlobInfo> {
    const digest = digestOf(data);
    if (await this.has(digest)) return { digest, size: data.length };
    const pending = await this.pending();
    try {
      const handle = await open(pending.path, 'w', 0o644);
      try {
        await handle.writeFile(data);
      } finally {
        await handle.close();
      }
      return await pending.commit({ digest, size: data.length });
    } catch (error) {
      await pending.abort();
      throw error;
    }
  }

  /**
   * Streams content into the store, hashing it on the way. If `expected` names a digest or size
   * and the content disagrees, DigestMismatchError is thrown and nothing is left behind.
   */
  async ingest(
    source: Readable | AsyncIterable<Uint8Array>,
    expected: ExpectedBlob = {},
    signal?: AbortSignal,
  ): Promise<BlobInfo> {
    const pending = await this.pending();
    try {
      const hash = createHash('sha256');
      let size = 0;
      const counter = new Transform({
        // Large buffers: fewer, bigger writes and less back-pressure churn between socket and disk.
        highWaterMark: 1 << 20,
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          size += chunk.length;
          cb(null, chunk);
        },
      });
      await pipeline(
        source,
        counter,
        createWriteStream(pending.path, { mode: 0o644, highWaterMark: 1 << 20 }),
        signal ? { signal } : {},
      );
      const digest = sha256Digest(hash.digest('hex'));
      if (expected.digest !== undefined && digest !== expected.digest) {
        throw new DigestMismatchError({ expected: expected.digest, actual: digest });
      }
      if (expected.size !== undefined && size !== expected.size) {
        throw new DigestMismatchError({
          expected: expected.digest ?? digest,
          expectedSize: expected.size,
          actualSize: size,
        });
      }
      return await pending.commit({ digest, size });
    } catch (error) {
      await pending.abort();
      throw error;
    }
  }

  /** A temp file for a producer that writes the blob itself; see {@link PendingBlob}. */
  async pending(): Promise<PendingBlob> {
    mkdirSync(this.tmpDir, { recursive: true }); // one syscall: no threadpool round trip
    const path = join(this.tmpDir, `ingest-${process.pid}-${randomBytes(8).toString('hex')}`);
    let done = false;
    return {
      path,
      commit: async (info, options = {}) => {
        const digest = parseDigest(info.digest);
        if (info.size <= SYNC_COMMIT_LIMIT && !options.verify) {
          commitSmallSync(path, digest, info.size, this.path(digest));
          done = true;
          return { digest, size: info.size };
        }
        const handle = await open(path, 'r+');
        try {
          await handle.sync();
          const { size } = await handle.stat();
          if (size !== info.size)
            throw new DigestMismatchError({ expected: digest, expectedSize: info.size, actualSize: size });
        } finally {
          await handle.close();
        }
        if (options.verify) {
          const actual = await hashFile(path);
          if (actual !== digest) throw new DigestMismatchError({ expected: digest, actual });
        }
        const target = this.path(digest);
        await mkdir(join(target, '..'), { recursive: true });
        await rename(path, target);
        await fsyncDirectory(join(target, '..'));
        done = true;
        return { digest, size: info.size };
      },
      abort: async () => {
        if (!done) await rm(path, { force: true });
        done = true;
      },
    };
  }

  /** Every blob digest present (sha256 only). */
  async list(): Promise<Digest[]> {
    let names: string[];
    try {
      names = await readdir(join(this.root, 'blobs', 'sha256'));
    } catch (error) {
      if (isErrnoException(error, 'ENOENT')) return [];
      throw error;
    }
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => sha256Digest(n));
  }

  /** Deletes a blob; absent is fine. */
  async remove(digest: Digest): Promise<void> {
    await unlink(this.path(digest)).catch((error: unknown) => {
      if (!isErrnoException(error, 'ENOENT')) throw error;
    });
  }

  /** Removes temp files of ingests whose process is gone (left by a crash). */
  async sweepTemp(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.tmpDir);
    } catch (error) {
      if (isErrnoException(error, 'ENOENT')) return 0;
      throw error;
    }
    let removed = 0;
    for (const name of names) {
      const pid = Number(/-(\d+)-/.exec(name)?.[1]);
      if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) continue;
      await rm(join(this.tmpDir, name), { recursive: true, force: true });
      removed++;
    }
    return removed;
  }
}

/** sha256 of a file's content. */
export async function hashFile(path: string): Promise<Digest> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return sha256Digest(hash.digest('hex'));
}

/** A pass-through that fails at the end when the bytes do not hash to `digest`. */
function verifyingTransform(digest: Digest): Transform {
  const hash = createHash('sha256');
  let size = 0;
  return new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      const actual = sha256Digest(hash.digest('hex'));
      if (actual !== digest)
        cb(new DigestMismatchError({ expected: digest, actual, what: `stored blob (${size} bytes)` }));
      else cb();
    },
  });
}

/** A readable over bytes (for tests and small blobs). */
export function readableFrom(data: Uint8Array): Readable {
  return Readable.from([Buffer.from(data)]);
}
