import type { Digest } from '../oci/index.ts';
import { StrataError } from '../util/index.ts';

/** What to do about a damaged blob: find every damaged one, then fetch the images again. */
const CORRUPT_BLOB_HINT =
  "if it is in strata's store, run strata store verify to find every damaged blob, then remove the images that use them (strata rmi) and pull or import them again";

/**
 * A blob whose bytes are damaged: they do not hash to its digest, or, for a layer, do not
 * decompress. Named by digest and kind (`layer sha256:… is corrupt`), with the cause (the digest
 * mismatch, the decompressor's `incorrect data check`) and what to do. A user's problem, not a
 * bug: exit 1.
 */
export class CorruptBlobError extends StrataError {
  readonly digest: Digest;
  constructor(options: { digest: Digest; kind: 'layer' | 'blob'; cause: unknown }) {
    super('BLOB_CORRUPT', `${options.kind} ${options.digest} is corrupt`, {
      cause: options.cause,
      hint: CORRUPT_BLOB_HINT,
    });
    this.digest = options.digest;
  }
}
