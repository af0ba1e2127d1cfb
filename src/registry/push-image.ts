import type { ProgressSink, StepId } from '../progress/index.ts';
import type { Reference } from '../reference/index.ts';
import { type ImageReader, type TransferResult, transferImage } from '../transport/index.ts';
import type { RegistryPool } from './registry-client.ts';
import { RegistryWriter, type UploadOptions } from './registry-writer.ts';

/** Options of {@link pushImage}. */
export interface PushOptions extends UploadOptions {
  readonly events?: ProgressSink;
  readonly step?: StepId;
  /** Layers uploaded at once (default 4). */
  readonly concurrency?: number;
  /** Push the whole index when the source names one (default true: a push sends what is named). */
  readonly allPlatforms?: boolean;
  readonly signal?: AbortSignal;
}

/**
 * Pushes the image `source` names to `reference`: blobs the registry lacks are uploaded (mounted
 * when the source is another repository of the same registry), manifests after their blobs, an
 * index after its children, and the tag last.
 */
export async function pushImage(
  pool: RegistryPool,
  source: ImageReader,
  reference: Reference,
  options: PushOptions = {},
): Promise<TransferResult> {
  const writer = new RegistryWriter(
    pool.client(reference.registryHost()),
    reference,
    options.chunkSize !== undefined ? { chunkSize: options.chunkSize } : {},
  );
  return transferImage(source, writer, {
    ...options,
    allPlatforms: options.allPlatforms ?? true,
    direction: 'push',
  });
}
