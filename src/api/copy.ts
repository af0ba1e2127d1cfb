import type { Descriptor, Platform } from '../oci/index.ts';
import type { ProgressSink } from '../progress/index.ts';
import { type RegistryPool, RegistryReader, RegistryWriter } from '../registry/index.ts';
import type { Store } from '../store/index.ts';
import {
  DockerArchiveReader,
  DockerArchiveWriter,
  formatImageLocation,
  type ImageLocation,
  type ImageReader,
  type ImageWriter,
  OciLayoutReader,
  OciLayoutWriter,
  parseImageLocation,
  StoreImageReader,
  StoreImageWriter,
  transferImage,
} from '../transport/index.ts';
import { InvalidInputError } from '../util/index.ts';
import { imageNameOf } from './images.ts';
import { type RegistryAccess, withRegistryPool } from './registry-access.ts';

/** Options of {@link copyImage}. */
export interface CopyImageOptions extends RegistryAccess {
  /** The store behind `strata:` locations (opened by the caller). */
  readonly store?: Store;
  /** Platform to take from an index (default: this host's). */
  readonly platform?: Platform;
  /** Copy a whole multi-platform index (skopeo's `--all`). */
  readonly allPlatforms?: boolean;
  readonly events?: ProgressSink;
  readonly concurrency?: number;
  /** Upload chunk size for registry destinations. */
  readonly chunkSize?: number;
  readonly signal?: AbortSignal;
}

/** What {@link copyImage} wrote. */
export interface CopyImageResult {
  readonly source: string;
  readonly destination: string;
  readonly descriptor: Descriptor;
  readonly copiedBlobs: number;
  readonly skippedBlobs: number;
  readonly copiedBytes: number;
}

function needStore(store: Store | undefined, location: ImageLocation): Store {
  if (!store)
    throw new InvalidInputError(`${formatImageLocation(location)}: the strata: transport needs the store`);
  return store;
}

/** The reader for a location. */
export function imageReaderFor(location: ImageLocation, pool: RegistryPool, store?: Store): ImageReader {
  switch (location.transport) {
    case 'docker':
      return new RegistryReader(pool.client(location.reference.registryHost()), location.reference);
    case 'oci':
      return new OciLayoutReader(location.path, location.tag);
    case 'docker-archive':
      return new DockerArchiveReader(location.path, location.reference);
    case 'strata':
      return new StoreImageReader(needStore(store, location), location.name);
    default: {
      const unknown: never = location;
      return unknown;
    }
  }
}

/** The writer for a location. */
export function imageWriterFor(
  location: ImageLocation,
  pool: RegistryPool,
  options: { store?: Store; chunkSize?: number } = {},
): ImageWriter {
  switch (location.transport) {
    case 'docker':
      return new RegistryWriter(
        pool.client(location.reference.registryHost()),
        location.reference,
        options.chunkSize ? { chunkSize: options.chunkSize } : {},
      );
    case 'oci':
      return new OciLayoutWriter(location.path, location.tag);
    case 'docker-archive':
      return new DockerArchiveWriter(location.path, location.reference);
    case 'strata':
      return new StoreImageWriter(needStore(options.store, location), imageNameOf(location.name));
    default: {
      const unknown: never = location;
      return unknown;
    }
  }
}

/**
 * `strata copy SRC DST`: copies an image between any two of a registry (`docker://`), an OCI
 * layout (`oci:dir[:tag]`), a docker-archive (`docker-archive:file.tar[:ref]`) and the store
 * (`strata:name`), like `skopeo copy`. One platform unless `allPlatforms`; blobs verified on
 * arrival; blobs the destination has are skipped; same-registry copies mount instead of uploading.
 */
export async function copyImage(
  source: string,
  destination: string,
  options: CopyImageOptions = {},
): Promise<CopyImageResult> {
  const from = parseImageLocation(source);
  const to = parseImageLocation(destination);
  if (options.allPlatforms && options.platform)
    throw new InvalidInputError('--all and --platform cannot be used together', {
      hint: 'copy the whole index with --all, or one platform with --platform',
    });
  return withRegistryPool(options, async (pool) => {
    const reader = imageReaderFor(from, pool, options.store);
    const writer = imageWriterFor(to, pool, {
      ...(options.store ? { store: options.store } : {}),
      ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}),
    });
    {
      const result = await transferImage(reader, writer, {
        direction: to.transport === 'docker' ? 'push' : 'pull',
        ...(options.platform ? { platform: options.platform } : {}),
        ...(options.allPlatforms ? { allPlatforms: true } : {}),
        ...(options.events ? { events: options.events } : {}),
        ...(options.concurrency ? { concurrency: options.concurrency } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      return {
        source: formatImageLocation(from),
        destination: formatImageLocation(to),
        descriptor: result.top.descriptor,
        copiedBlobs: result.copiedBlobs,
        skippedBlobs: result.skippedBlobs,
        copiedBytes: result.copiedBytes,
      };
    }
  });
}
