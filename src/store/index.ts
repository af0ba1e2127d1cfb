/**
 * store — strata's content-addressable store, laid out as an OCI image layout at
 * `$STRATA_ROOT`: verified, atomic blob ingest; names in index.json under a lock; leases that
 * protect in-flight blobs; garbage collection and verification.
 */
export * from './blob-store.ts';
export * from './corrupt-blob-error.ts';
export * from './leases.ts';
export * from './ref-index.ts';
export * from './store.ts';
export * from './store-root.ts';
