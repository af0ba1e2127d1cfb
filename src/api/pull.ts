import type { Descriptor, Platform } from '../oci/index.ts';
import type { ProgressSink, StepId } from '../progress/index.ts';
import { parseReference } from '../reference/index.ts';
import { RegistryReader, transferImage } from '../registry/index.ts';
import type { ImageName, Store } from '../store/index.ts';
import { imageNameOf } from './images.ts';
import { type RegistryAccess, withRegistryPool } from './registry-access.ts';
import { StoreImageWriter } from './store-transport.ts';

/** Options of {@link pull}. */
export interface PullImageOptions extends RegistryAccess {
  /** Platform to take from an index (default: this host's). */
  readonly platform?: Platform;
  readonly events?: ProgressSink;
  readonly step?: StepId;
  /** Layers at once (default 4). */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
}

/** What {@link pull} stored. */
export interface PullImageResult {
  readonly name: ImageName;
  /** The manifest stored and named (the platform's manifest when the reference names an index). */
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
    const reader = new RegistryReader(pool.client(ref.registryHost()), ref);
    message(`${ref.digest ?? ref.tag ?? 'latest'}: Pulling from ${ref.path}`);
    {
      const result = await transferImage(reader, new StoreImageWriter(store, name), {
        direction: 'pull',
        ...(options.platform ? { platform: options.platform } : {}),
        ...(events ? { events } : {}),
        ...(options.step ? { step: options.step } : {}),
        ...(options.concurrency ? { concurrency: options.concurrency } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      message(`Digest: ${result.source.descriptor.digest}`);
      message(
        result.copiedBlobs === 0
          ? `Status: Image is up to date for ${name.short}`
          : `Status: Downloaded newer image for ${name.short}`,
      );
      return {
        name,
        descriptor: result.top.descriptor,
        resolvedDigest: result.source.descriptor.digest,
        downloadedBlobs: result.copiedBlobs,
        skippedBlobs: result.skippedBlobs,
        downloadedBytes: result.copiedBytes,
      };
    }
  });
}
