import { createReadStream, createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip, constants as zlibConstants } from 'node:zlib';
import {
  type Descriptor,
  type Digest,
  hostPlatform,
  type ImageConfig,
  imageFromParts,
  type Layer,
  MediaTypes,
  type Platform,
  sha256Digest,
} from '../oci/index.ts';
import type { Store } from '../store/index.ts';
import { HashingStream, InvalidInputError } from '../util/index.ts';

/** What {@link importImage} needs. */
export interface ImportOptions {
  /** A path to a rootfs tarball (plain or gzip), or a stream (`-` on the CLI). */
  readonly source: string | Readable;
  /** Shown in the history comment, like `docker import` ("Imported from -"). */
  readonly sourceName?: string;
  readonly platform?: Platform;
  /** The history entry's comment (`docker import -m`). */
  readonly message?: string;
  /** Config fields to set (from `--change` instructions). */
  readonly config?: ImageConfig['config'];
  /** `created` time; SOURCE_DATE_EPOCH wins when set. */
  readonly created?: Date;
  readonly signal?: AbortSignal;
}

/** The image `importImage` stored, before naming. */
export interface ImportResult {
  readonly manifest: Descriptor;
  readonly diffId: Digest;
  readonly layer: Descriptor;
  readonly uncompressedSize: number;
}

/** Reads the first `count` bytes (fewer at EOF) and puts them back, so the stream still yields everything. */
async function peek(stream: Readable, count: number): Promise<{ head: Buffer; stream: Readable }> {
  const chunks: Buffer[] = [];
  let length = 0;
  let ended = false;
  stream.once('end', () => {
    ended = true;
  });
  while (length < count && !ended) {
    const chunk = stream.read() as Buffer | null;
    if (chunk !== null) {
      chunks.push(chunk);
      length += chunk.length;
      continue;
    }
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        stream.off('readable', done);
        stream.off('end', done);
        stream.off('error', fail);
        resolve();
      };
      const fail = (error: Error) => {
        stream.off('readable', done);
        stream.off('end', done);
        reject(error);
      };
      stream.once('readable', done);
      stream.once('end', done);
      stream.once('error', fail);
    });
  }
  const head = Buffer.concat(chunks);
  // After 'end' nothing can be unshifted: hand back the bytes as a fresh stream.
  if (ended) return { head, stream: Readable.from(head.length > 0 ? [head] : []) };
  if (head.length > 0) stream.unshift(head);
  return { head, stream };
}

const TAR_MAGIC_OFFSET = 257;

/**
 * Makes a one-layer image from a rootfs tarball, as `docker import` does: the (decompressed) tar
 * is the layer, its sha256 the diff_id; the layer is stored gzip-compressed; the config gets the
 * platform, `created`, and one history entry. Digests are computed while the bytes stream into the
 * store, in one pass; a truncated or non-tar input is an error and leaves nothing named.
 */
export async function importImage(store: Store, options: ImportOptions): Promise<ImportResult> {
  const input =
    typeof options.source === 'string'
      ? createReadStream(options.source, { highWaterMark: 1 << 20 })
      : options.source;
  const { head, stream } = await peek(input, 512);
  const gzipped = head[0] === 0x1f && head[1] === 0x8b;
  if (
    !gzipped &&
    !(
      head.length >= 262 &&
      head.subarray(TAR_MAGIC_OFFSET, TAR_MAGIC_OFFSET + 5).toString('latin1') === 'ustar'
    )
  ) {
    if (head.length === 0) throw new InvalidInputError('import: the input is empty');
    throw new InvalidInputError('import: the input is not a tar archive (nor a gzip-compressed one)', {
      hint: 'pass a rootfs tarball, e.g. `tar -C rootfs -c .`',
    });
  }
  const uncompressed = new HashingStream({ highWaterMark: 1 << 20 });
  const compressed = new HashingStream({ highWaterMark: 1 << 20 });
  const pending = await store.blobs.pending();
  try {
    await pipeline(
      [
        stream,
        ...(gzipped ? [createGunzip()] : []),
        uncompressed,
        createGzip({ level: zlibConstants.Z_DEFAULT_COMPRESSION }),
        compressed,
        createWriteStream(pending.path, { mode: 0o644 }),
      ],
      options.signal ? { signal: options.signal } : {},
    );
    const layerInfo = await pending.commit({ digest: sha256Digest(compressed.hex()), size: compressed.size });
    await store.lease.add(layerInfo.digest);
    const diffId = sha256Digest(uncompressed.hex());
    const uncompressedSize = uncompressed.size;
    const layerDescriptor: Descriptor = {
      mediaType: MediaTypes.ociLayerGzip,
      digest: layerInfo.digest,
      size: layerInfo.size,
    };
    const platform = options.platform ?? hostPlatform();
    const created = createdTime(options.created);
    const config: ImageConfig = {
      created,
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: options.config ?? {},
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [
        { created, created_by: '', comment: options.message ?? `Imported from ${options.sourceName ?? '-'}` },
      ],
    };
    const layer: Layer = {
      descriptor: layerDescriptor,
      diffId,
      open: (signal) => store.blobs.open(layerDescriptor.digest, signal ? { signal } : {}),
    };
    const image = imageFromParts({ config, layers: [layer] });
    const manifest = await store.writeImage(image, options.signal);
    return { manifest, diffId, layer: layerDescriptor, uncompressedSize };
  } catch (error) {
    await pending.abort();
    throw error;
  }
}

/** RFC 3339 time for `created`, honouring SOURCE_DATE_EPOCH for reproducible images. */
export function createdTime(date?: Date): string {
  const epoch = process.env.SOURCE_DATE_EPOCH;
  if (epoch && /^\d+$/.test(epoch)) return new Date(Number(epoch) * 1000).toISOString().replace('.000Z', 'Z');
  return (date ?? new Date()).toISOString();
}
