/**
 * transport — where an image lives and how it gets there: image locations in skopeo's syntax
 * (`docker://`, `oci:`, `docker-archive:`, `strata:`), the three local transports (the store, an
 * OCI image layout directory, a `docker save` archive) as `ImageReader`/`ImageWriter` pairs, the
 * tar and verified-file helpers they write with, and resolving the image a user names in the
 * store; the reader/writer interfaces every transport implements (the registry's too) and the
 * transfer engine that copies between two of them (`image-transfer.ts`: `transferImage`), and the
 * writer into a content-addressed blob sink (`blob-sink.ts`). registry/ imports them from here. Every transport passes one conformance suite
 * (test/transport/transport-conformance.test.ts): round trip, a corrupt blob leaves nothing
 * behind, an aborted write leaves nothing behind.
 */
export * from './blob-sink.ts';
export * from './docker-archive-transport.ts';
export * from './image-transfer.ts';
export * from './image-transport.ts';
export * from './oci-layout-transport.ts';
export * from './store-transport.ts';
export * from './stored-image.ts';
export * from './tar-file.ts';
export * from './verified-file.ts';
