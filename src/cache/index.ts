/**
 * cache — the step cache: versioned Merkle cache keys and the local record store that maps a key
 * to the layer a step produced. See README.md for what goes into a key.
 */
export * from './cache-key.ts';
export * from './step-cache.ts';
