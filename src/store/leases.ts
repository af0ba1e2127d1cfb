import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Digest, parseDigest } from '../oci/index.ts';
import { acquireLock, isErrnoException, processStartTime, withLock } from '../util/index.ts';

/**
 * A lease protects what this process uses but nothing references yet from a concurrent
 * `strata prune`: blobs it has written or is about to use (layers of an image being built, the
 * layers of cache hits), and the unpacked layers of the snapshots a build holds (a finished stage
 * that a later `COPY --from` reads, the parent of a running step). It is a file under `leases/`
 * named after the process (pid + start time), holding one JSON line per `add`/`addSnapshot`:
 * `{"pid":…,"start":…,"digests":[…]}`, with `"snapshots":[{"chainId":…,"diffIds":[…]}]` for
 * unpacked layers. Lines are only appended (one write each, no temporary file and rename), so a
 * cached rebuild that adds a digest per step pays one small write per step; a reader that meets a
 * half-written last line skips it — its `add` has not returned yet. A lease whose process is gone
 * is ignored and removed by GC.
 */
export class Lease {
  readonly #path: string;
  readonly #start: string | undefined;
  readonly #digests = new Set<Digest>();
  /** Chain IDs of the snapshots already leased. */
  readonly #chains = new Set<string>();
  #fd: number | undefined;

  readonly #root: string;

  constructor(root: string) {
    this.#root = root;
    const dir = join(root, 'leases');
    mkdirSync(dir, { recursive: true });
    this.#start = processStartTime(process.pid);
    this.#path = join(dir, `${process.pid}-${this.#start ?? '0'}-${randomBytes(4).toString('hex')}.json`);
  }

  /**
   * Adds digests to the lease; they are protected once this resolves. A lease only matters while
   * its process lives, so it needs no fsync: after a crash it is void.
   */
  async add(...digests: Digest[]): Promise<void> {
    const added = digests.filter((d) => !this.#digests.has(d));
    if (added.length === 0) return;
    this.#append({ digests: [...new Set(added)] });
    for (const d of added) this.#digests.add(d);
  }

  /**
   * Protects a snapshot's unpacked layers (overlay: each layer's directory, by diff_id; native:
   * the tree of the whole chain) until the lease ends. Call it before the snapshot is made or
   * used: a prune that has read the lease keeps them.
   */
  async addSnapshot(snapshot: LeasedSnapshot, signal?: AbortSignal): Promise<void> {
    if (this.#chains.has(snapshot.chainId)) return;
    this.#append({ digests: [], snapshots: [{ chainId: snapshot.chainId, diffIds: [...snapshot.diffIds] }] });
    this.#chains.add(snapshot.chainId);
    // A prune of unpacked layers running now may have read the leases before this one was
    // written: wait until it is done (its lock is gone), so that whatever the caller then finds
    // unpacked stays. A prune that starts later reads this lease. One stat when none runs.
    const lock = snapshotPruneLock(this.#root);
    if (existsSync(lock))
      await (await acquireLock(lock, { timeoutMs: PRUNE_WAIT_MS, ...(signal ? { signal } : {}) }))();
  }

  #append(record: Pick<LeaseRecord, 'digests' | 'snapshots'>): void {
    const line = `${JSON.stringify({ pid: process.pid, start: this.#start, ...record })}\n`;
    this.#fd ??= openSync(this.#path, 'a', 0o644);
    writeSync(this.#fd, line);
  }

  /** Ends the lease (the blobs are referenced now, or no longer needed). */
  async release(): Promise<void> {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
    this.#digests.clear();
    this.#chains.clear();
    await rm(this.#path, { force: true });
  }
}

/** How long a build waits for a prune of unpacked layers to end before it gives up. */
const PRUNE_WAIT_MS = 3_600_000;

/** The lock a prune of unpacked layers holds from reading the leases until it has deleted. */
function snapshotPruneLock(root: string): string {
  return join(root, 'locks', 'snapshot-prune.lock');
}

/**
 * Runs `prune` — which reads the leases ({@link readLeases}) and deletes the unpacked layers no
 * lease, name or record keeps — under the lock that {@link Lease.addSnapshot} waits for, so no
 * build starts using a snapshot it was too late to lease.
 */
export async function withSnapshotPruneLock<T>(root: string, prune: () => Promise<T>): Promise<T> {
  mkdirSync(join(root, 'locks'), { recursive: true });
  return withLock(snapshotPruneLock(root), prune, { timeoutMs: PRUNE_WAIT_MS });
}

/** A snapshot as a lease names it: the chain of layers (store/ knows nothing of snapshotters). */
export interface LeasedSnapshot {
  /** OCI chain ID of the layers; `''` for the empty chain. */
  readonly chainId: string;
  readonly diffIds: readonly Digest[];
}

/** One line of a lease file. */
interface LeaseRecord {
  readonly pid: number;
  readonly start?: string;
  readonly digests: string[];
  readonly snapshots?: { chainId: string; diffIds: string[] }[];
}

/** What the leases of live processes protect. */
export interface Leased {
  readonly digests: Set<Digest>;
  /** Snapshots whose unpacked layers are in use, by chain ID. */
  readonly snapshots: Map<string, LeasedSnapshot>;
}

/** Digests protected by leases of live processes; stale lease files are deleted on the way. */
export async function leasedDigests(root: string): Promise<Set<Digest>> {
  return (await readLeases(root)).digests;
}

/** Blobs and snapshots protected by leases of live processes; stale lease files are deleted on the way. */
export async function readLeases(root: string): Promise<Leased> {
  const dir = join(root, 'leases');
  const out = new Set<Digest>();
  const snapshots = new Map<string, LeasedSnapshot>();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (isErrnoException(error, 'ENOENT')) return { digests: out, snapshots };
    throw error;
  }
  for (const name of names) {
    if (!name.endsWith('.json')) continue;
    const path = join(dir, name);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      continue; // released right now
    }
    const records: LeaseRecord[] = [];
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        records.push(JSON.parse(line));
      } catch {
        // a line still being written: its add() has not returned, so it protects nothing yet
      }
    }
    const owner = records[0];
    if (!owner) continue;
    const alive = processStartTime(owner.pid);
    if (alive === undefined || (owner.start !== undefined && alive !== owner.start)) {
      await rm(path, { force: true });
      continue;
    }
    for (const record of records) {
      for (const d of record.digests) out.add(parseDigest(d));
      for (const snapshot of record.snapshots ?? [])
        snapshots.set(snapshot.chainId, {
          chainId: snapshot.chainId,
          diffIds: snapshot.diffIds.map((d) => parseDigest(d)),
        });
    }
  }
  return { digests: out, snapshots };
}
