import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { applyLayer, DecompressionError, openDecompressed } from '../archive/index.ts';
import { DigestMismatchError, type Layer, sha256Digest } from '../oci/index.ts';
import { CorruptBlobError } from '../store/index.ts';
import { currentUserNamespace, isErrnoException, StrataError } from '../util/index.ts';

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
  // When the applier fails first it stops reading, and the reading side then fails only because
  // of that (an AbortError): the applier's error is the one that explains.
  if (reading.status === 'rejected' && !(applied.status === 'rejected' && isAbortError(reading.reason)))
    throw corruptOr(layer, reading.reason);
  if (applied.status === 'rejected') throw unmappedOr(layer, applied.reason, dir);
  const actual = sha256Digest(hash.digest('hex'));
  if (actual !== layer.diffId)
    throw corruptOr(
      layer,
      new DigestMismatchError({ expected: layer.diffId, actual, what: 'layer diff_id' }),
    );
}

/** True for the error a stream gets when its consumer stopped early (`AbortError`, premature close). */
function isAbortError(error: unknown): boolean {
  const { name, code } = (error ?? {}) as { name?: unknown; code?: unknown };
  return name === 'AbortError' || code === 'ABORT_ERR' || code === 'ERR_STREAM_PREMATURE_CLOSE';
}

/**
 * A layer file owned by an id the rootless user namespace does not map: chown says EINVAL. With a
 * single-id mapping only 0 exists; with subordinate ids, 0 to the range's size.
 */
export class UnmappedOwnerError extends StrataError {
  constructor(layer: Layer, path: string, cause: unknown) {
    const namespace = currentUserNamespace();
    const mapped =
      namespace?.mapping.kind === 'subordinate'
        ? `ids 0-${namespace.mapping.uids.count}`
        : 'only id 0 (a single-id mapping)';
    super(
      'ROOTLESS_UNMAPPED_OWNER',
      `cannot unpack layer ${layer.descriptor.digest}: ${path} is owned by an id this rootless user namespace does not map (it maps ${mapped})`,
      {
        cause,
        hint:
          namespace?.mapping.kind === 'single-id'
            ? `${namespace.mapping.why}; see docs/rootless.md`
            : 'a larger range in /etc/subuid and /etc/subgid (65536 ids cover Debian images); see docs/rootless.md',
      },
    );
  }
}

/** `error` as {@link UnmappedOwnerError} when it is a chown refused for an unmapped id, rootless. */
function unmappedOr(layer: Layer, error: unknown, dir: string): unknown {
  if (!currentUserNamespace()) return error;
  // The applier wraps the system error with the entry's name (TarApplyError): look down the chain.
  let errno: unknown = error;
  while (errno instanceof Error && !isErrnoException(errno, 'EINVAL')) errno = errno.cause;
  if (!isErrnoException(errno, 'EINVAL')) return error;
  const { syscall, path } = errno;
  if (syscall !== 'lchown' && syscall !== 'chown' && syscall !== 'fchown') return error;
  // The path as the image has it, not where strata unpacks it.
  const inImage =
    typeof path !== 'string'
      ? '(a file)'
      : path === dir
        ? '/'
        : path.startsWith(`${dir}/`)
          ? path.slice(dir.length)
          : path;
  return new UnmappedOwnerError(layer, inImage, error);
}

/** `error` as the store's corrupt-layer error when it says the layer's bytes are damaged. */
function corruptOr(layer: Layer, error: unknown): unknown {
  return error instanceof DecompressionError || error instanceof DigestMismatchError
    ? new CorruptBlobError({ digest: layer.descriptor.digest, kind: 'layer', cause: error })
    : error;
}
