import { availableParallelism } from 'node:os';
import { openDecompressed, writeLayerBlob } from '../archive/index.ts';
import type { CacheRecord, StepCache } from '../cache/index.ts';
import {
  type Compression,
  type Descriptor,
  type Digest,
  type Layer,
  layerCompression,
} from '../oci/index.ts';
import type { Store } from '../store/index.ts';
import { InternalError } from '../util/index.ts';

/**
 * Compresses, once each, the layers that builder stages stored uncompressed
 * (`LayerOptions.internalCompression`) when one of them ends up in an exported image or cache —
 * and, generally, converts a layer this build's steps made (or reused) in another compression than
 * the one asked for (`--output …,compression=`), and with `force` base-image layers too.
 *
 * A builder stage's layers are only cache records: BuildKit keeps them as snapshots and never
 * compresses them, and gzip is most of the cost of committing a large layer (a 100 MB `go build`
 * layer: 1.2 s gzip, 0.3 s plain). When such a record is later reused by an image that exports it
 * (a single-stage Dockerfile sharing the steps, `--target` on the builder), or by a `--cache-to
 * mode=max` export, its blob is compressed then, and the record rewritten to name the compressed
 * blob so the next build reuses that directly.
 */
export class LayerCompressor {
  readonly #store: Store;
  readonly #steps: StepCache | undefined;
  readonly #compression: Compression;
  readonly #level: number | undefined;
  readonly #force: boolean;
  readonly #signal: AbortSignal | undefined;
  readonly #done = new Map<Digest, Promise<Descriptor>>();
  /** The background conversions ({@link prefetch}), one at a time. */
  #queue: Promise<void> = Promise.resolve();
  /** Set once the build waits for the conversions ({@link imageLayers}): they then take every core. */
  #waitedFor = false;

  constructor(options: {
    store: Store;
    steps?: StepCache;
    compression: Compression;
    level?: number;
    /** Convert base-image layers too (`force-compression=true`). */
    force?: boolean;
    signal?: AbortSignal;
  }) {
    this.#store = options.store;
    this.#steps = options.steps;
    this.#compression = options.compression;
    this.#level = options.level;
    this.#force = options.force ?? false;
    this.#signal = options.signal;
  }

  /**
   * Starts converting `layer` in the background, after the conversions started before it, if it
   * is in another compression. {@link imageLayers} then awaits that conversion instead of making
   * it; its failure is reported there (and lost with a build that failed anyway).
   */
  prefetch(layer: Layer): void {
    const digest = layer.descriptor.digest;
    if (!this.wants(layer.descriptor) || this.#done.has(digest)) return;
    // Beside the steps still running, leave them a core; once the build waits, take them all.
    const cores = availableParallelism();
    const concurrency = () => (this.#waitedFor ? Math.max(2, cores) : Math.max(1, cores - 1));
    const done = this.#queue.then(() => this.#write(layer, concurrency));
    done.catch(() => undefined);
    this.#done.set(digest, done);
    this.#queue = done.then(
      () => undefined,
      () => undefined,
    );
  }

  /** Resolves when every conversion started so far has ended, however it ended. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.#done.values());
  }

  /** True when a layer with this descriptor is one this compressor would convert. */
  wants(descriptor: Descriptor): boolean {
    return layerCompression(descriptor.mediaType) !== this.#compression;
  }

  /**
   * The image's layers with every one that a step of this build made (one of `records`) in
   * another compression converted — with `force`, base-image layers too; otherwise those stay as
   * they came. The records naming converted layers are rewritten in place and in the step cache.
   */
  async imageLayers(layers: readonly Layer[], records: CacheRecord[]): Promise<Layer[]> {
    this.#waitedFor = true;
    const made = new Set(records.filter((r) => this.wants(r.layer)).map((r) => r.layer.digest));
    const out: Layer[] = [];
    for (const layer of layers) {
      const convert = this.#force ? this.wants(layer.descriptor) : made.has(layer.descriptor.digest);
      if (!convert) {
        out.push(layer);
        continue;
      }
      const descriptor = await this.#compress(layer);
      out.push({
        descriptor,
        diffId: layer.diffId,
        open: (s) => this.#store.blobs.open(descriptor.digest, s ? { signal: s } : {}),
      });
    }
    await this.records(records, { onlyDone: true });
    return out;
  }

  /**
   * Rewrites `records` (in place, and in the step cache) to name compressed blobs: all of them, or
   * with `onlyDone` those whose layer was already compressed. A record whose uncompressed blob is
   * not in the store (an imported record never fetched) is left alone.
   */
  async records(records: CacheRecord[], options: { onlyDone?: boolean } = {}): Promise<void> {
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      if (!this.wants(record.layer)) continue;
      const digest = record.layer.digest;
      if (options.onlyDone && !this.#done.has(digest)) continue;
      if (!this.#done.has(digest) && this.#store.blobs.sizeSync(digest) !== record.layer.size) continue;
      const descriptor = await this.#compress({
        descriptor: record.layer,
        diffId: record.diffId,
        open: (s) => this.#store.blobs.open(digest, s ? { signal: s } : {}),
      });
      const rewritten: CacheRecord = { ...record, layer: descriptor };
      records[i] = rewritten;
      await this.#steps?.put(rewritten);
    }
  }

  #compress(layer: Layer): Promise<Descriptor> {
    const digest = layer.descriptor.digest;
    let done = this.#done.get(digest);
    if (!done) {
      done = this.#write(layer);
      this.#done.set(digest, done);
    }
    return done;
  }

  async #write(layer: Layer, gzipConcurrency?: () => number): Promise<Descriptor> {
    const signal = this.#signal;
    const pending = await this.#store.blobs.pending();
    try {
      // Whatever the blob's compression, its uncompressed tar is what gets compressed again.
      const blob = await writeLayerBlob(openDecompressed(await layer.open(signal)), {
        sink: pending.path,
        compression: this.#compression,
        ...(this.#level !== undefined && this.#compression !== 'none' ? { level: this.#level } : {}),
        ...(gzipConcurrency !== undefined ? { gzipConcurrency } : {}),
        ...(signal ? { signal } : {}),
      });
      if (blob.diffId !== layer.diffId) {
        throw new InternalError(
          `layer ${layer.descriptor.digest} holds diff ${blob.diffId}, its record says ${layer.diffId}`,
        );
      }
      await pending.commit({ digest: blob.digest, size: blob.size });
      await this.#store.lease.add(blob.digest);
      return { mediaType: blob.mediaType, digest: blob.digest, size: blob.size };
    } catch (error) {
      await pending.abort();
      throw error;
    }
  }
}
