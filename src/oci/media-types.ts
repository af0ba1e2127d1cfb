/**
 * Media types of the OCI image spec and Docker's image manifest v2 schema 2, the only two
 * formats strata reads and writes (schema 1 is long deprecated and refused).
 */
export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerForeignGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** Any media type string; the known ones are in {@link MediaTypes}. */
export type MediaType = string;

/** Manifests and indexes larger than this are refused (containerd's limit); a bigger blob is no image. */
export const MANIFEST_LIMIT = 4 << 20;

/** Layer compression as named in media types and `--output compression=`. */
export type Compression = 'gzip' | 'zstd' | 'none';

/** True for a single-platform image manifest (OCI or Docker). */
export function isManifestMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaTypes.ociManifest || mediaType === MediaTypes.dockerManifest;
}

/** True for a multi-platform index (OCI image index or Docker manifest list). */
export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaTypes.ociIndex || mediaType === MediaTypes.dockerManifestList;
}

/** True for a filesystem layer media type (any compression, OCI or Docker). */
export function isLayerMediaType(mediaType: string | undefined): boolean {
  return (
    mediaType !== undefined &&
    (mediaType.startsWith('application/vnd.oci.image.layer.') ||
      mediaType.startsWith('application/vnd.docker.image.rootfs.'))
  );
}

/** The compression a layer media type implies. */
export function layerCompression(mediaType: string): Compression {
  if (mediaType.endsWith('+zstd')) return 'zstd';
  if (mediaType.endsWith('gzip')) return 'gzip';
  return 'none';
}

/** The OCI layer media type for a compression. */
export function ociLayerMediaType(compression: Compression): MediaType {
  if (compression === 'gzip') return MediaTypes.ociLayerGzip;
  if (compression === 'zstd') return MediaTypes.ociLayerZstd;
  return MediaTypes.ociLayer;
}
