import { createReadStream } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  canonicalJson,
  type Descriptor,
  type Digest,
  DigestMismatchError,
  digestHex,
  digestOf,
  type Index,
  MediaTypes,
  parseIndex,
} from '../oci/index.ts';
import {
  InvalidInputError,
  isErrnoException,
  makeDirectories,
  NotFoundError,
  writeFileAtomic,
} from '../util/index.ts';
import {
  type BlobOpener,
  type BlobWriteOptions,
  countedStream,
  type ImageReader,
  type ImageWriter,
  type ManifestBlob,
  manifestMediaType,
  plainDescriptor,
} from './image-transfer.ts';
import { writeVerifiedFile } from './verified-file.ts';

/** The annotation OCI layouts name images by (`oci:dir:<name>` in skopeo). */
const REF_NAME = 'org.opencontainers.image.ref.name';

function blobPath(root: string, digest: Digest): string {
  return join(root, 'blobs', digest.slice(0, digest.indexOf(':')), digestHex(digest));
}

async function readLayoutIndex(root: string): Promise<Index> {
  let raw: string;
  try {
    raw = await readFile(join(root, 'index.json'), 'utf8');
  } catch (error) {
    if (isErrnoException(error, 'ENOENT'))
      throw new NotFoundError(`${root} is not an OCI image layout (no index.json)`);
    throw error;
  }
  return parseIndex(raw);
}

/** Reads an image from an OCI image layout directory (image-layout.md), by `ref.name` tag. */
export class OciLayoutReader implements ImageReader {
  readonly name: string;
  readonly #root: string;
  readonly #tag: string | undefined;

  constructor(root: string, tag?: string) {
    this.#root = root;
    this.#tag = tag;
    this.name = `oci:${root}${tag ? `:${tag}` : ''}`;
  }

  async resolve(): Promise<ManifestBlob> {
    const index = await readLayoutIndex(this.#root);
    let entry: Descriptor | undefined;
    if (this.#tag !== undefined) {
      entry = index.manifests.find((m) => m.annotations?.[REF_NAME] === this.#tag);
      if (!entry) throw new NotFoundError(`${this.name}: no image named ${JSON.stringify(this.#tag)}`);
    } else if (index.manifests.length === 1) {
      entry = index.manifests[0];
    } else {
      const names = index.manifests.map((m) => m.annotations?.[REF_NAME]).filter(Boolean);
      throw new InvalidInputError(
        `${this.name}: the layout holds ${index.manifests.length} images; name one`,
        names.length > 0 ? { hint: `e.g. oci:${this.#root}:${names[0]}` } : {},
      );
    }
    const raw = await this.readManifest(entry!);
    return {
      raw,
      descriptor: { ...plainDescriptor(entry!), mediaType: manifestMediaType(raw, entry!.mediaType) },
    };
  }

  async readManifest(descriptor: Descriptor): Promise<Uint8Array> {
    const raw = await readFile(blobPath(this.#root, descriptor.digest)).catch((error: unknown) => {
      if (isErrnoException(error, 'ENOENT'))
        throw new NotFoundError(`${this.name}: blob ${descriptor.digest} is missing`);
      throw error;
    });
    const actual = digestOf(raw);
    if (actual !== descriptor.digest)
      throw new DigestMismatchError({ expected: descriptor.digest, actual, what: 'manifest' });
    return raw;
  }

  async openBlob(
    descriptor: Descriptor,
    options: { offset?: number; signal?: AbortSignal } = {},
  ): Promise<Readable> {
    const path = blobPath(this.#root, descriptor.digest);
    await stat(path).catch((error: unknown) => {
      if (isErrnoException(error, 'ENOENT'))
        throw new NotFoundError(`${this.name}: blob ${descriptor.digest} is missing`);
      throw error;
    });
    return createReadStream(path, {
      start: options.offset ?? 0,
      highWaterMark: 1 << 20,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }
}

/**
 * Writes an image into an OCI image layout directory (created if needed): verified blobs, then
 * index.json listing the top manifest, named by `ref.name` when a tag is given (replacing an entry
 * with the same name), as skopeo's `oci:` transport does.
 */
export class OciLayoutWriter implements ImageWriter {
  readonly name: string;
  readonly #root: string;
  readonly #tag: string | undefined;
  /** The layout made ready once (blobs are written concurrently); true when this writer created its directory. */
  #ready: Promise<boolean> | undefined;

  constructor(root: string, tag?: string) {
    this.#root = root;
    this.#tag = tag;
    this.name = `oci:${root}${tag ? `:${tag}` : ''}`;
  }

  #init(): Promise<boolean> {
    this.#ready ??= this.#create();
    return this.#ready;
  }

  async #create(): Promise<boolean> {
    const created = await stat(this.#root).then(
      () => false,
      (error: unknown) => {
        if (isErrnoException(error, 'ENOENT')) return true;
        throw error;
      },
    );
    await makeDirectories(join(this.#root, 'blobs', 'sha256')); // not mkdir -p: it hangs under /proc
    const layout = join(this.#root, 'oci-layout');
    await stat(layout).catch(async (error: unknown) => {
      if (!isErrnoException(error, 'ENOENT')) throw error;
      await writeFile(layout, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    });
    return created;
  }

  /**
   * After a failed transfer: removes the layout directory when this writer created it (it holds
   * no image yet, index.json is written last). In a layout that was there, the blobs written stay:
   * each is complete and verified, and other images may share them.
   */
  async abort(): Promise<void> {
    const ready = this.#ready;
    this.#ready = undefined;
    if (await ready?.catch(() => false)) await rm(this.#root, { recursive: true, force: true });
  }

  async hasBlob(descriptor: Descriptor): Promise<boolean> {
    try {
      return (await stat(blobPath(this.#root, descriptor.digest))).size === descriptor.size;
    } catch (error) {
      if (isErrnoException(error, 'ENOENT')) return false;
      throw error;
    }
  }

  async writeBlob(descriptor: Descriptor, open: BlobOpener, options: BlobWriteOptions): Promise<void> {
    await this.#init();
    const source = countedStream(await open(0, options.signal), 0, options.onProgress);
    await writeVerifiedFile(blobPath(this.#root, descriptor.digest), source, descriptor, options.signal);
  }

  async writeManifest(manifest: ManifestBlob): Promise<void> {
    await this.#init();
    if (await this.hasBlob(manifest.descriptor)) return;
    await writeFileAtomic(blobPath(this.#root, manifest.descriptor.digest), manifest.raw);
  }

  async commit(top: ManifestBlob): Promise<void> {
    await this.#init();
    let manifests: Descriptor[] = [];
    try {
      manifests = [...(await readLayoutIndex(this.#root)).manifests];
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
    const entry: Descriptor = {
      ...top.descriptor,
      ...(this.#tag !== undefined ? { annotations: { [REF_NAME]: this.#tag } } : {}),
    };
    manifests =
      this.#tag !== undefined
        ? manifests.filter((m) => m.annotations?.[REF_NAME] !== this.#tag)
        : manifests.filter(
            (m) => m.digest !== top.descriptor.digest || m.annotations?.[REF_NAME] !== undefined,
          );
    manifests.push(entry);
    const index: Index = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests };
    await writeFileAtomic(join(this.#root, 'index.json'), canonicalJson(index));
  }
}
