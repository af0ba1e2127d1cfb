import { createHash } from 'node:crypto';
import type { Digest } from '../oci/index.ts';

/**
 * The OCI chain ID of a list of diff_ids (image-spec config.md, "Layer ChainID"):
 * ChainID(L0) = DiffID(L0); ChainID(L0|…|Ln) = sha256(ChainID(L0|…|Ln-1) + " " + DiffID(Ln)).
 * The empty chain is `''`.
 */
export function chainIdOf(diffIds: readonly Digest[]): string {
  let chain = '';
  for (const diffId of diffIds) {
    chain =
      chain === '' ? diffId : `sha256:${createHash('sha256').update(`${chain} ${diffId}`).digest('hex')}`;
  }
  return chain;
}
