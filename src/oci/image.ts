import type { Readable } from 'node:stream';
import { InvalidInputError } from '../util/index.ts';
import { canonicalJsonBytes } from './canonical-json.ts';
import { type Digest, digestOf } from './digest.ts';
import { isLayerMediaType, MediaTypes } from './media-types.ts';
import { nonEmptyHistoryCount, parseImageConfig, parseManifest } from './parse.ts';
import type { Descriptor, ImageConfig, Manifest } from './types.ts';

/** Opens a fresh read of some bytes; each call starts from the beginning (ggcr's Opener). */
export type Opener = (signal?: AbortSignal) => Promise<Readable>;

/**
 * A filesystem changeset as an image carries it: a compressed blob (named in the manifest) whose
 * uncompressed form hashes to the diff_id (listed in the config). Lazy: nothing is read until
 * `open` is called.
 */
export interface Layer {
  readonly descriptor: Descriptor;
  readonly diffId: Digest;
  /** The blob as stored (compressed per its media type). */
  open: Opener;
  /**
   * For a layer whose bytes are downloaded on first use (an imported cache's): brings the blob into
   * the store without reading it, so a reader of several layers can start every download before
   * it reads the first. `open` joins a fetch already under way.
   */
  readonly fetch?: (signal?: AbortSignal) => Promise<void>;
}

/** An image: manifest and config bytes plus lazily opened layers, base first. */
export interface Image {
  readonly rawManifest: Uint8Array;
  readonly manifest: Manifest;
  readonly rawConfig: Uint8Array;
  readonly config: ImageConfig;
  readonly digest: Digest;
  readonly layers: readonly Layer[];
}

/** The least a source must give for {@link imageFromCore} to build an {@link Image}. */
export interface ImageCore {
  readonly rawManifest: Uint8Array;
  readonly rawConfig: Uint8Array;
  /** Opens a blob by its descriptor (layers only). */
  openBlob(descriptor: Descriptor, signal?: AbortSignal): Promise<Readable>;
}

/**
 * Builds an {@link Image} from raw manifest and config bytes and a blob opener, validating that
 * the manifest and config agree (config digest, one diff_id per layer).
 */
export function imageFromCore(core: ImageCore): Image {
  const manifest = parseManifest(core.rawManifest);
  const configDigest = digestOf(core.rawConfig);
  if (configDigest !== manifest.config.digest) {
    throw new InvalidInputError(
      `image config digest ${configDigest} does not match the manifest's ${manifest.config.digest}`,
    );
  }
  const config = parseImageConfig(core.rawConfig);
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw new InvalidInputError(
      `image has ${manifest.layers.length} layers but its config lists ${diffIds.length} diff_ids`,
    );
  }
  const layers = manifest.layers.map(
    (descriptor, i): Layer => ({
      descriptor,
      diffId: diffIds[i]!,
      open: (signal) => core.openBlob(descriptor, signal),
    }),
  );
  return {
    rawManifest: core.rawManifest,
    manifest,
    rawConfig: core.rawConfig,
    config,
    digest: digestOf(core.rawManifest),
    layers,
  };
}

/** The parts of a new image strata assembles before serialising it. */
export interface ImageParts {
  readonly config: ImageConfig;
  readonly layers: readonly Layer[];
  /** OCI (default) or Docker schema 2 media types. */
  readonly format?: 'oci' | 'docker';
  readonly annotations?: Readonly<Record<string, string>>;
}

/**
 * Serialises config and manifest for a new image, canonically, and returns the {@link Image}.
 * The config's diff_ids must match the layers.
 */
export function imageFromParts(parts: ImageParts): Image {
  const format = parts.format ?? 'oci';
  const rawConfig = canonicalJsonBytes(parts.config);
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: format === 'oci' ? MediaTypes.ociManifest : MediaTypes.dockerManifest,
    config: {
      mediaType: format === 'oci' ? MediaTypes.ociConfig : MediaTypes.dockerConfig,
      digest: digestOf(rawConfig),
      size: rawConfig.length,
    },
    layers: parts.layers.map((l) => l.descriptor),
    ...(parts.annotations && Object.keys(parts.annotations).length > 0
      ? { annotations: parts.annotations }
      : {}),
  };
  const rawManifest = canonicalJsonBytes(manifest);
  const layers = parts.layers;
  return imageFromCore({
    rawManifest,
    rawConfig,
    openBlob: (descriptor, signal) => {
      const layer = layers.find((l) => l.descriptor.digest === descriptor.digest);
      if (!layer) throw new InvalidInputError(`no layer ${descriptor.digest} in this image`);
      return layer.open(signal);
    },
  });
}

/** A problem {@link validateImage} found, labelled by section. */
export interface ImageProblem {
  readonly section: 'manifest' | 'config' | 'layers' | 'history';
  readonly message: string;
}

/**
 * Checks the invariants every image strata writes must hold (ggcr's validate.Image, minus the
 * blob reads): layer media types, one diff_id per layer, history non-empty entries equal to the
 * layer count, os/architecture present. Returns every problem, not just the first.
 */
export function validateImage(image: Pick<Image, 'manifest' | 'config'>): ImageProblem[] {
  const problems: ImageProblem[] = [];
  const { manifest, config } = image;
  manifest.layers.forEach((l, i) => {
    if (!isLayerMediaType(l.mediaType))
      problems.push({ section: 'layers', message: `layer ${i} has non-layer media type ${l.mediaType}` });
  });
  if (config.rootfs.diff_ids.length !== manifest.layers.length) {
    problems.push({
      section: 'config',
      message: `${config.rootfs.diff_ids.length} diff_ids for ${manifest.layers.length} layers`,
    });
  }
  if (config.history !== undefined) {
    const nonEmpty = nonEmptyHistoryCount(config.history);
    if (nonEmpty !== manifest.layers.length) {
      problems.push({
        section: 'history',
        message: `${nonEmpty} non-empty history entries for ${manifest.layers.length} layers`,
      });
    }
  }
  if (!config.os || !config.architecture)
    problems.push({ section: 'config', message: 'os and architecture are required' });
  const ociManifest = manifest.mediaType === undefined || manifest.mediaType === MediaTypes.ociManifest;
  if (
    ociManifest &&
    manifest.config.mediaType !== MediaTypes.ociConfig &&
    manifest.artifactType === undefined
  ) {
    problems.push({
      section: 'manifest',
      message: `OCI manifest with config media type ${manifest.config.mediaType}`,
    });
  }
  return problems;
}
