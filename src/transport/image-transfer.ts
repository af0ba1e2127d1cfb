import { type Readable, Transform, type TransformCallback } from 'node:stream';
import {
  type Descriptor,
  type Digest,
  formatPlatform,
  hostPlatform,
  isIndexMediaType,
  MediaTypes,
  type Platform,
  parseIndex,
  parseManifest,
  platformMatches,
  sniffManifestKind,
} from '../oci/index.ts';
import type { BlobKind, ProgressSink, StepId, TransferStatus } from '../progress/index.ts';
import { Limiter, StrataError } from '../util/index.ts';

/** A manifest or index and the descriptor that names it. */
export interface ManifestBlob {
  readonly raw: Uint8Array;
  /** mediaType, digest and size of `raw` (verified by whoever produced it). */
  readonly descriptor: Descriptor;
}

/** Where a reader's images live, so a registry writer on the same host can mount blobs. */
export interface BlobOrigin {
  readonly host: string;
  readonly repository: string;
}

/**
 * One side an image is copied from: a registry, the local store, an OCI layout, a docker-archive.
 * Every method verifies what it returns against digests (manifests) or leaves that to the
 * writer's verified ingest (blobs).
 */
export interface ImageReader {
  /** For messages: `docker://localhost:5000/app:1`, `strata:app:1`. */
  readonly name: string;
  readonly origin?: BlobOrigin;
  /** The manifest or index the source names. */
  resolve(signal?: AbortSignal): Promise<ManifestBlob>;
  /** A manifest by descriptor (an index's child), verified against its digest. */
  readManifest(descriptor: Descriptor, signal?: AbortSignal): Promise<Uint8Array>;
  /**
   * A blob's bytes from `offset` (0 = the start) to its end. A remote reader may resume after
   * faults by itself; it reports each resume through `onRetry`.
   */
  openBlob(
    descriptor: Descriptor,
    options?: { offset?: number; signal?: AbortSignal; onRetry?: (reason: string) => void },
  ): Promise<Readable>;
}

/** Opens a blob's bytes from `offset`; each call is a fresh stream. */
export type BlobOpener = (offset: number, signal?: AbortSignal) => Promise<Readable>;

/** Callbacks a writer reports a blob's progress through. */
export interface BlobWriteOptions {
  /** Bytes of the blob written so far (after a resume it continues from the resumed offset). */
  readonly onProgress: (bytes: number) => void;
  /** Called before a retry; the transfer shows `retrying`. */
  readonly onRetry: (reason: string) => void;
  readonly signal?: AbortSignal;
}

/** The other side: where an image is copied to. Blobs first, then manifests (children first), then commit. */
export interface ImageWriter {
  readonly name: string;
  /** True when the destination already holds the blob (then it is skipped). */
  hasBlob(descriptor: Descriptor, signal?: AbortSignal): Promise<boolean>;
  /** Copies a blob without its bytes (a registry's cross-repository mount); true when it worked. */
  mountBlob?(descriptor: Descriptor, from: BlobOrigin, signal?: AbortSignal): Promise<boolean>;
  /** Writes a blob, verified against its digest and size; nothing unverified may remain on failure. */
  writeBlob(descriptor: Descriptor, open: BlobOpener, options: BlobWriteOptions): Promise<void>;
  /** Writes a manifest or index by digest. */
  writeManifest(manifest: ManifestBlob, signal?: AbortSignal): Promise<void>;
  /** Names the top-level manifest (tag) and finishes the destination (e.g. writes the archive). */
  commit(top: ManifestBlob, signal?: AbortSignal): Promise<void>;
  /** Releases whatever a failed transfer left (temp files); called by transferImage on failure. */
  abort?(): Promise<void>;
}

/** Options of {@link transferImage}. */
export interface TransferOptions {
  /** Which image to take from an index (default: the host's platform). */
  readonly platform?: Platform;
  /** Copy the whole index with every platform instead of choosing one. */
  readonly allPlatforms?: boolean;
  readonly events?: ProgressSink;
  /** Direction words for events: `pull` (downloading) or `push` (pushing). Default pull. */
  readonly direction?: 'pull' | 'push';
  /** The build step this transfer belongs to, if any. */
  readonly step?: StepId;
  /** Blobs in flight at once (default 4). */
  readonly concurrency?: number;
  /** Called with each blob's digest before it is checked or written (leases). */
  readonly protect?: (digests: readonly Digest[]) => Promise<void>;
  readonly signal?: AbortSignal;
}

/** What {@link transferImage} did. */
export interface TransferResult {
  /** What the source named (possibly an index). */
  readonly source: ManifestBlob;
  /** What was written as the top level: the chosen platform's manifest, or the whole index. */
  readonly top: ManifestBlob;
  /** Blobs whose bytes were copied. */
  readonly copiedBlobs: number;
  /** Blobs skipped because the destination had them (or mounted them). */
  readonly skippedBlobs: number;
  /** Bytes of blobs copied. */
  readonly copiedBytes: number;
}

