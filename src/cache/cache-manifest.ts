import type { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { canonicalJsonBytes, type Descriptor, digestOf, MediaTypes, parseManifest } from '../oci/index.ts';
import type { Store } from '../store/index.ts';
import type { ImageReader } from '../transport/index.ts';
import { InvalidInputError } from '../util/index.ts';
import { CACHE_KEY_VERSION, type CacheKey } from './cache-key.ts';
import {
  type CacheMountIdentity,
  type CacheMountManifest,
  type CacheMountRef,
  parseCacheMountManifest,
  parseCacheMountRef,
  sameCacheMount,
} from './cache-mount-manifest.ts';
import type { CacheRecord } from './step-cache.ts';

/** The media type of the cache config blob (the key → layer table). Documented in docs/cache.md. */
export const CACHE_CONFIG_MEDIA_TYPE = 'application/vnd.strata.buildcache.config.v1+json';
/** The artifactType of a cache manifest. */
export const CACHE_ARTIFACT_TYPE = 'application/vnd.strata.buildcache.v1';

/** The cache config: which layer each step key produced. */
export interface CacheConfig {
  readonly version: 1;
  /** CACHE_KEY_VERSION of the keys; records of another version are ignored on import. */
  readonly keyVersion: number;
  readonly records: readonly CacheRecord[];
  /** Exported cache mounts (`--cache-to …,mounts=`); absent when none were exported. */
  readonly mounts?: readonly CacheMountRef[];
}

/** Cache mounts to carry in a cache manifest: the config entries and every blob they name. */
export interface CacheManifestMounts {
  readonly refs: readonly CacheMountRef[];
  /** The mount manifests and their pieces. */
  readonly blobs: readonly Descriptor[];
}

/**
 * Writes a cache manifest for `records` into the store: an OCI image manifest whose config is the
 * key → layer table and whose layers are the (deduplicated) layer blobs. The result is an
 * ordinary OCI artifact that any registry or OCI layout can hold; push it with the image
 * transports. Returns the manifest's descriptor.
 */
export async function writeCacheManifest(
  store: Store,
  records: readonly CacheRecord[],
  mounts?: CacheManifestMounts,
): Promise<Descriptor> {
  const unique = new Map<string, CacheRecord>();
  for (const r of records) unique.set(r.key, r);
  const config: CacheConfig = {
    version: 1,
    keyVersion: CACHE_KEY_VERSION,
    records: [...unique.values()],
    ...(mounts && mounts.refs.length > 0 ? { mounts: mounts.refs } : {}),
  };
  const rawConfig = canonicalJsonBytes(config);
  const layers = new Map<string, Descriptor>();
  for (const r of unique.values())
    layers.set(r.layer.digest, { mediaType: r.layer.mediaType, digest: r.layer.digest, size: r.layer.size });
  // A mount's manifest and pieces are layers of the artifact too, so the registry keeps them and
  // every transport copies them; a piece two mounts share is listed once.
  for (const b of mounts?.blobs ?? [])
    layers.set(b.digest, { mediaType: b.mediaType, digest: b.digest, size: b.size });
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    artifactType: CACHE_ARTIFACT_TYPE,
    config: { mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: digestOf(rawConfig), size: rawConfig.length },
    layers: [...layers.values()],
  };
  const rawManifest = canonicalJsonBytes(manifest);
  await store.blobs.writeBytes(rawConfig);
  const stored = await store.blobs.writeBytes(rawManifest);
  await store.lease.add(stored.digest, digestOf(rawConfig), ...[...layers.values()].map((l) => l.digest));
  return { mediaType: MediaTypes.ociManifest, digest: stored.digest, size: stored.size };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A cache imported with `--cache-from`: the key table is read at once (one manifest and one small
 * config blob); a layer is fetched only when a step of this build hits its key, verified on the
 * way into the store.
 */
export class RemoteCache {
  readonly name: string;
  readonly #reader: ImageReader;
  readonly #records = new Map<string, CacheRecord>();
  #mounts: CacheMountRef[] = [];

  private constructor(reader: ImageReader) {
    this.#reader = reader;
    this.name = reader.name;
  }

  /** Reads the cache manifest and its key table from `reader`. */
  static async open(reader: ImageReader, signal?: AbortSignal): Promise<RemoteCache> {
    const cache = new RemoteCache(reader);
    const top = await reader.resolve(signal);
    const manifest = parseManifest(top.raw);
    if (manifest.config.mediaType !== CACHE_CONFIG_MEDIA_TYPE) {
      throw new InvalidInputError(
        `${reader.name} is not a strata build cache (config media type ${manifest.config.mediaType})`,
      );
    }
    const raw = await readAll(await reader.openBlob(manifest.config, signal ? { signal } : {}));
    if (digestOf(raw) !== manifest.config.digest)
      throw new InvalidInputError(`${reader.name}: cache config does not match its digest`);
    const config = JSON.parse(raw.toString('utf8')) as CacheConfig;
    if (config.version !== 1 || config.keyVersion !== CACHE_KEY_VERSION) return cache; // another scheme: nothing usable
    for (const r of config.records) cache.#records.set(r.key, r);
    if (config.mounts !== undefined) {
      if (!Array.isArray(config.mounts))
        throw new InvalidInputError(`${reader.name}: cache config mounts is not a list`);
      cache.#mounts = config.mounts.map((m) => parseCacheMountRef(m));
    }
    return cache;
  }

  /** Number of records the import offers. */
  get size(): number {
    return this.#records.size;
  }

  /** The record for `key`, if the imported cache has one. */
  get(key: CacheKey): CacheRecord | undefined {
    return this.#records.get(key);
  }

  /** The cache mounts the import offers. */
  get mounts(): readonly CacheMountRef[] {
    return this.#mounts;
  }

  /** The exported mount with exactly this identity (id, platform, uid, gid, mode), if any. */
  findMount(identity: CacheMountIdentity): CacheMountRef | undefined {
    return this.#mounts.find((m) => sameCacheMount(m, identity));
  }

  /** Reads and validates a mount's manifest (small: downloaded straight into memory). */
  async readMountManifest(ref: CacheMountRef, signal?: AbortSignal): Promise<CacheMountManifest> {
    const raw = await readAll(await this.#reader.openBlob(ref.manifest, signal ? { signal } : {}));
    if (digestOf(raw) !== ref.manifest.digest || raw.length !== ref.manifest.size)
      throw new InvalidInputError(
        `${this.name}: cache mount manifest ${ref.manifest.digest} does not match its digest`,
      );
    const manifest = parseCacheMountManifest(
      JSON.parse(gunzipSync(raw, { maxOutputLength: 256 << 20 }).toString('utf8')),
    );
    if (!sameCacheMount(manifest, ref))
      throw new InvalidInputError(
        `${this.name}: cache mount manifest ${ref.manifest.digest} is for another mount`,
      );
    return manifest;
  }

  /** Opens a blob of the cache (a piece being carried to another cache without landing here). */
  openBlob(
    descriptor: Descriptor,
    options: { offset?: number; signal?: AbortSignal } = {},
  ): Promise<Readable> {
    return this.#reader.openBlob(descriptor, options);
  }

  /** Downloads a blob of the cache into the store (verified against its digest and size). */
  async fetchBlob(descriptor: Descriptor, store: Store, signal?: AbortSignal): Promise<void> {
    if ((await store.blobs.size(descriptor.digest)) === descriptor.size) {
      await store.lease.add(descriptor.digest);
      return;
    }
    await store.lease.add(descriptor.digest);
    const stream = await this.#reader.openBlob(descriptor, signal ? { signal } : {});
    await store.blobs.ingest(stream, { digest: descriptor.digest, size: descriptor.size }, signal);
  }

  /** Downloads a record's layer into the store (verified against its digest and size). */
  async fetch(record: CacheRecord, store: Store, signal?: AbortSignal): Promise<void> {
    if ((await store.blobs.size(record.layer.digest)) === record.layer.size) return;
    const stream = await this.#reader.openBlob(record.layer, signal ? { signal } : {});
    await store.blobs.ingest(stream, { digest: record.layer.digest, size: record.layer.size }, signal);
    await store.lease.add(record.layer.digest);
  }
}
