import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  BuildCacheMounts,
  type CacheManifestMounts,
  type CacheMountRef,
  type CacheRecord,
  cacheMountName,
  packCacheMount,
  RemoteCache,
  type StepCache,
  writeCacheManifest,
} from '../cache/index.ts';
import { ChecksumCache } from '../context/index.ts';
import type { Compression, Descriptor, Digest, Image } from '../oci/index.ts';
import type { ProgressSink } from '../progress/index.ts';
import type { RegistryPool } from '../registry/index.ts';
import { LayerCompressor } from '../solver/index.ts';
import type { Store } from '../store/index.ts';
import { AbortedError, formatErrorChain, InternalError } from '../util/index.ts';
import type { CacheExport, CacheLocation } from './build.ts';
import type { RegistryAccess } from './registry-access.ts';

/** The caches a build reads: the context's checksums, and the `--cache-from` locations. */
export interface BuildCaches {
  readonly checksums: ChecksumCache;
  readonly remote: readonly RemoteCache[];
  /** The cache mounts the build's RUN steps declare, restored from `remote` when a step needs one. */
  readonly mounts: BuildCacheMounts;
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
    /** Where a `--cache-from` that cannot be read is reported (as a warning). */
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
  let remote: RemoteCache[];
  try {
    // Opened side by side (one manifest and one config each), kept in the order given: a key is
    // looked up in the first cache that has it, as BuildKit's combined cache manager does.
    const opened = await Promise.all(
      (options.cacheFrom ?? []).map((from) => openOrWarn(store, from, pool!, options)),
    );
    remote = opened.filter((c) => c !== undefined);
  } catch (error) {
    await close();
    throw error;
  }
  const warn = (text: string) =>
    options.events?.emit({ type: 'message', at: Date.now(), level: 'warning', text });
  const mounts = new BuildCacheMounts(store, remote, {
    onWarning: warn,
    onRestored: (r) =>
      options.events?.emit({
        type: 'message',
        at: Date.now(),
        level: 'info',
        text: `restored cache mount ${cacheMountName(r.identity)} from ${r.from}: ${r.files} files, ${r.bytes} bytes`,
      }),
  });
  return { checksums, remote, mounts, pool, close };
}

/** How a `--cache-from` location is named in messages: its reference or its directory. */
function cacheLocationName(from: CacheLocation): string {
  return from.type === 'registry' ? from.ref : from.path;
}

/**
 * Opens one `--cache-from` location, or warns and returns undefined when it cannot be read: a ref
 * that does not exist yet (the first build of a branch), an image that is not a strata cache, a
 * registry that refuses or does not answer. BuildKit does the same for every import failure
 * (solver/llbsolver/bridge.go: a failed "importing cache manifest" leaves an empty cache and the
 * build goes on), so a CI job's first run builds. An abort still ends the build, and a bug in
 * strata is not hidden as a warning.
 */
async function openOrWarn(
  store: Store,
  from: CacheLocation,
  pool: RegistryPool,
  options: { readonly events?: ProgressSink | undefined; readonly signal?: AbortSignal | undefined },
): Promise<RemoteCache | undefined> {
  try {
    return await openRemoteCache(store, from, pool, options.signal);
  } catch (error) {
    if (options.signal?.aborted || error instanceof AbortedError || error instanceof InternalError)
      throw error;
    options.events?.emit({
      type: 'message',
      at: Date.now(),
      level: 'warning',
      text: `importing cache manifest from ${cacheLocationName(from)}: ${formatErrorChain(error)} (building without it)`,
    });
    return undefined;
  }
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
  image: Pick<Image, 'layers'>,
  records: readonly CacheRecord[],
  to: CacheExport,
  how: {
    readonly steps: StepCache;
    /** The build's cache mounts (exported with `mounts=`). */
    readonly mounts?: BuildCacheMounts | undefined;
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
      text: `exporting cache to ${to.type === 'registry' ? to.ref : to.path}: ${formatErrorChain(error)} (ignore-error=true)`,
    });
    return undefined;
  }
}

