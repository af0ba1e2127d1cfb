/**
 * util — the bottom layer: typed errors, atomic writes, safe path resolution inside a root,
 * streaming hashes, a concurrency limiter, a crash-safe lockfile and extended attributes (loaded on
 * first use). Depends on Node and the xattr addon only.
 */
export * from './atomic-write.ts';
export * from './errors.ts';
export * from './hashing.ts';
export * from './limiter.ts';
export * from './lockfile.ts';
export * from './process-liveness.ts';
export * from './safe-path.ts';
export * from './xattr.ts';
