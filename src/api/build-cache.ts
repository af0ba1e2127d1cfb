import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { type CacheRecord, RemoteCache, type StepCache, writeCacheManifest } from '../cache/index.ts';
import { ChecksumCache } from '../context/index.ts';
import type { Compression, Descriptor, Image } from '../oci/index.ts';
import type { ProgressSink } from '../progress/index.ts';
import type { RegistryPool } from '../registry/index.ts';
import { LayerCompressor } from '../solver/index.ts';
import type { Store } from '../store/index.ts';
import type { CacheExport, CacheLocation } from './build.ts';
import type { RegistryAccess } from './registry-access.ts';

/** The caches a build reads: the context's checksums, and the `--cache-from` locations. */
export interface BuildCaches {
  readonly checksums: ChecksumCache;
  readonly remote: readonly RemoteCache[];
  /** The registry connections the caches use (only when a cache goes to or comes from elsewhere). */
  readonly pool: RegistryPool | undefined;
  /** Closes the pool if this build opened it. */
  close(): Promise<void>;
}

/**
 * Opens the context's checksum cache (one file per context directory) and every `--cache-from`
 * location, in order. The registry client is loaded only when the cache goes to or comes from
 * elsewhere, so a plain build (and a no-op rebuild) starts without it.
 */
export async function openBuildCaches(
  store: Store,
  contextDir: string,
  options: {
    readonly cacheFrom?: readonly CacheLocation[] | undefined;
    readonly cacheTo?: CacheExport | undefined;
    readonly registry?: RegistryAccess | undefined;
    readonly events?: ProgressSink | undefined;
    readonly signal?: AbortSignal | undefined;
  },
): Promise<BuildCaches> {
  const checksums = await ChecksumCache.open(
    join(
      store.root,
      'cache',
      'checksums',
      `${createHash('sha256').update(contextDir).digest('hex').slice(0, 32)}.json`,
    ),
  );
  let pool: RegistryPool | undefined;
  let owned = false;
  if ((options.cacheFrom?.length ?? 0) > 0 || options.cacheTo !== undefined) {
    const { registryPoolFor } = await import('./registry-access.ts');
    ({ pool, owned } = registryPoolFor(options.registry ?? {}));
  }
  const close = async () => {
    if (owned) await pool?.close();
  };
  const remote: RemoteCache[] = [];
  try {
    for (const from of options.cacheFrom ?? []) {
      try {
        remote.push(await openRemoteCache(store, from, pool!, options.signal));
      } catch (error) {
        // BuildKit goes on without a cache it cannot import (a CI's first run has none yet): the
        // build is only slower. It says so; an interrupt still stops the build.
        options.signal?.throwIfAborted();
        const where = from.type === 'registry' ? from.ref : from.path;
        options.events?.emit({
          type: 'message',
          at: Date.now(),
          level: 'warning',
          text: `importing cache manifest from ${where}: ${errorText(error)} (building without it)`,
        });
      }
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { checksums, remote, pool, close };
}

/** An error and its causes, joined as the CLI joins them. */
function errorText(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e instanceof Error && parts.length < 5; e = e.cause) parts.push(e.message);
  return parts.length > 0 ? parts.join(': ') : String(error);
}

/** Opens a `--cache-from` location: reads its key table; layers are fetched on hits only. */
async function openRemoteCache(
  store: Store,
  from: CacheLocation,
  pool: RegistryPool,
  signal?: AbortSignal,
): Promise<RemoteCache> {
  const [{ imageReaderFor }, { parseImageLocation }] = await Promise.all([
    import('./copy.ts'),
    import('../transport/index.ts'),
  ]);
  const location = parseImageLocation(
    from.type === 'registry' ? `docker://${from.ref}` : `oci:${from.path}:cache`,
  );
  return RemoteCache.open(imageReaderFor(location, pool, store), signal);
}

/**
 * `--cache-to`: picks the records to export (`min`: the final image's layers; `max`: every step of
 * every stage), compresses those an earlier build stored uncompressed (a builder stage's), writes
 * the cache manifest into the store, then copies it to the registry or layout.
 */
export async function exportBuildCache(
  store: Store,
  image: Image,
  records: readonly CacheRecord[],
  to: CacheExport,
  how: {
    readonly steps: StepCache;
    readonly compression: Compression;
    readonly level?: number | undefined;
    readonly access: RegistryAccess;
    readonly events?: ProgressSink | undefined;
    readonly signal?: AbortSignal | undefined;
  },
): Promise<Descriptor | undefined> {
  try {
    return await writeBuildCache(store, image, records, to, how);
  } catch (error) {
    if (!to.ignoreError) throw error;
    how.signal?.throwIfAborted();
    // ignore-error=true: BuildKit reports the failed export and keeps the build's result.
    how.events?.emit({
      type: 'message',
      at: Date.now(),
      level: 'warning',
      text: `exporting cache to ${to.type === 'registry' ? to.ref : to.path}: ${errorText(error)} (ignore-error=true)`,
    });
    return undefined;
  }
}

async function writeBuildCache(
  store: Store,
  image: Image,
  records: readonly CacheRecord[],
  to: CacheExport,
  how: Parameters<typeof exportBuildCache>[4],
): Promise<Descriptor> {
  const finalLayers = new Set(image.layers.map((l) => l.descriptor.digest));
  const exported = to.mode === 'max' ? [...records] : records.filter((r) => finalLayers.has(r.layer.digest));
  await new LayerCompressor({
    store,
    steps: how.steps,
    compression: how.compression,
    ...(how.level !== undefined ? { level: how.level } : {}),
    ...(how.signal ? { signal: how.signal } : {}),
  }).records(exported);
  const descriptor = await writeCacheManifest(store, exported);
  const { copyImage } = await import('./copy.ts');
  const destination = to.type === 'registry' ? `docker://${to.ref}` : `oci:${to.path}:cache`;
  await copyImage(`strata:${descriptor.digest}`, destination, {
    ...how.access,
    store,
    ...(how.signal ? { signal: how.signal } : {}),
  });
  return descriptor;
}
