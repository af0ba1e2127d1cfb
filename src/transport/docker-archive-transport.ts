import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { loadZstd } from '../archive/index.ts';
import {
  canonicalJsonBytes,
  type Descriptor,
  type Digest,
  DigestMismatchError,
  digestHex,
  digestOf,
  isLayerMediaType,
  layerCompression,
  type Manifest,
  MediaTypes,
  parseImageConfig,
  parseManifest,
  sha256Digest,
  sniffManifestKind,
} from '../oci/index.ts';
import type { Reference } from '../reference/index.ts';
import { CorruptBlobError } from '../store/index.ts';
import { HashingStream, InvalidInputError, NotFoundError, tempSiblingPath } from '../util/index.ts';
import {
  type BlobOpener,
  type BlobWriteOptions,
  countedStream,
  type ImageReader,
  type ImageWriter,
  type ManifestBlob,
} from './image-transfer.ts';
import {
  listTarMembers,
  openTarMember,
  resolveTarMember,
  TarFileWriter,
  type TarMember,
  type TarFileWriter as TarWriterType,
} from './tar-file.ts';
import { writeVerifiedFile } from './verified-file.ts';

/** One entry of a docker-archive's manifest.json (what `docker save` writes). */
interface ArchiveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

function parseArchiveManifest(text: string, path: string): ArchiveEntry[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidInputError(`${path}: manifest.json is not valid JSON`, { cause: error });
  }
  if (
    !Array.isArray(value) ||
    !value.every(
      (e) =>
        typeof e === 'object' &&
        e !== null &&
        typeof (e as ArchiveEntry).Config === 'string' &&
        Array.isArray((e as ArchiveEntry).Layers) &&
        (e as ArchiveEntry).Layers.every((l) => typeof l === 'string'),
    )
  )
    throw new InvalidInputError(`${path}: manifest.json is not a docker-archive manifest`);
  return value as ArchiveEntry[];
}

/**
 * Reads an image from a docker-archive (`docker save` output: manifest.json, the config JSON
 * and one tar per layer, with RepoTags). The image is presented as an OCI manifest whose layers
 * are the archive's tars as they are (uncompressed, or gzip/zstd when the archive holds
 * compressed ones); nothing is extracted to disk.
 */
export class DockerArchiveReader implements ImageReader {
  readonly name: string;
  readonly #path: string;
  readonly #reference: Reference | undefined;
  #loaded: Promise<{ top: ManifestBlob; config: Buffer; layers: Map<Digest, TarMember> }> | undefined;

  constructor(path: string, reference?: Reference) {
    this.#path = path;
    this.#reference = reference;
    this.name = `docker-archive:${path}`;
  }

