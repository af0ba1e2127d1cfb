import { mkdirSync, readFileSync, utimesSync } from 'node:fs';
import { readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type Descriptor, type Digest, parseDescriptorObject, parseDigest } from '../oci/index.ts';
import type { Store } from '../store/index.ts';
import { isErrnoException, writeFileAtomicSync } from '../util/index.ts';
import type { CacheKey } from './cache-key.ts';

/** What a step produced, kept so a later build with the same key can reuse it. */
export interface CacheRecord {
  readonly key: CacheKey;
  /** The layer blob (in the store). */
  readonly layer: Descriptor;
  readonly diffId: Digest;
  readonly uncompressedSize: number;
  /** When the step originally ran (history `created` reuses it, so cached rebuilds are byte-identical). */
  readonly created: string;
  /** The history text, for `strata du` and debugging. */
  readonly createdBy: string;
  /**
   * The key later steps chain from, when it is not `key`: a COPY --from step found or made by the
   * content of the files it copied chains from that content key (docs/cache.md).
   */
  readonly chainKey?: CacheKey;
}

/** One record with its size and last use, for pruning. */
export interface CacheEntryInfo {
  readonly record: CacheRecord;
  readonly lastUsed: Date;
  readonly size: number;
}

/**
 * The local step cache: one JSON file per key under `roots/step-cache/`, written atomically, so
 * concurrent builds can read and write it without locks (two builds writing the same key write the
 * same content). Each record names its layer blob, which keeps the blob alive through `strata
 * prune`'s garbage collection; a record's mtime is its last use (LRU pruning).
 */
export class StepCache {
  readonly #dir: string;
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
    this.#dir = join(store.root, 'roots', 'step-cache');
    mkdirSync(this.#dir, { recursive: true });
  }

  #path(key: CacheKey): string {
    // A key is 64 hex digits and the directory is already joined: no path normalization needed.
    return `${this.#dir}/${key}.json`;
  }

  /**
   * The record for `key`, if it exists and its blob is still in the store; marks it used. The
   * record, the blob's size and the mark are a few hundred bytes of metadata: read synchronously,
   * which on a cached rebuild of many steps saves a thread-pool round trip per file operation.
   */
  async get(key: CacheKey): Promise<CacheRecord | undefined> {
    let raw: string;
    try {
      raw = readFileSync(this.#path(key), 'utf8');
    } catch (error) {
      if (isErrnoException(error, 'ENOENT')) return undefined;
      throw error;
    }
    let record: CacheRecord;
    try {
      record = parseRecord(raw);
    } catch {
      return undefined; // a damaged record is a miss; the step runs and rewrites it
    }
    if (this.#store.blobs.sizeSync(record.layer.digest) !== record.layer.size) return undefined;
    const now = new Date();
    try {
      utimesSync(this.#path(key), now, now);
    } catch {
      // LRU bookkeeping only
    }
    return record;
  }

  /**
   * Saves a record (atomically; the same key always holds equivalent content). Not fsynced: a
   * record lost or damaged by a power cut is only a miss (get treats it as one) and the step runs
   * again, while its layer blob, which images also name, was made durable before this. Written
   * synchronously: a small file, where four thread-pool round trips cost more than the write.
   */
  async put(record: CacheRecord): Promise<void> {
    writeFileAtomicSync(
      this.#path(record.key),
      JSON.stringify({ ...record, digests: [record.layer.digest] }),
      { durable: false },
    );
  }

  /** Every record with its last use and layer size. */
  async list(): Promise<CacheEntryInfo[]> {
    const out: CacheEntryInfo[] = [];
    for (const name of await readdir(this.#dir)) {
      if (!name.endsWith('.json')) continue;
      const path = join(this.#dir, name);
      try {
        const [raw, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
        const record = parseRecord(raw);
        out.push({ record, lastUsed: st.mtime, size: record.layer.size });
      } catch {
        // removed meanwhile, or damaged: not listed (prune removes damaged ones below)
      }
    }
    return out;
  }

  /** Removes a record (its blob goes at the next garbage collection if nothing else needs it). */
  async remove(key: CacheKey): Promise<void> {
    await unlink(this.#path(key)).catch((error: unknown) => {
      if (!isErrnoException(error, 'ENOENT')) throw error;
    });
  }
}

function parseRecord(raw: string): CacheRecord {
  const value = JSON.parse(raw) as Record<string, unknown>;
  if (typeof value.key !== 'string' || !/^[a-f0-9]{64}$/.test(value.key)) throw new Error('bad key');
  return {
    key: value.key as CacheKey,
    layer: parseDescriptorObject(value.layer, 'cache record layer'),
    diffId: parseDigest(String(value.diffId)),
    uncompressedSize: Number(value.uncompressedSize),
    created: String(value.created),
    createdBy: String(value.createdBy),
    ...(typeof value.chainKey === 'string' && /^[a-f0-9]{64}$/.test(value.chainKey)
      ? { chainKey: value.chainKey as CacheKey }
      : {}),
  };
}
