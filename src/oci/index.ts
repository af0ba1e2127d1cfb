/**
 * oci — the vocabulary of images: digests, media types, descriptors, manifests, indexes, image
 * configs and platforms, with validating parsers and canonical serialisation. Depends on util only.
 */
export * from './digest.ts';
export * from './media-types.ts';
