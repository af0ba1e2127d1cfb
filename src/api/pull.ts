import { type Descriptor, digestOf, type Platform, parseManifest } from '../oci/index.ts';
import type { ProgressSink, StepId } from '../progress/index.ts';
import { parseReference } from '../reference/index.ts';
import { RegistryReader } from '../registry/index.ts';
import type { ImageName, Store } from '../store/index.ts';
import {
  type ImageReader,
  type ManifestBlob,
  platformManifest,
  StoreImageWriter,
  transferImage,
} from '../transport/index.ts';
import { InvalidInputError } from '../util/index.ts';
import { imageNameOf } from './images.ts';
import { type RegistryAccess, withRegistryPool } from './registry-access.ts';

/** Options of {@link pull}. */
export interface PullImageOptions extends RegistryAccess {
  /** Platform to take from an index (default: this host's). */
  readonly platform?: Platform;
  /** Keep a multi-platform image whole: the index and every platform's image (not with `platform`). */
  readonly allPlatforms?: boolean;
  readonly events?: ProgressSink;
  readonly step?: StepId;
  /** Layers at once (default 4). */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  /**
   * Pull exactly this manifest (found earlier by {@link fetchImageMetadata}) rather than what the
   * reference names now, so a tag moved meanwhile cannot swap the image a build planned with.
   */
  readonly pinned?: { readonly manifest: Descriptor; readonly resolvedDigest: string };
}

/** What {@link pull} stored. */
export interface PullImageResult {
  readonly name: ImageName;
  /**
   * The manifest stored and named: the platform's manifest when the reference names an index, or
   * the index itself with `allPlatforms`.
   */
  readonly descriptor: Descriptor;
  /** The digest the reference resolved to in the registry (the index's, for a multi-platform image). */
  readonly resolvedDigest: string;
  /** Blobs downloaded, and skipped because the store had them. */
  readonly downloadedBlobs: number;
  readonly skippedBlobs: number;
  readonly downloadedBytes: number;
}

/**
 * `strata pull REF`: fetches the image from its registry into the store and names it REF (fully
 * normalised). Blobs are verified as they land; blobs the store already holds are not fetched.
 * Prints nothing; progress (and Docker's "Pulling from" / "Digest:" / "Status:" lines, as
 * messages) goes to `events`.
 */
export async function pull(
  store: Store,
  reference: string,
  options: PullImageOptions = {},
): Promise<PullImageResult> {
  const ref = parseReference(reference);
  const name = imageNameOf(reference);
  if (options.allPlatforms && options.platform)
    throw new InvalidInputError('--all-platforms and --platform cannot be used together', {
      hint: 'keep the whole index with --all-platforms, or one platform with --platform',
    });
  const events = options.events;
  const message = (text: string) =>
    events?.emit({
      type: 'message',
      at: Date.now(),
      level: 'info',
      text,
      ...(options.step ? { step: options.step } : {}),
    });
  return withRegistryPool(options, async (pool) => {
    const registry = new RegistryReader(pool.client(ref.registryHost()), ref);
    const pinned = options.pinned;
    const reader: ImageReader = pinned
      ? {
          name: registry.name,
          origin: registry.origin,
          resolve: (signal) => registry.fetchManifest(pinned.manifest.digest, signal),
          readManifest: (descriptor, signal) => registry.readManifest(descriptor, signal),
          openBlob: (descriptor, o) => registry.openBlob(descriptor, o),
        }
      : registry;
    message(`${ref.digest ?? ref.tag ?? 'latest'}: Pulling from ${ref.path}`);
    {
      const result = await transferImage(reader, new StoreImageWriter(store, name), {
        direction: 'pull',
        ...(options.platform ? { platform: options.platform } : {}),
        ...(options.allPlatforms ? { allPlatforms: true } : {}),
        ...(events ? { events } : {}),
        ...(options.step ? { step: options.step } : {}),
        ...(options.concurrency ? { concurrency: options.concurrency } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      message(`Digest: ${pinned?.resolvedDigest ?? result.source.descriptor.digest}`);
      message(
        result.copiedBlobs === 0
          ? `Status: Image is up to date for ${name.short}`
          : `Status: Downloaded newer image for ${name.short}`,
      );
      return {
        name,
        descriptor: result.top.descriptor,
        resolvedDigest: pinned?.resolvedDigest ?? result.source.descriptor.digest,
        downloadedBlobs: result.copiedBlobs,
        skippedBlobs: result.skippedBlobs,
        downloadedBytes: result.copiedBytes,
      };
    }
  });
}

/** An image's manifest and config, fetched without its layers. */
export interface ImageMetadata {
  /** The platform's manifest (an index's child when the reference names an index). */
  readonly manifest: ManifestBlob;
  readonly rawConfig: Uint8Array;
  /** The digest the reference resolved to (the index's, for a multi-platform image). */
  readonly resolvedDigest: string;
}

/**
 * What a build needs to plan on an image it has not pulled: the manifest for `platform` and the
 * config — a few kB, verified against their digests. The layers come later, with
 * `pull(…, { pinned })`, and only if something reads them (BuildKit resolves base images the
 * same way, and fetches layers when it unpacks them).
 */
export async function fetchImageMetadata(
  reference: string,
  options: RegistryAccess & { platform?: Platform; signal?: AbortSignal } = {},
): Promise<ImageMetadata> {
  const ref = parseReference(reference);
  const signal = options.signal;
  return withRegistryPool(options, async (pool) => {
    const reader = new RegistryReader(pool.client(ref.registryHost()), ref);
    const source = await reader.resolve(signal);
    const manifest = await platformManifest(reader, source, options.platform, signal);
    const config = parseManifest(manifest.raw).config;
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of await reader.openBlob(config, signal ? { signal } : {})) {
      bytes += (chunk as Buffer).length;
      if (bytes > config.size) break; // more than the manifest says: refused below, not read on
      chunks.push(chunk as Buffer);
    }
    const rawConfig = Buffer.concat(chunks);
    if (bytes !== config.size || digestOf(rawConfig) !== config.digest) {
      throw new InvalidInputError(`${reader.name}: config blob ${config.digest} does not match its digest`);
    }
    return { manifest, rawConfig, resolvedDigest: source.descriptor.digest };
  });
}