/** Thrown when an index has no image for the requested platform. */
export class PlatformNotFoundError extends StrataError {
  constructor(name: string, wanted: Platform, available: readonly string[]) {
    super(
      'NO_MATCHING_PLATFORM',
      `${name}: no image for platform ${formatPlatform(wanted)} (available: ${available.join(', ') || 'none'})`,
      { hint: 'choose one of the available platforms with --platform' },
    );
  }
}

/** The index entry for `platform`, or PlatformNotFoundError. Attestation manifests (`unknown/unknown`) never match. */
export function choosePlatform(name: string, rawIndex: Uint8Array, platform: Platform): Descriptor {
  const index = parseIndex(rawIndex);
  const candidates = index.manifests.filter((m) => m.platform && m.platform.os !== 'unknown');
  const exact = candidates.find((m) => platformMatches(platform, m.platform!));
  if (!exact)
    throw new PlatformNotFoundError(
      name,
      platform,
      candidates.map((m) => formatPlatform(m.platform!)),
    );
  return exact;
}

const EMIT_EVERY_MS = 100;

/**
 * Copies an image from `reader` to `writer`: resolves the source; for an index either picks the
 * platform's manifest or (with `allPlatforms`) copies every child; copies config and layers
 * concurrently (skipping blobs the destination has, mounting where it can); writes each manifest
 * after its blobs and an index after its children (so a reader of the destination never sees a
 * manifest whose blobs are missing); and finally commits (tags) the top level.
 */
export async function transferImage(
  reader: ImageReader,
  writer: ImageWriter,
  options: TransferOptions = {},
): Promise<TransferResult> {
  const transfer = new Transfer(reader, writer, options);
  try {
    const source = await reader.resolve(transfer.signal);
    const top = options.allPlatforms
      ? source
      : await platformManifest(reader, source, options.platform, transfer.signal);
    await transfer.copyManifest(top);
    await writer.commit(top, transfer.signal);
    return { source, top, ...transfer.stats };
  } catch (error) {
    await transfer.cancel();
    throw error;
  }
}

type TransferEventDetail = { current?: number; total?: number; message?: string };

/** One run of {@link transferImage}: the blobs in flight (each copied once), counts and events. */
class Transfer {
  readonly signal: AbortSignal;
  readonly stats = { copiedBlobs: 0, skippedBlobs: 0, copiedBytes: 0 };
  readonly #reader: ImageReader;
  readonly #writer: ImageWriter;
  readonly #options: TransferOptions;
  readonly #direction: 'pull' | 'push';
  // The first failure cancels the blobs still in flight, so an error surfaces at once.
  readonly #cancel = new AbortController();
  readonly #limiter: Limiter;
  readonly #started = new Map<Digest, Promise<void>>();

  constructor(reader: ImageReader, writer: ImageWriter, options: TransferOptions) {
    this.#reader = reader;
    this.#writer = writer;
    this.#options = options;
    this.#direction = options.direction ?? 'pull';
    this.#limiter = new Limiter(options.concurrency ?? 4);
    this.signal = options.signal
      ? AbortSignal.any([options.signal, this.#cancel.signal])
      : this.#cancel.signal;
  }

  /** Copies a manifest's blobs (an index's children, one after another), then the manifest. */
  async copyManifest(manifest: ManifestBlob): Promise<void> {
    const kind = sniffManifestKind(manifest.raw);
    await this.#options.protect?.([manifest.descriptor.digest]);
    if (kind === 'index') {
      const index = parseIndex(manifest.raw);
      // Children one after another keeps the per-manifest ordering simple; blobs inside are concurrent.
      for (const child of index.manifests) {
        const raw = await this.#reader.readManifest(child, this.signal);
        await this.copyManifest({ raw, descriptor: plainDescriptor(child) });
      }
    } else {
      const parsed = parseManifest(manifest.raw);
      for (const layer of parsed.layers) this.#emit(layer.digest, 'layer', 'waiting', { total: layer.size });
      await Promise.all([
        this.#copyBlob(parsed.config, 'config'),
        ...parsed.layers.map((layer) => this.#copyBlob(layer, 'layer')),
      ]);
    }
    await this.#writer.writeManifest(manifest, this.signal);
  }

  /** After a failure: cancels the blobs in flight, lets them settle, then lets the writer clean up. */
  async cancel(): Promise<void> {
    this.#cancel.abort();
    await Promise.allSettled(this.#started.values());
    await this.#writer.abort?.();
  }

  #emit(digest: Digest, kind: BlobKind, status: TransferStatus, extra: TransferEventDetail = {}): void {
    this.#options.events?.emit({
      type: 'transfer',
      at: Date.now(),
      direction: this.#direction,
      digest,
      kind,
      status,
      ...extra,
      ...(this.#options.step !== undefined ? { step: this.#options.step } : {}),
    });
  }

  /** Copies a blob once however many manifests name it: skipped, mounted or moved. */
  #copyBlob(descriptor: Descriptor, kind: BlobKind): Promise<void> {
    let pending = this.#started.get(descriptor.digest);
    if (!pending) {
      pending = this.#limiter.run(async () => {
        await this.#options.protect?.([descriptor.digest]);
        if (await this.#writer.hasBlob(descriptor, this.signal)) {
          this.stats.skippedBlobs++;
          this.#emit(descriptor.digest, kind, 'exists', { total: descriptor.size });
          return;
        }
        const origin = this.#reader.origin;
        if (
          origin &&
          this.#writer.mountBlob &&
          (await this.#writer.mountBlob(descriptor, origin, this.signal))
        ) {
          this.stats.skippedBlobs++;
          this.#emit(descriptor.digest, kind, 'mounted', { total: descriptor.size });
          return;
        }
        await this.#moveBlob(descriptor, kind);
        this.stats.copiedBlobs++;
        this.stats.copiedBytes += descriptor.size;
        this.#emit(descriptor.digest, kind, 'done', { current: descriptor.size, total: descriptor.size });
      });
      this.#started.set(descriptor.digest, pending);
    }
    return pending;
  }

