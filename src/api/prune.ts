import { join } from 'node:path';
import {
  type CacheEntryInfo,
  type CacheKey,
  type CacheMountInfo,
  diskUsageBytes,
  listCacheMounts,
  removeCacheMounts,
  StepCache,
} from '../cache/index.ts';
import { type Digest, parseImageConfig, parseIndex, parseManifest, sniffManifestKind } from '../oci/index.ts';
import { openSnapshotter, type Snapshot } from '../snapshot/index.ts';
import { leasedDigests, readLeases, type Store, withSnapshotPruneLock } from '../store/index.ts';
import { InvalidInputError } from '../util/index.ts';
import { processSettings, type StrataSettings } from './settings.ts';

/** What `strata prune` removes. */
export interface PruneOptions {
  /** The environment's settings (which snapshotter); default: this process's. */
  readonly settings?: StrataSettings;
  /**
   * Also remove cache records whose layer a named image holds (`docker builder prune --all`).
   * Without it only records whose bytes nothing but the cache keeps are removed: all the space
   * the cache takes is freed either way, and rebuilding a named image stays cached.
   */
  readonly all?: boolean;
  /**
   * Keep at most this many bytes of build cache: cache records' layers and cache mounts together,
   * least recently used first.
   */
  readonly keepStorage?: number;
  /** Only cache records and cache mounts unused for longer than this many milliseconds (`--filter until=24h`). */
  readonly olderThanMs?: number;
  readonly dryRun?: boolean;
}

/** What `strata prune` removed (or, with `dryRun`, would remove). */
export interface PruneResult {
  /** The keys of the cache records removed, least recently used first. */
  readonly removedRecords: readonly CacheKey[];
  readonly cacheRecords: number;
  /** Bytes of the removed records' layers that no image or remaining record holds. */
  readonly cacheBytes: number;
  /** Blobs removed: the records' layers and anything else no name, record or running build needs. */
  readonly blobs: number;
  /** Bytes of those blobs: the space reclaimed (as `du` counts it). */
  readonly blobBytes: number;
  /** Unpacked layers removed (not counted by a dry run, which removes nothing to count). */
  readonly unpackedLayers: number;
  /** The cache mounts removed (ids, or directory names when the id is not known), least recently used first. */
  readonly removedCacheMounts: readonly string[];
  /** Bytes of the removed cache mounts. */
  readonly cacheMountBytes: number;
}

/** What a prune with the same options would remove now (see {@link planPrune}). */
export interface PrunePlan {
  /** The cache records to remove, least recently used first. */
  readonly records: readonly CacheEntryInfo[];
  /** The cache records that stay. */
  readonly kept: readonly CacheEntryInfo[];
  /** Bytes of the removed records' layers that nothing else holds. */
  readonly cacheBytes: number;
  /** The blobs that go, with their sizes. */
  readonly blobs: ReadonlyMap<Digest, number>;
  /** Their total size. */
  readonly blobBytes: number;
  /** The cache mounts (`RUN --mount=type=cache`, made here or restored) to remove, least recently used first. */
  readonly cacheMounts: readonly CacheMountInfo[];
  /** Their bytes. */
  readonly cacheMountBytes: number;
}

