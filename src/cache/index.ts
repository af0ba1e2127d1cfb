/**
 * cache — the step cache: versioned Merkle cache keys, the local record store that maps a key to
 * the layer a step produced, and cache manifests that carry records between machines through any
 * OCI registry or layout. See docs/cache.md for the format.
 */

export * from './build-cache-mounts.ts';
export * from './cache-key.ts';
export * from './cache-manifest.ts';
export * from './cache-mount-manifest.ts';
export * from './cache-mount-pack.ts';
export * from './cache-mount-restore.ts';
export * from './cache-mount-store.ts';
export * from './step-cache.ts';
