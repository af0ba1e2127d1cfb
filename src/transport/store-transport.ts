import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Descriptor, Digest } from '../oci/index.ts';
import { isDigest } from '../oci/index.ts';
import { isReference, parseReference } from '../reference/index.ts';
import type { ImageName, Store } from '../store/index.ts';
import { isErrnoException, NotFoundError } from '../util/index.ts';
import { BlobSinkWriter } from './blob-sink.ts';
import {
  type BlobOpener,
  type BlobOrigin,
  type BlobWriteOptions,
  type ImageReader,
  type ImageWriter,
  type ManifestBlob,
  manifestMediaType,
} from './image-transfer.ts';
import { resolveStoredImage } from './stored-image.ts';

/**
 * Reads a named image (or a manifest digest) from strata's store. When the name is a registry
 * reference (`localhost:5000/team/app:1`), that repository is offered as the blobs' origin, so a
 * push to another repository of the same registry mounts them instead of uploading (the registry
 * declines a mount of a blob it does not have there, and the blob is uploaded).
 */
export class StoreImageReader implements ImageReader {
  readonly name: string;
  readonly origin?: BlobOrigin;
  readonly #store: Store;
  readonly #target: string;

  constructor(store: Store, target: string) {
    this.#store = store;
    this.#target = target;
    this.name = `strata:${target}`;
    if (!isDigest(target) && isReference(target)) {
      const ref = parseReference(target);
      this.origin = { host: ref.registryHost(), repository: ref.path };
    }
  }

  async resolve(): Promise<ManifestBlob> {
    const digest: Digest = (await resolveStoredImage(this.#store, this.#target)).digest;
    const raw = await this.#store.blobs.read(digest);
    return { raw, descriptor: { mediaType: manifestMediaType(raw), digest, size: raw.length } };
  }

  async readManifest(descriptor: Descriptor): Promise<Uint8Array> {
    return this.#store.blobs.read(descriptor.digest);
  }

  async openBlob(
    descriptor: Descriptor,
    options: { offset?: number; signal?: AbortSignal } = {},
  ): Promise<Readable> {
    const path = this.#store.blobs.path(descriptor.digest);
    const stream = createReadStream(path, {
      start: options.offset ?? 0,
      highWaterMark: 1 << 20,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    // Surface a missing blob as NotFoundError before any byte is expected.
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (error) =>
        reject(
          isErrnoException(error, 'ENOENT')
            ? new NotFoundError(`blob ${descriptor.digest} is not in the store`, {
                hint: 'the image is incomplete: pull it again with --all-platforms or pick one with --platform',
              })
            : error,
        ),
      );
    });
    return stream;
  }
}

/**
 * Writes into strata's store: blobs through its verified ingest (protected by the process's lease
 * until named), manifests as bytes, and on commit the top level named `name` (when given).
 */
export class StoreImageWriter implements ImageWriter {
  readonly name: string;
  readonly #store: Store;
  readonly #inner: BlobSinkWriter;
  readonly #imageName: ImageName | undefined;

  constructor(store: Store, name?: ImageName) {
    this.#store = store;
    this.#imageName = name;
    this.name = `strata:${name?.short ?? '(unnamed)'}`;
    this.#inner = new BlobSinkWriter(store.blobs, this.name);
  }

  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    await this.#store.lease.add(descriptor.digest);
    return this.#inner.hasBlob(descriptor);
  }

  async writeBlob(descriptor: Descriptor, open: BlobOpener, options: BlobWriteOptions): Promise<void> {
    await this.#store.lease.add(descriptor.digest);
    await this.#inner.writeBlob(descriptor, open, options);
  }

  async writeManifest(manifest: ManifestBlob): Promise<void> {
    await this.#store.lease.add(manifest.descriptor.digest);
    await this.#inner.writeManifest(manifest);
  }

  async commit(top: ManifestBlob): Promise<void> {
    if (this.#imageName) await this.#store.tag(this.#imageName, top.descriptor);
  }
}
