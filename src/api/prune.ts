import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type CacheEntryInfo, StepCache } from '../cache/index.ts';
import { type Digest, parseImageConfig, parseIndex, parseManifest, sniffManifestKind } from '../oci/index.ts';
import { openSnapshotter, type Snapshot } from '../snapshot/index.ts';
import { readLeases, type Store, withSnapshotPruneLock } from '../store/index.ts';
import { InvalidInputError, isErrnoException } from '../util/index.ts';
import { processSettings, type StrataSettings } from './settings.ts';

const run = promisify(execFile);

/** What `strata prune` removes. */
export interface PruneOptions {
  /** The environment's settings (which snapshotter); default: this process's. */
  readonly settings?: StrataSettings;
  /** Keep at most this many bytes of build cache (least recently used records go first). */
  readonly keepStorage?: number;
  /** Only cache records unused for longer than this many milliseconds (`--filter until=24h`). */
  readonly olderThanMs?: number;
  readonly dryRun?: boolean;
}

/** What `strata prune` removed. */
export interface PruneResult {
  readonly cacheRecords: number;
  readonly cacheBytes: number;
  readonly blobs: number;
  readonly blobBytes: number;
  readonly unpackedLayers: number;
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
 * `strata prune`: removes build-cache records (all of them, or those `olderThanMs` / beyond
 * `keepStorage`, least recently used first), then every blob no name, remaining record or running
 * build needs, then unpacked layers nothing uses.
 */
export async function prune(store: Store, options: PruneOptions = {}): Promise<PruneResult> {
  const cache = new StepCache(store);
  const entries = (await cache.list()).sort((a, b) => a.lastUsed.getTime() - b.lastUsed.getTime());
  const now = Date.now();
  // Docker's rule: the records the filter selects (all without one), least recently used first,
  // are removed while the cache is bigger than --keep-storage (without it: all of them). A layer
  // counts once however many records name it (a COPY --from is recorded under two keys), and its
  // bytes are freed with the last record that names it.
  const holders = recordsPerLayer(entries);
  let total = layerBytes(entries);
  let cacheRecords = 0;
  let cacheBytes = 0;
  const kept: typeof entries = [];
  for (const entry of entries) {
    const selected =
      options.olderThanMs === undefined || now - entry.lastUsed.getTime() > options.olderThanMs;
    const overBudget = options.keepStorage === undefined || total > options.keepStorage;
    if (!selected || !overBudget) {
      kept.push(entry);
      continue;
    }
    if (!options.dryRun) await cache.remove(entry.record.key);
    cacheRecords++;
    const digest = entry.record.layer.digest;
    const left = holders.get(digest)! - 1;
    holders.set(digest, left);
    if (left === 0) {
      cacheBytes += entry.size;
      total -= entry.size;
    }
  }
  const gc = await store.collectGarbage({ dryRun: options.dryRun ?? false });
  let unpackedLayers = 0;
  if (!options.dryRun) {
    const snapshotter = openSnapshotter(store.root, (options.settings ?? processSettings()).snapshotter);
    const keepDiffIds = await namedImageDiffIds(store);
    for (const entry of kept) keepDiffIds.add(entry.record.diffId);
    const keep: Snapshot[] = [{ kind: snapshotter.kind, chainId: '', diffIds: [...keepDiffIds], dirs: [] }];
    // What running builds hold (a finished stage a later COPY --from reads, a running step's
    // parent), as their leases say: its unpacked layers (overlay) or whole trees (native). Under
    // the lock a build that leases a snapshot meanwhile waits for.
    unpackedLayers = await withSnapshotPruneLock(store.root, async () => {
      for (const held of (await readLeases(store.root)).snapshots.values())
        keep.push({ kind: snapshotter.kind, chainId: held.chainId, diffIds: held.diffIds, dirs: [] });
      return (await snapshotter.prune(keep)).removed;
    });
  }
  return { cacheRecords, cacheBytes, blobs: gc.removedBlobs, blobBytes: gc.freedBytes, unpackedLayers };
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
  readonly buildCache: { records: number; bytes: number; reclaimable: number };
  readonly blobs: { count: number; bytes: number };
  readonly snapshots: { bytes: number };
  readonly cacheMounts: { bytes: number };
}

async function duBytes(path: string): Promise<number> {
  try {
    const { stdout } = await run('du', ['-sb', path]);
    return Number(stdout.split('\t')[0]);
  } catch (error) {
    if (isErrnoException(error, 'ENOENT') || (error as { code?: number }).code === 1) return 0;
    throw error;
  }
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
  const reclaimable = layerBytes(records.filter((r) => !imageBlobs.has(r.record.layer.digest)));
  const all = await store.blobs.list();
  let blobBytes = 0;
  for (const d of all) blobBytes += (await store.blobs.size(d)) ?? 0;
  return {
    images: { count: images.length, bytes: imageBytes },
    buildCache: { records: records.length, bytes: cacheBytes, reclaimable },
    blobs: { count: all.length, bytes: blobBytes },
    snapshots: { bytes: await duBytes(join(store.root, 'snapshots')) },
    cacheMounts: { bytes: await duBytes(join(store.root, 'cache-mounts')) },
  };
}
