import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Digest, DigestMismatchError, sha256Digest } from '../oci/index.ts';
import { fsyncDirectory, makeDirectories } from '../util/index.ts';

/**
 * Streams `source` to `target` through a temp file beside it, hashing on the way; renames into
 * place only when digest and size match `expected`, so nothing unverified ever appears at `target`.
 */
export async function writeVerifiedFile(
  target: string,
  source: Readable,
  expected: { digest: Digest; size: number },
  signal?: AbortSignal,
): Promise<void> {
  await makeDirectories(dirname(target)); // a user's path: not mkdir -p, which hangs under /proc
  const temp = join(dirname(target), `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  try {
    await pipeline(source, tap, createWriteStream(temp, { mode: 0o644 }), signal ? { signal } : {});
    const actual = sha256Digest(hash.digest('hex'));
    if (actual !== expected.digest) throw new DigestMismatchError({ expected: expected.digest, actual });
    if (size !== expected.size)
      throw new DigestMismatchError({
        expected: expected.digest,
        expectedSize: expected.size,
        actualSize: size,
      });
    await rename(temp, target);
    await fsyncDirectory(dirname(target));
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
