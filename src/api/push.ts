import type { Descriptor } from '../oci/index.ts';
import type { ProgressSink, StepId } from '../progress/index.ts';
import { parseReference } from '../reference/index.ts';
import { pushImage } from '../registry/index.ts';
import type { Store } from '../store/index.ts';
import { StoreImageReader } from '../transport/index.ts';
import { type RegistryAccess, withRegistryPool } from './registry-access.ts';

/** Options of {@link push}. */
export interface PushImageOptions extends RegistryAccess {
  /** Push the store's image under this reference instead of its own name. */
  readonly destination?: string;
  readonly events?: ProgressSink;
  readonly step?: StepId;
  /** Layers at once (default 4). */
  readonly concurrency?: number;
  /** Blobs above this size upload in chunks of it (default 64 MiB). */
  readonly chunkSize?: number;
  readonly signal?: AbortSignal;
}

/** What {@link push} sent. */
export interface PushImageResult {
  readonly reference: string;
  readonly descriptor: Descriptor;
  readonly uploadedBlobs: number;
  readonly skippedBlobs: number;
  readonly uploadedBytes: number;
}

/**
 * `strata push NAME`: uploads the image the store names NAME to the registry NAME points at
 * (or to `destination`): missing blobs, then manifests (an index after its children), then the tag.
 */
export async function push(
  store: Store,
  name: string,
  options: PushImageOptions = {},
): Promise<PushImageResult> {
  const target = parseReference(options.destination ?? name);
  return withRegistryPool(options, async (pool) => {
    const result = await pushImage(pool, new StoreImageReader(store, name), target, {
      ...(options.events ? { events: options.events } : {}),
      ...(options.step ? { step: options.step } : {}),
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    options.events?.emit({
      type: 'message',
      at: Date.now(),
      level: 'info',
      text: `${target.tag ?? target.digest}: digest: ${result.top.descriptor.digest} size: ${result.top.descriptor.size}`,
    });
    return {
      reference: target.toString(),
      descriptor: result.top.descriptor,
      uploadedBlobs: result.copiedBlobs,
      skippedBlobs: result.skippedBlobs,
      uploadedBytes: result.copiedBytes,
    };
  });
}