  #load() {
    this.#loaded ??= this.#read();
    return this.#loaded;
  }

  async #read() {
    const members = await listTarMembers(this.#path);
    const byName = new Map(members.map((m) => [m.name, m]));
    const member = (name: string): TarMember => {
      const found = resolveTarMember(byName, name);
      if (!found)
        throw new InvalidInputError(`${this.#path}: the archive lists ${name} but does not contain it`);
      return found;
    };
    const read = async (m: TarMember): Promise<Buffer> => {
      const chunks: Buffer[] = [];
      for await (const chunk of openTarMember(this.#path, m)) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    };
    const entries = parseArchiveManifest((await read(member('manifest.json'))).toString('utf8'), this.#path);
    let entry: ArchiveEntry | undefined;
    if (this.#reference) {
      const wanted = [this.#reference.familiar(), this.#reference.toString()];
      entry = entries.find((e) => (e.RepoTags ?? []).some((t) => wanted.includes(t)));
      if (!entry) throw new NotFoundError(`${this.name}: no image tagged ${this.#reference.familiar()}`);
    } else if (entries.length === 1) {
      entry = entries[0];
    } else {
      throw new InvalidInputError(`${this.name}: the archive holds ${entries.length} images; name one`, {
        hint: `e.g. docker-archive:${this.#path}:${entries.find((e) => e.RepoTags?.length)?.RepoTags?.[0] ?? 'name:tag'}`,
      });
    }
    const config = await read(member(entry!.Config));
    const parsedConfig = parseImageConfig(config);
    const diffIds = parsedConfig.rootfs.diff_ids;
    if (diffIds.length !== entry!.Layers.length)
      throw new InvalidInputError(
        `${this.name}: ${entry!.Layers.length} layers but the config lists ${diffIds.length}`,
      );
    const layers = new Map<Digest, TarMember>();
    const descriptors: Descriptor[] = [];
    for (const [i, layerName] of entry!.Layers.entries()) {
      const m = member(layerName);
      const head = Buffer.alloc(4);
      const stream = openTarMember(this.#path, m);
      for await (const chunk of stream) {
        (chunk as Buffer).copy(head, 0, 0, 4);
        stream.destroy();
        break;
      }
      let mediaType: string = MediaTypes.ociLayer;
      let digest = diffIds[i]!; // an uncompressed layer's digest is its diff_id (verified by the writer)
      if (head[0] === 0x1f && head[1] === 0x8b) mediaType = MediaTypes.ociLayerGzip;
      else if (head.readUInt32LE(0) === 0xfd2fb528) mediaType = MediaTypes.ociLayerZstd;
      if (mediaType !== MediaTypes.ociLayer) {
        const hash = createHash('sha256');
        for await (const chunk of openTarMember(this.#path, m)) hash.update(chunk as Buffer);
        digest = sha256Digest(hash.digest('hex'));
      }
      layers.set(digest, m);
      descriptors.push({ mediaType, digest, size: m.size });
    }
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: MediaTypes.ociConfig, digest: digestOf(config), size: config.length },
      layers: descriptors,
    };
    const raw = canonicalJsonBytes(manifest);
    const top: ManifestBlob = {
      raw,
      descriptor: { mediaType: MediaTypes.ociManifest, digest: digestOf(raw), size: raw.length },
    };
    return { top, config, layers };
  }

  async resolve(): Promise<ManifestBlob> {
    return (await this.#load()).top;
  }

  async readManifest(descriptor: Descriptor): Promise<Uint8Array> {
    const { top } = await this.#load();
    if (descriptor.digest !== top.descriptor.digest)
      throw new NotFoundError(`${this.name}: no manifest ${descriptor.digest}`);
    return top.raw;
  }

  async openBlob(
    descriptor: Descriptor,
    options: { offset?: number; signal?: AbortSignal } = {},
  ): Promise<Readable> {
    const { top, config, layers } = await this.#load();
    const offset = options.offset ?? 0;
    if (descriptor.digest === parseManifest(top.raw).config.digest)
      return Readable.from([config.subarray(offset)], { objectMode: false });
    const member = layers.get(descriptor.digest);
    if (!member) throw new NotFoundError(`${this.name}: no blob ${descriptor.digest}`);
    return openTarMember(this.#path, member, offset, options.signal);
  }
}

/**
 * Writes an image as a docker-archive that `docker load` accepts: layers decompressed to tars
 * (their sha256 must equal the config's diff_ids), the config as `<hex>.json`, and a manifest.json
 * with RepoTags from the reference. Built in a temp dir beside the target and renamed into place.
 */
export class DockerArchiveWriter implements ImageWriter {
  readonly name: string;
  readonly #path: string;
  readonly #reference: Reference | undefined;
  /** The temp directory, made once: blobs are written concurrently. */
  #dir: Promise<string> | undefined;
  readonly #files = new Map<Digest, { path: string; diffId?: Digest; size: number }>();
  readonly #manifests = new Map<Digest, Uint8Array>();

  constructor(path: string, reference?: Reference) {
    this.#path = path;
    this.#reference = reference;
    this.name = `docker-archive:${path}`;
  }

  #tempDir(): Promise<string> {
    this.#dir ??= mkdtemp(join(dirname(this.#path), `.${basename(this.#path)}.parts-`));
    return this.#dir;
  }

  async hasBlob(): Promise<boolean> {
    return false;
  }

  async writeBlob(descriptor: Descriptor, open: BlobOpener, options: BlobWriteOptions): Promise<void> {
    const dir = await this.#tempDir();
    const target = join(dir, digestHex(descriptor.digest));
    const source = countedStream(await open(0, options.signal), 0, options.onProgress);
    if (!isLayerMediaType(descriptor.mediaType)) {
      await writeVerifiedFile(target, source, descriptor, options.signal);
      this.#files.set(descriptor.digest, { path: target, size: descriptor.size });
      return;
    }
    const compressedHash = new HashingStream({ highWaterMark: 1 << 20 });
    const plainHash = new HashingStream({ highWaterMark: 1 << 20 });
    const compression = layerCompression(descriptor.mediaType);
    const decompress: Transform[] =
      compression === 'gzip'
        ? [createGunzip()]
        : compression === 'zstd'
          ? [new (loadZstd().DecompressStream)()]
          : [];
    // An error the decompressor raised itself (zlib's `incorrect data check`, zstd's) means the blob
    // is damaged: said as such, with the layer's digest, rather than as a bare zlib error. The
    // pipeline hands every error to each stream in it, so the first stream to emit one raised it.
    const sink = createWriteStream(target, { mode: 0o644 });
    const stages = [source, compressedHash, ...decompress, plainHash, sink];
    const raisedBy = new Map<unknown, unknown>();
    for (const stream of stages)
      stream.on('error', (error: unknown) => {
        if (!raisedBy.has(error)) raisedBy.set(error, stream);
      });
    try {
      await pipeline(stages, options.signal ? { signal: options.signal } : {});
      const compressed = { digest: sha256Digest(compressedHash.hex()), size: compressedHash.size };
      if (compressed.digest !== descriptor.digest)
        throw new DigestMismatchError({
          expected: descriptor.digest,
          actual: compressed.digest,
        });
      if (compressed.size !== descriptor.size)
        throw new DigestMismatchError({
          expected: descriptor.digest,
          expectedSize: descriptor.size,
          actualSize: compressed.size,
        });
    } catch (error) {
      await rm(target, { force: true });
      // An abort is never the decompressor's own error, though it may be the first stream to
      // re-emit it: a stream whose source has ended is destroyed with the pipeline's AbortError
      // too, and an aborted write would otherwise be reported as a corrupt layer.
      if (!isAbortError(error) && decompress.includes(raisedBy.get(error) as Transform))
        throw new CorruptBlobError({ digest: descriptor.digest, kind: 'layer', cause: error });
      throw error;
    }
    this.#files.set(descriptor.digest, {
      path: target,
      diffId: sha256Digest(plainHash.hex()),
      size: plainHash.size,
    });
  }

  async writeManifest(manifest: ManifestBlob): Promise<void> {
    this.#manifests.set(manifest.descriptor.digest, manifest.raw);
  }

  async commit(top: ManifestBlob): Promise<void> {
    if (sniffManifestKind(top.raw) !== 'manifest')
      throw new InvalidInputError(`${this.name}: a docker-archive holds one platform's image`, {
        hint: 'choose one with --platform instead of --all-platforms',
      });
    const manifest = parseManifest(top.raw);
    const configFile = this.#files.get(manifest.config.digest);
    if (!configFile) throw new NotFoundError(`${this.name}: the config blob was not written`);
    const rawConfig = await readFile(configFile.path);
    const config = parseImageConfig(rawConfig);
    const layerNames: string[] = [];
    const tarTemp = tempSiblingPath(this.#path);
    const tar: TarWriterType = new TarFileWriter(tarTemp);
    try {
      const configName = `${digestHex(manifest.config.digest)}.json`;
      await tar.add(configName, { data: rawConfig });
      const written = new Set<string>();
      for (const [i, layer] of manifest.layers.entries()) {
        const file = this.#files.get(layer.digest);
        if (!file?.diffId) throw new NotFoundError(`${this.name}: layer ${layer.digest} was not written`);
        if (file.diffId !== config.rootfs.diff_ids[i])
          throw new DigestMismatchError({
            expected: config.rootfs.diff_ids[i]!,
            actual: file.diffId,
            what: `layer ${i} diff_id`,
          });
        const name = `${digestHex(file.diffId)}.tar`;
        if (!written.has(name)) {
          await tar.add(name, { fromPath: file.path, size: (await stat(file.path)).size });
          written.add(name);
        }
        layerNames.push(name);
      }
      const repoTags = this.#reference ? [this.#reference.familiar()] : [];
      const entries: ArchiveEntry[] = [{ Config: configName, RepoTags: repoTags, Layers: layerNames }];
      await tar.add('manifest.json', { data: Buffer.from(JSON.stringify(entries)) });
      await tar.finish();
      await rename(tarTemp, this.#path);
    } catch (error) {
      tar.destroy();
      await rm(tarTemp, { force: true });
      throw error;
    } finally {
      await this.abort();
    }
  }

  async abort(): Promise<void> {
    const dir = this.#dir;
    this.#dir = undefined;
    const path = await dir?.catch(() => undefined);
    if (path) await rm(path, { recursive: true, force: true });
  }
}

/** Node's AbortError (a stream or pipeline stopped by an AbortSignal). */
function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}
