import { InvalidInputError } from '../util/index.ts';
import { canonicalJsonBytes } from './canonical-json.ts';
import { type Image, imageFromCore } from './image.ts';
import { MediaTypes } from './media-types.ts';
import type { Annotations, Descriptor, Manifest } from './types.ts';

/** The media types an image's manifest uses: OCI's, or Docker's image manifest v2 schema 2. */
export type ManifestMediaTypes = 'oci' | 'docker';

/** How an exported image's manifest is written (BuildKit's `oci-mediatypes=` and `annotation.*`). */
export interface ManifestFormat {
  readonly mediaTypes: ManifestMediaTypes;
  /** Annotations of the manifest itself (merged over any it already has). */
  readonly annotations?: Annotations;
}

/** The Docker schema 2 media type of a layer of the given OCI type (same bytes, other name). */
const DOCKER_LAYER_TYPES: Readonly<Record<string, string>> = {
  [MediaTypes.ociLayerGzip]: MediaTypes.dockerLayerGzip,
  [MediaTypes.ociLayer]: 'application/vnd.docker.image.rootfs.diff.tar',
  [MediaTypes.ociLayerNondistributableGzip]: MediaTypes.dockerLayerForeignGzip,
};

/** The OCI media type of a layer of the given Docker type (the inverse of {@link DOCKER_LAYER_TYPES}). */
const OCI_LAYER_TYPES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(DOCKER_LAYER_TYPES).map(([oci, docker]) => [docker, oci]),
);

function layerIn(layer: Descriptor, mediaTypes: ManifestMediaTypes, index: number): Descriptor {
  if (mediaTypes === 'oci') {
    const oci = OCI_LAYER_TYPES[layer.mediaType];
    return oci ? { ...layer, mediaType: oci } : layer;
  }
  if (layer.mediaType.startsWith('application/vnd.docker.')) return layer;
  const docker = DOCKER_LAYER_TYPES[layer.mediaType];
  if (!docker) {
    // BuildKit refuses the same: "compression=zstd conflicts with oci-mediatypes=false".
    throw new InvalidInputError(
      `layer ${index} is ${layer.mediaType}, which Docker's media types cannot name (oci-mediatypes=false)`,
      {
        hint: 'Docker schema 2 has gzip and uncompressed layers only: use compression=gzip,force-compression=true',
      },
    );
  }
  return { ...layer, mediaType: docker };
}

/**
 * The same image (the same config and layer bytes) under another manifest: Docker's schema 2
 * media types (`application/vnd.docker.distribution.manifest.v2+json`, its config and layer
 * types) or OCI's, with `format.annotations` added to the manifest. Docker's schema 2 has no
 * annotations field, but BuildKit writes manifest annotations there too, and so does strata.
 * Returns `image` itself when nothing changes.
 */
export function imageWithManifestFormat(image: Image, format: ManifestFormat): Image {
  const annotations = { ...image.manifest.annotations, ...format.annotations };
  const oci = format.mediaTypes === 'oci';
  const current: ManifestMediaTypes =
    image.manifest.mediaType === MediaTypes.dockerManifest ? 'docker' : 'oci';
  const newAnnotations = Object.entries(format.annotations ?? {}).some(
    ([k, v]) => image.manifest.annotations?.[k] !== v,
  );
  if (current === format.mediaTypes && !newAnnotations) return image;
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: oci ? MediaTypes.ociManifest : MediaTypes.dockerManifest,
    config: {
      ...image.manifest.config,
      mediaType: oci ? MediaTypes.ociConfig : MediaTypes.dockerConfig,
    },
    layers: image.manifest.layers.map((l, i) => layerIn(l, format.mediaTypes, i)),
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
  const rawManifest = canonicalJsonBytes(manifest);
  const byDigest = new Map(image.layers.map((l) => [l.descriptor.digest, l]));
  return imageFromCore({
    rawManifest,
    rawConfig: image.rawConfig,
    openBlob: (descriptor, signal) => {
      const layer = byDigest.get(descriptor.digest);
      if (!layer) throw new InvalidInputError(`no layer ${descriptor.digest} in this image`);
      return layer.open(signal);
    },
  });
}
