/**
 * archive — layers as bytes. A deterministic streaming tar writer for layers (whiteouts, opaque
 * directories, hardlinks, xattrs, PAX), a streaming tar reader, a layer applier that is safe
 * against hostile archives (nothing outside the root is ever touched), gzip/zstd compression and
 * the one-pass tar → diff_id → compress → digest → sink pipeline. See README.md beside this file
 * for the format decisions and the safety model. Depends on util and oci.
 */
export * from './apply-layer.ts';
export * from './compression.ts';
export * from './errors.ts';
export * from './list-layer.ts';
export * from './pack-layer.ts';
export * from './parallel-gzip.ts';
export * from './tar-header.ts';
export * from './tar-parser.ts';
export * from './write-layer.ts';
export { loadZstd, type ZstdModule, ZstdUnavailableError } from './zstd.ts';