async function writeBuildCache(
  store: Store,
  image: Pick<Image, 'layers'>,
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
  const mounts = await exportCacheMounts(store, to, how);
  const descriptor = await writeCacheManifest(store, exported, mounts);
  const [{ imageWriterFor }, { parseImageLocation, StoreImageReader, transferImage }, { withRegistryPool }] =
    await Promise.all([import('./copy.ts'), import('../transport/index.ts'), import('./registry-access.ts')]);
  const destination = parseImageLocation(
    to.type === 'registry' ? `docker://${to.ref}` : `oci:${to.path}:cache`,
  );
  const result = await withRegistryPool(how.access, async (pool) => {
    const store_ = new StoreImageReader(store, descriptor.digest);
    // A mount carried over from an imported cache has pieces this store never downloaded: they
    // are read from that cache when the destination lacks them (it has them when it is the same).
    const reader = {
      name: store_.name,
      resolve: () => store_.resolve(),
      readManifest: (d: Descriptor) => store_.readManifest(d),
      openBlob: async (
        d: Descriptor,
        options: { offset?: number; signal?: AbortSignal; onRetry?: (reason: string) => void } = {},
      ): Promise<Readable> => {
        const remote = mounts.carried.get(d.digest);
        if (remote && (await store.blobs.size(d.digest)) !== d.size) return remote.openBlob(d, options);
        return store_.openBlob(d, options);
      },
    };
    return transferImage(reader, imageWriterFor(destination, pool, { store }), {
      direction: to.type === 'registry' ? 'push' : 'pull',
      ...(how.signal ? { signal: how.signal } : {}),
    });
  });
  how.events?.emit({
    type: 'message',
    at: Date.now(),
    level: 'info',
    text: `exported cache to ${to.type === 'registry' ? to.ref : to.path}: ${result.copiedBlobs} blobs uploaded (${result.copiedBytes} bytes), ${result.skippedBlobs} already there`,
  });
  return descriptor;
}

/** The cache mounts an export carries, and the imported caches some of their blobs are read from. */
interface ExportedMounts extends CacheManifestMounts {
  readonly carried: ReadonlyMap<Digest, RemoteCache>;
}

/**
 * `mounts=`: packs each selected mount the build declares. A mount this machine has is packed from
 * its directory (pieces this store packed or restored before are not compressed again, and the
 * destination skips those it holds); one it does not have — its steps all hit, and no step needed
 * it restored — is carried over from the first imported cache that holds it, unchanged, so a build
 * that changed nothing under it does not drop it from the cache. An id that `mounts=` names but
 * no RUN of the build uses is a warning.
 */
async function exportCacheMounts(
  store: Store,
  to: CacheExport,
  how: Parameters<typeof exportBuildCache>[4],
): Promise<ExportedMounts> {
  const refs: CacheMountRef[] = [];
  const blobs: Descriptor[] = [];
  const carried = new Map<Digest, RemoteCache>();
  const selection = to.mounts;
  if (selection === undefined || how.mounts === undefined) return { refs, blobs, carried };
  const declared = how.mounts.declared();
  const wanted = (id: string) => selection === 'all' || selection.includes(id);
  if (selection !== 'all')
    for (const id of selection)
      if (!declared.some((d) => d.identity.id === id))
        how.events?.emit({
          type: 'message',
          at: Date.now(),
          level: 'warning',
          text: `--cache-to mounts=: no RUN of this build has a cache mount with id ${JSON.stringify(id)}`,
        });
  for (const { identity, dir } of declared) {
    if (!wanted(identity.id)) continue;
    if (existsSync(dir)) {
      const packed = await packCacheMount(store, dir, identity, {
        maxSize: to.maxSize,
        signal: how.signal,
      });
      refs.push(packed.ref);
      blobs.push(packed.ref.manifest, ...packed.pieces);
      continue;
    }
    for (const cache of how.mounts.remote) {
      const ref = cache.findMount(identity);
      if (!ref) continue;
      const manifest = await cache.readMountManifest(ref, how.signal);
      refs.push(ref);
      for (const d of [ref.manifest, ...manifest.pieces]) {
        blobs.push({ mediaType: d.mediaType, digest: d.digest, size: d.size });
        carried.set(d.digest, cache);
      }
      break;
    }
  }
  return { refs, blobs, carried };
}
