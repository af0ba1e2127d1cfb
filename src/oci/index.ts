/**
 * oci — the vocabulary of images: digests, media types, descriptors, manifests, indexes, image
 * configs and platforms, with validating parsers, canonical serialisation, lazy images and an
 * invariant checker. Depends on util only.
 */
export * from './canonical-json.ts';
export * from './digest.ts';
export * from './image.ts';
export * from './image-defaults.ts';
export * from './manifest-format.ts';
export * from './media-types.ts';
export * from './parse.ts';
export * from './platform.ts';
export type * from './types.ts';
