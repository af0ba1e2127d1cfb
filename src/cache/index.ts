/**
 * cache — the step cache: versioned Merkle cache keys, the local record store that maps a key to
 * the layer a step produced, and cache manifests that carry records between machines through any
 * OCI registry or layout. See docs/cache.md for the format.
 */
export * from './cache-key.ts';
export * from './cache-manifest.ts';
export * from './step-cache.ts';
