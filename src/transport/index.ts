/**
 * transport — where an image lives and how it gets there: image locations in skopeo's syntax
 * (`docker://`, `oci:`, `docker-archive:`, `strata:`), the three local transports (the store, an
 * OCI image layout directory, a `docker save` archive) as `ImageReader`/`ImageWriter` pairs, the
 * tar and verified-file helpers they write with, and resolving the image a user names in the
 * store. The reader/writer interfaces and the transfer engine (`transferImage`) sit one layer
 * lower, in registry/, because the registry's own pull and push compose them; they are re-exported
 * here so every transport is found in one place. Every transport passes one conformance suite
 * (test/transport/transport-conformance.test.ts): round trip, a corrupt blob leaves nothing
 * behind, an aborted write leaves nothing behind.
 */
export * from './docker-archive-transport.ts';
export * from './image-transport.ts';
export * from './oci-layout-transport.ts';
export * from './store-transport.ts';
export * from './stored-image.ts';
export * from './tar-file.ts';
export * from './verified-file.ts';
