import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Digest, parseDigest } from '../oci/index.ts';
import { isErrnoException, processStartTime, writeFileAtomic } from '../util/index.ts';

/**
 * A lease protects blobs this process has written but not yet referenced (e.g. layers of an image
 * being built) from a concurrent `strata prune`. It is a file under `leases/` naming the process
 * (pid + start time) and the digests; a lease whose process is gone is ignored and removed by GC.
 */
export class Lease {
  readonly #path: string;
  readonly #digests = new Set<Digest>();
  #writing: Promise<void> = Promise.resolve();

  constructor(root: string) {
    const dir = join(root, 'leases');
    mkdirSync(dir, { recursive: true });
    this.#path = join(
      dir,
      `${process.pid}-${processStartTime(process.pid) ?? '0'}-${randomBytes(4).toString('hex')}.json`,
    );
  }

  /** Adds digests to the lease and persists it before resolving. */
  async add(...digests: Digest[]): Promise<void> {
    let changed = false;
    for (const d of digests) {
      if (!this.#digests.has(d)) {
        this.#digests.add(d);
        changed = true;
      }
    }
    if (!changed) return;
    const snapshot = JSON.stringify({
      pid: process.pid,
      start: processStartTime(process.pid),
      digests: [...this.#digests],
    });
    // A lease only matters while its process lives, so it needs no fsync: after a crash it is void.
    this.#writing = this.#writing.then(() => writeFileAtomic(this.#path, snapshot, { durable: false }));
    await this.#writing;
  }

  /** Ends the lease (the blobs are referenced now, or no longer needed). */
  async release(): Promise<void> {
    await this.#writing.catch(() => undefined); // a failed write left nothing to protect
    await rm(this.#path, { force: true });
  }
}

/** Digests protected by leases of live processes; stale lease files are deleted on the way. */
export async function leasedDigests(root: string): Promise<Set<Digest>> {
  const dir = join(root, 'leases');
  const out = new Set<Digest>();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (isErrnoException(error, 'ENOENT')) return out;
    throw error;
  }
  for (const name of names) {
    if (!name.endsWith('.json')) continue;
    const path = join(dir, name);
    let record: { pid: number; start?: string; digests: string[] };
    try {
      record = JSON.parse(await readFile(path, 'utf8'));
    } catch {
      continue; // being replaced right now (atomic rename): the next GC sees it
    }
    const alive = processStartTime(record.pid);
    if (alive === undefined || (record.start !== undefined && alive !== record.start)) {
      await rm(path, { force: true });
      continue;
    }
    for (const d of record.digests) out.add(parseDigest(d));
  }
  return out;
}
