import type { Readable } from 'node:stream';
import type { Descriptor, Digest } from '../oci/index.ts';
import {
  type BlobOpener,
  type BlobWriteOptions,
  countedStream,
  type ImageWriter,
  type ManifestBlob,
} from './image-transfer.ts';

/**
 * Where pulled blobs go: content-addressed storage with verified ingest. strata's store
 * (`store.blobs`) satisfies it structurally; the registry module does not depend on the store.
 */
export interface BlobSink {
  /** The stored size of a blob, or undefined when absent. */
  size(digest: Digest): Promise<number | undefined>;
  /**
   * Streams content in; must fail (leaving nothing behind) when it does not hash to
   * `expected.digest` or has another size.
   */
  ingest(
    source: Readable,
    expected: { digest?: Digest; size?: number },
    signal?: AbortSignal,
  ): Promise<{ digest: Digest; size: number }>;
  /** Stores small bytes (manifests). */
  writeBytes(data: Uint8Array): Promise<{ digest: Digest; size: number }>;
}

/**
 * An {@link ImageWriter} over a {@link BlobSink}: blobs present with the right size are skipped,
 * others are ingested (verified by the sink), manifests written as bytes. Naming the result is
 * the caller's business (`commit` does nothing), because only it knows the store's naming.
 */
export class BlobSinkWriter implements ImageWriter {
  readonly name: string;
  readonly #sink: BlobSink;

  constructor(sink: BlobSink, name = 'store') {
    this.#sink = sink;
    this.name = name;
  }

  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    return (await this.#sink.size(descriptor.digest)) === descriptor.size;
  }

  async writeBlob(descriptor: Descriptor, open: BlobOpener, options: BlobWriteOptions): Promise<void> {
    // The opener's stream resumes by itself after dropped connections; the sink verifies.
    const source = countedStream(await open(0, options.signal), 0, options.onProgress);
    await this.#sink.ingest(source, { digest: descriptor.digest, size: descriptor.size }, options.signal);
  }

  async writeManifest(manifest: ManifestBlob): Promise<void> {
    await this.#sink.writeBytes(manifest.raw);
  }

  async commit(): Promise<void> {}
}
