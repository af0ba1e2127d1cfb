/**
 * util — the bottom layer: typed errors, atomic writes, safe path resolution inside a root,
 * streaming hashes, a concurrency limiter, a crash-safe lockfile, extended attributes and the
 * mount system calls of strata's own addon (both loaded on first use). Depends on Node and the
 * two addons only.
 */
export * from './atomic-write.ts';
export * from './deferred-ca-certs.ts';
export * from './errors.ts';
export * from './go-quote.ts';
export * from './hashing.ts';
export * from './limiter.ts';
export * from './lockfile.ts';
export * from './make-directories.ts';
export * from './native.ts';
export * from './process-liveness.ts';
export * from './safe-path.ts';
export * from './user-namespace.ts';
export * from './xattr.ts';
