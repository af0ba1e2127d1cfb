import {
  type Descriptor,
  DigestMismatchError,
  digestOf,
  formatPlatform,
  hostPlatform,
  type ImageConfig,
  type Platform,
  parseImageConfig,
  parseIndex,
  parseManifest,
  sniffManifestKind,
} from '../oci/index.ts';
import { readLimited } from '../registry/index.ts';
import type { Store } from '../store/index.ts';
import {
  choosePlatform,
  formatImageLocation,
  type ImageLocation,
  type ImageReader,
  parseImageLocation,
  plainDescriptor,
  TRANSPORTS,
} from '../transport/index.ts';
import { NotFoundError } from '../util/index.ts';
import { imageReaderFor } from './copy.ts';
import { findStoredImage } from './images.ts';
import { type RegistryAccess, withRegistryPool } from './registry-access.ts';

/** Options of {@link inspectImage}. */
export interface InspectImageOptions extends RegistryAccess {
  /** The store, for `strata:` locations and bare names that exist locally. */
  readonly store?: Store;
  /** Platform to describe when the image is an index (default: this host's, else the first). */
  readonly platform?: Platform;
  readonly signal?: AbortSignal;
}

/** One platform of a multi-platform index. */
export interface InspectPlatform {
  readonly platform: string;
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string;
}

/** The parts of an image config `strata inspect` shows. */
export interface InspectConfig {
  /** The config's digest: docker's image ID. */
  readonly digest?: string;
  readonly created?: string;
  readonly platform: string;
  readonly user?: string;
  readonly env?: readonly string[];
  readonly entrypoint?: readonly string[] | null;
  readonly cmd?: readonly string[] | null;
  readonly workingDir?: string;
  readonly exposedPorts?: readonly string[];
  readonly volumes?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  readonly stopSignal?: string;
  readonly historyEntries: number;
}

/** What `strata inspect` reports about an image, local or remote. */
export interface InspectResult {
  /** Where it was read, as a transport location (`docker://…`, `strata:…`). */
  readonly location: string;
  /** Digest and media type of what the name points to (an index for multi-platform images). */
  readonly digest: string;
  readonly mediaType: string;
  /** The index's platforms, when the name points to an index. */
  readonly platforms?: readonly InspectPlatform[];
  /** The single-platform manifest described below (the index's chosen child, or the top itself). */
  readonly manifest?: { readonly digest: string; readonly mediaType: string; readonly size: number };
  /** docker's image ID: the config digest (`docker images`, `docker load` and `build -q` show it). */
  readonly id?: string;
  readonly config?: InspectConfig;
  /** The layers, bottom first; `createdBy` is the history entry (the step) that made each. */
  readonly layers?: readonly {
    readonly digest: string;
    readonly mediaType: string;
    readonly size: number;
    readonly createdBy?: string;
  }[];
  /** Bytes of config and layers as stored (compressed): what a pull of this platform transfers. */
  readonly size?: number;
}

function summariseConfig(config: ImageConfig): InspectConfig {
  const c = config.config ?? {};
  return {
    ...(config.created ? { created: config.created } : {}),
    platform: formatPlatform({
      os: config.os,
      architecture: config.architecture,
      ...(config.variant ? { variant: config.variant } : {}),
    }),
    ...(c.User ? { user: c.User } : {}),
    ...(c.Env ? { env: c.Env } : {}),
    ...(c.Entrypoint !== undefined ? { entrypoint: c.Entrypoint } : {}),
    ...(c.Cmd !== undefined ? { cmd: c.Cmd } : {}),
    ...(c.WorkingDir ? { workingDir: c.WorkingDir } : {}),
    ...(c.ExposedPorts ? { exposedPorts: Object.keys(c.ExposedPorts) } : {}),
    ...(c.Volumes ? { volumes: Object.keys(c.Volumes) } : {}),
    ...(c.Labels ? { labels: c.Labels } : {}),
    ...(c.StopSignal ? { stopSignal: c.StopSignal } : {}),
    historyEntries: config.history?.length ?? 0,
  };
}

async function readConfig(
  reader: ImageReader,
  descriptor: Descriptor,
  signal?: AbortSignal,
): Promise<ImageConfig> {
  const stream = await reader.openBlob(descriptor, signal ? { signal } : {});
  const raw = await readLimited(stream, Math.max(1, descriptor.size), `reading config ${descriptor.digest}`);
  const actual = digestOf(raw);
  if (actual !== descriptor.digest)
    throw new DigestMismatchError({ expected: descriptor.digest, actual, what: 'image config' });
  return parseImageConfig(raw);
}

/**
 * `strata inspect TARGET`: manifest, platforms, config summary and layer sizes of an image.
 * TARGET is a transport location (`docker://`, `oci:`, `docker-archive:`, `strata:`); a bare
 * name means the store when it holds that name, else the registry.
 */
export async function inspectImage(
  target: string,
  options: InspectImageOptions = {},
): Promise<InspectResult> {
  // A bare name or image ID means the store when it holds that image (a whole 64-hex ID is no
  // reference at all), else the registry.
  const bare = !TRANSPORTS.some((prefix) => target.startsWith(prefix));
  const local = bare && options.store ? await findStoredImage(options.store, target) : undefined;
  const location: ImageLocation = local
    ? { transport: 'strata', name: target }
    : parseImageLocation(target, 'docker');
  return withRegistryPool(options, async (pool) => {
    const reader = imageReaderFor(location, pool, options.store);
    const top = await reader.resolve(options.signal);
    const base = {
      location: formatImageLocation(location),
      digest: top.descriptor.digest,
      mediaType: top.descriptor.mediaType,
    };
    let manifestBlob = top;
    let platforms: InspectPlatform[] | undefined;
    if (sniffManifestKind(top.raw) === 'index') {
      const index = parseIndex(top.raw);
      platforms = index.manifests.map((m) => ({
        platform: m.platform ? formatPlatform(m.platform) : 'unknown',
        digest: m.digest,
        size: m.size,
        mediaType: m.mediaType,
      }));
      let chosen: Descriptor | undefined;
      try {
        chosen = choosePlatform(reader.name, top.raw, options.platform ?? hostPlatform());
      } catch (error) {
        if (options.platform) throw error;
        chosen = index.manifests.find((m) => m.platform?.os !== 'unknown');
      }
      if (!chosen) return { ...base, platforms };
      try {
        manifestBlob = {
          raw: await reader.readManifest(chosen, options.signal),
          descriptor: plainDescriptor(chosen),
        };
      } catch (error) {
        // A store that pulled one platform holds only that child: describe the index alone.
        if (error instanceof NotFoundError) return { ...base, platforms };
        throw error;
      }
    }
    const manifest = parseManifest(manifestBlob.raw);
    const config = await readConfig(reader, manifest.config, options.signal);
    // History entries that made a layer, in layer order (the others changed only the config).
    const layerHistory = (config.history ?? []).filter((h) => h.empty_layer !== true);
    return {
      ...base,
      ...(platforms ? { platforms } : {}),
      manifest: {
        digest: manifestBlob.descriptor.digest,
        mediaType: manifestBlob.descriptor.mediaType,
        size: manifestBlob.descriptor.size,
      },
      id: manifest.config.digest,
      config: { digest: manifest.config.digest, ...summariseConfig(config) },
      layers: manifest.layers.map((l, i) => {
        const createdBy = layerHistory[i]?.created_by;
        return {
          digest: l.digest,
          mediaType: l.mediaType,
          size: l.size,
          ...(createdBy ? { createdBy } : {}),
        };
      }),
      size: manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0),
    };
  });
}