  /** Moves a blob's bytes from the reader to the writer, reporting progress at most every 100 ms. */
  async #moveBlob(descriptor: Descriptor, kind: BlobKind): Promise<void> {
    const { signal } = this;
    const moving: TransferStatus = this.#direction === 'pull' ? 'downloading' : 'pushing';
    let lastEmit = 0;
    let verifying = false;
    const onRetry = (reason: string) => {
      verifying = false;
      this.#emit(descriptor.digest, kind, 'retrying', { message: reason });
    };
    await this.#writer.writeBlob(
      descriptor,
      (offset, s) => this.#reader.openBlob(descriptor, { offset, onRetry, ...(s ? { signal: s } : {}) }),
      {
        onProgress: (bytes) => {
          const now = Date.now();
          if (bytes >= descriptor.size && !verifying) {
            verifying = true;
            this.#emit(descriptor.digest, kind, this.#direction === 'pull' ? 'verifying' : moving, {
              current: bytes,
              total: descriptor.size,
            });
          } else if (now - lastEmit >= EMIT_EVERY_MS && bytes < descriptor.size) {
            lastEmit = now;
            this.#emit(descriptor.digest, kind, moving, { current: bytes, total: descriptor.size });
          }
        },
        onRetry,
        signal,
      },
    );
  }
}

/**
 * The manifest for `platform` (default: the host's): `source` itself when it is a manifest, else
 * the index entry for the platform, read from `reader` and verified.
 */
export async function platformManifest(
  reader: ImageReader,
  source: ManifestBlob,
  platform: Platform = hostPlatform(),
  signal?: AbortSignal,
): Promise<ManifestBlob> {
  if (sniffManifestKind(source.raw) !== 'index') return source;
  const chosen = choosePlatform(reader.name, source.raw, platform);
  return { raw: await reader.readManifest(chosen, signal), descriptor: plainDescriptor(chosen) };
}

/** mediaType, digest and size only (platform and annotations belong to the index entry). */
export function plainDescriptor(descriptor: Descriptor): Descriptor {
  return { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size };
}

/** The media type of manifest bytes: their `mediaType` field, else by shape (OCI). */
export function manifestMediaType(raw: Uint8Array, fallback?: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(raw).toString('utf8')) as { mediaType?: unknown };
    if (typeof parsed.mediaType === 'string' && parsed.mediaType) return parsed.mediaType;
  } catch {
    // not JSON: the parser called next reports it properly
  }
  if (fallback && (isIndexMediaType(fallback) || fallback.includes('manifest'))) return fallback;
  return sniffManifestKind(raw) === 'index' ? MediaTypes.ociIndex : MediaTypes.ociManifest;
}

/**
 * `source` piped through a pass-through that reports bytes seen (plus `offset`, where the stream
 * starts) to `onProgress`. Unlike a bare `.pipe()`, an error of `source` fails the returned stream
 * (it never goes unhandled), and destroying the returned stream destroys `source`.
 */
export function countedStream(
  source: Readable,
  offset: number,
  onProgress: (bytes: number) => void,
): Readable {
  let bytes = offset;
  const counter = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      bytes += chunk.length;
      onProgress(bytes);
      cb(null, chunk);
    },
  });
  return linkStreams(source, counter);
}

/**
 * Pipes `source` into `target` and ties their lives together: an error of either destroys the
 * other with it, so no error event is left without a listener.
 */
export function linkStreams<T extends Transform>(source: Readable, target: T): T {
  source.on('error', (error) => {
    if (!target.destroyed) target.destroy(error);
  });
  target.on('close', () => {
    if (!source.destroyed) source.destroy();
  });
  source.pipe(target);
  return target;
}
