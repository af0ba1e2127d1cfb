import { createHash } from 'node:crypto';
import { canonicalJson } from '../oci/index.ts';

/**
 * The version of the cache key scheme. Bump it whenever what goes into a key changes meaning, so
 * old records are never misread (BuildKit's keys had no version and grew compatibility special
 * cases instead).
 */
export const CACHE_KEY_VERSION = 1;

declare const cacheKeyBrand: unique symbol;

/** A step's cache key: sha256 hex of everything that decides its output. */
export type CacheKey = string & { readonly [cacheKeyBrand]: true };

/**
 * A Merkle key: sha256 over the canonical JSON of {version, parent key, inputs}. `inputs` must hold
 * everything that decides the step's output (the expanded instruction, the environment it sees,
 * checksums of the files it reads, the keys of the stages it reads from) and nothing that does not
 * (timestamps, mount ids, secret contents).
 */
export function cacheKey(parent: CacheKey | undefined, inputs: unknown): CacheKey {
  return createHash('sha256')
    .update(canonicalJson({ v: CACHE_KEY_VERSION, parent: parent ?? null, inputs }))
    .digest('hex') as CacheKey;
}