/** `10GB`, `512MB`, `1.5gb`, `1000` (bytes): Docker's size syntax (decimal units, `i` for binary). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?)b?\s*$/i.exec(text);
  if (!m)
    throw new InvalidInputError(`invalid size ${JSON.stringify(text)}`, { hint: 'e.g. 10GB, 512MB, 2GiB' });
  const power = ' kmgtp'.indexOf((m[2] || ' ').toLowerCase());
  return Math.round(Number(m[1]) * (m[3] ? 1024 : 1000) ** power);
}

/** `24h`, `90m`, `7d`, `30s`: a duration in milliseconds (Go's units plus `d`). */
export function parseDuration(text: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  let total = 0;
  let rest = text.trim();
  if (rest === '') throw new InvalidInputError('empty duration');
  while (rest !== '') {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)/.exec(rest);
    if (!m)
      throw new InvalidInputError(`invalid duration ${JSON.stringify(text)}`, { hint: 'e.g. 24h, 90m, 7d' });
    total += Number(m[1]) * units[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return total;
}

/** The diff_ids of every named image (their unpacked layers are kept). */
async function namedImageDiffIds(store: Store): Promise<Set<Digest>> {
  const out = new Set<Digest>();
  for (const entry of await store.refs.list()) {
    try {
      let raw = await store.blobs.read(entry.descriptor.digest);
      const manifests =
        sniffManifestKind(raw) === 'index'
          ? parseIndex(raw).manifests.map((m) => m.digest)
          : [entry.descriptor.digest];
      for (const digest of manifests) {
        raw = await store.blobs.read(digest);
        const manifest = parseManifest(raw);
        for (const d of parseImageConfig(await store.blobs.read(manifest.config.digest)).rootfs.diff_ids)
          out.add(d);
      }
    } catch (error) {
      if (!(error instanceof Error) || !('code' in error) || (error as { code: string }).code !== 'NOT_FOUND')
        throw error;
      // a name whose blobs are gone (e.g. one platform of an index): nothing to keep
    }
  }
  return out;
}

/**
 * What {@link prune} with `options` would remove now: which cache records, and every blob that no
 * name, remaining record or running build (lease) would then need, with their sizes. `--dry-run`
 * reports this plan, `strata du` its bytes, and the real prune removes exactly it when nothing
 * changes the store meanwhile — the three agree to the byte.
 */
export async function planPrune(store: Store, options: PruneOptions = {}): Promise<PrunePlan> {
  const entries = (await new StepCache(store).list()).sort(
    (a, b) => a.lastUsed.getTime() - b.lastUsed.getTime() || a.record.key.localeCompare(b.record.key),
  );
  const names = new Set<Digest>();
  for (const entry of await store.refs.list()) await store.reachable(entry.descriptor.digest, names);
  const now = Date.now();
  // Docker's rule: the records the filter selects, least recently used first, are removed while
  // the cache is bigger than --keep-storage (without it: all of them). A layer counts once however
  // many records name it (a COPY --from is recorded under two keys), and its bytes are freed with
  // the last record that names it — unless an image holds it.
  const holders = recordsPerLayer(entries);
  const mounts = await listCacheMounts(store.root);
  let total = layerBytes(entries) + mounts.reduce((n, m) => n + m.bytes, 0);
  let cacheBytes = 0;
  const records: CacheEntryInfo[] = [];
  const kept: CacheEntryInfo[] = [];
  const cacheMounts: CacheMountInfo[] = [];
  let cacheMountBytes = 0;
  // Records and cache mounts are one build cache, trimmed least recently used first (BuildKit's
  // cache mounts are cache records too). A mount a running step has bound is never selected.
  const items = [
    ...entries.map((entry) => ({ kind: 'record' as const, entry, at: entry.lastUsed.getTime() })),
    ...mounts.map((mount) => ({ kind: 'mount' as const, mount, at: mount.lastUsed.getTime() })),
  ].sort((a, b) => a.at - b.at);
  for (const item of items) {
    const overBudget = options.keepStorage === undefined || total > options.keepStorage;
    const old = options.olderThanMs === undefined || now - item.at > options.olderThanMs;
    if (item.kind === 'mount') {
      if (!item.mount.inUse && old && overBudget) {
        cacheMounts.push(item.mount);
        cacheMountBytes += item.mount.bytes;
        total -= item.mount.bytes;
      }
      continue;
    }
    const { entry } = item;
    const digest = entry.record.layer.digest;
    const selected = (options.all === true || !names.has(digest)) && old;
    if (!selected || !overBudget) {
      kept.push(entry);
      continue;
    }
    records.push(entry);
    const left = holders.get(digest)! - 1;
    holders.set(digest, left);
    if (left === 0) {
      total -= entry.size;
      if (!names.has(digest)) cacheBytes += entry.size;
    }
  }
  // The blobs the garbage collection would keep: reachable from names, leases and the records
  // that stay (a record names its layer blob only, as its roots file does).
  const live = new Set(names);
  for (const digest of await leasedDigests(store.root)) await store.reachable(digest, live);
  for (const entry of kept) live.add(entry.record.layer.digest);
  const blobs = new Map<Digest, number>();
  let blobBytes = 0;
  for (const digest of await store.blobs.list()) {
    if (live.has(digest)) continue;
    const size = (await store.blobs.size(digest)) ?? 0;
    blobs.set(digest, size);
    blobBytes += size;
  }
  return { records, kept, cacheBytes, blobs, blobBytes, cacheMounts, cacheMountBytes };
}

/**
 * `strata prune`: removes the build-cache records {@link planPrune} selects, then every blob no
 * name, remaining record or running build needs, then unpacked layers nothing uses. With `dryRun`
 * it removes nothing and reports the plan.
 */
export async function prune(store: Store, options: PruneOptions = {}): Promise<PruneResult> {
  const plan = await planPrune(store, options);
  const removedRecords = plan.records.map((e) => e.record.key);
  if (options.dryRun) {
    return {
      removedRecords,
      cacheRecords: plan.records.length,
      cacheBytes: plan.cacheBytes,
      blobs: plan.blobs.size,
      blobBytes: plan.blobBytes,
      unpackedLayers: 0,
      removedCacheMounts: plan.cacheMounts.map(mountName),
      cacheMountBytes: plan.cacheMountBytes,
    };
  }
  const cache = new StepCache(store);
  for (const entry of plan.records) await cache.remove(entry.record.key);
  // Checked again under the prune lock: a mount a step bound meanwhile stays.
  const removedMounts = new Set(
    await removeCacheMounts(
      store.root,
      plan.cacheMounts.map((m) => m.name),
    ),
  );
  const goneMounts = plan.cacheMounts.filter((m) => removedMounts.has(m.name));
  // The collection decides again under the names lock: a build that finished meanwhile keeps
  // what it named or recorded, and the numbers are what was really removed.
  const gc = await store.collectGarbage();
  const snapshotter = openSnapshotter(store.root, (options.settings ?? processSettings()).snapshotter);
  const keepDiffIds = await namedImageDiffIds(store);
  for (const entry of plan.kept) keepDiffIds.add(entry.record.diffId);
  const keep: Snapshot[] = [{ kind: snapshotter.kind, chainId: '', diffIds: [...keepDiffIds], dirs: [] }];
  // What running builds hold (a finished stage a later COPY --from reads, a running step's
  // parent), as their leases say: its unpacked layers (overlay) or whole trees (native). Under
  // the lock a build that leases a snapshot meanwhile waits for.
  const unpackedLayers = await withSnapshotPruneLock(store.root, async () => {
    for (const held of (await readLeases(store.root)).snapshots.values())
      keep.push({ kind: snapshotter.kind, chainId: held.chainId, diffIds: held.diffIds, dirs: [] });
    return (await snapshotter.prune(keep)).removed;
  });
  return {
    removedRecords,
    cacheRecords: plan.records.length,
    cacheBytes: plan.cacheBytes,
    blobs: gc.removedBlobs,
    blobBytes: gc.freedBytes,
    unpackedLayers,
    removedCacheMounts: goneMounts.map(mountName),
    cacheMountBytes: goneMounts.reduce((n, m) => n + m.bytes, 0),
  };
}

/** How a cache mount is named in prune's report: its id, or its directory when the id is unknown. */
function mountName(m: CacheMountInfo): string {
  return m.id ?? m.name;
}

/** How many of `entries` name each layer blob. */
function recordsPerLayer(entries: readonly CacheEntryInfo[]): Map<Digest, number> {
  const out = new Map<Digest, number>();
  for (const e of entries) out.set(e.record.layer.digest, (out.get(e.record.layer.digest) ?? 0) + 1);
  return out;
}

/** The bytes of the distinct layer blobs `entries` name. */
function layerBytes(entries: readonly CacheEntryInfo[]): number {
  const sizes = new Map<Digest, number>();
  for (const e of entries) sizes.set(e.record.layer.digest, e.size);
  let total = 0;
  for (const size of sizes.values()) total += size;
  return total;
}

/** One line of `strata du`. */
export interface DiskUsage {
  readonly images: { count: number; bytes: number };
  /**
   * `reclaimable`: the bytes `strata prune` frees now (the same plan, to the byte): the cache's
   * own layers and every other blob nothing needs. `records` and `bytes` count the distinct layers
   * of every record, images' included.
   */
  readonly buildCache: { records: number; bytes: number; reclaimable: number };
  readonly blobs: { count: number; bytes: number };
  readonly snapshots: { bytes: number };
  /**
   * `RUN --mount=type=cache` directories: how many and their bytes, how many of them were restored
   * from a `--cache-from`, and the bytes `strata prune` removes now (all but those in use).
   */
  readonly cacheMounts: { count: number; bytes: number; restored: number; reclaimable: number };
}

/** `strata du`: what the store holds — images, build cache, blobs, unpacked layers, cache mounts. */
export async function diskUsage(store: Store): Promise<DiskUsage> {
  const images = await store.refs.list();
  const imageBlobs = new Set<Digest>();
  for (const entry of images) await store.reachable(entry.descriptor.digest, imageBlobs);
  let imageBytes = 0;
  for (const d of imageBlobs) imageBytes += (await store.blobs.size(d)) ?? 0;
  const records = await new StepCache(store).list();
  const cacheBytes = layerBytes(records);
  const plan = await planPrune(store);
  const reclaimable = plan.blobBytes;
  const mounts = await listCacheMounts(store.root);
  const all = await store.blobs.list();
  let blobBytes = 0;
  for (const d of all) blobBytes += (await store.blobs.size(d)) ?? 0;
  return {
    images: { count: images.length, bytes: imageBytes },
    buildCache: { records: records.length, bytes: cacheBytes, reclaimable },
    blobs: { count: all.length, bytes: blobBytes },
    snapshots: { bytes: await diskUsageBytes(join(store.root, 'snapshots')) },
    cacheMounts: {
      count: mounts.length,
      bytes: await diskUsageBytes(join(store.root, 'cache-mounts')),
      restored: mounts.filter((m) => m.restoredFrom !== undefined).length,
      reclaimable: plan.cacheMountBytes,
    },
  };
}
