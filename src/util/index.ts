/**
 * util — the bottom layer: typed errors, atomic writes, safe path resolution inside a root,
 * streaming hashes, a concurrency limiter and a crash-safe lockfile. Depends on Node only.
 */
export * from './atomic-write.ts';
export * from './errors.ts';
export * from './hashing.ts';
export * from './limiter.ts';
export * from './lockfile.ts';
export * from './process-liveness.ts';
export * from './safe-path.ts';
