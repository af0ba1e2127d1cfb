import type { Digest, Platform } from '../oci/index.ts';
import type { ProgressSink, StepId } from '../progress/index.ts';
import type { Reference } from '../reference/index.ts';
import { type BlobSink, BlobSinkWriter, type TransferResult, transferImage } from '../transport/index.ts';
import type { RegistryPool } from './registry-client.ts';
import { RegistryReader } from './registry-reader.ts';

/** Options of {@link pullImage}. */
export interface PullOptions {
  /** Platform to take from an index (default: the host's). */
  readonly platform?: Platform;
  readonly events?: ProgressSink;
  readonly step?: StepId;
  /** Layers downloaded at once (default 4). */
  readonly concurrency?: number;
  /** Called with digests before they are checked or written, so a lease can protect them. */
  readonly protect?: (digests: readonly Digest[]) => Promise<void>;
  readonly signal?: AbortSignal;
}

/**
 * Pulls `reference` into `sink`: the manifest (by tag or digest; for an index, the platform's
 * manifest), then config and layers, streamed, verified by the sink, concurrently, skipping blobs
 * the sink holds, resuming interrupted downloads. Resolves with the manifest written as the top
 * level (`result.top`) — the caller names it.
 */
export async function pullImage(
  pool: RegistryPool,
  reference: Reference,
  sink: BlobSink,
  options: PullOptions = {},
): Promise<TransferResult> {
  const reader = new RegistryReader(pool.client(reference.registryHost()), reference);
  return transferImage(reader, new BlobSinkWriter(sink), { ...options, direction: 'pull' });
}
