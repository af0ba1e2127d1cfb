import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Digest, parseDigest } from '../oci/index.ts';
import { isErrnoException, processStartTime } from '../util/index.ts';

/**
 * A lease protects blobs this process has written or is about to use but has not yet referenced
 * (e.g. layers of an image being built, or the layers of cache hits) from a concurrent
 * `strata prune`. It is a file under `leases/` named after the process (pid + start time), holding
 * one JSON line per `add`: `{"pid":…,"start":…,"digests":[…]}`. Lines are only appended (one
 * write each, no temporary file and rename), so a cached rebuild that adds a digest per step pays
 * one small write per step; a reader that meets a half-written last line skips it — its `add` has
 * not returned yet. A lease whose process is gone is ignored and removed by GC.
 */
export class Lease {
  readonly #path: string;
  readonly #start: string | undefined;
  readonly #digests = new Set<Digest>();
  #fd: number | undefined;

  constructor(root: string) {
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
    const line = `${JSON.stringify({ pid: process.pid, start: this.#start, digests: [...new Set(added)] })}\n`;
    this.#fd ??= openSync(this.#path, 'a', 0o644);
    writeSync(this.#fd, line);
    for (const d of added) this.#digests.add(d);
  }

  /** Ends the lease (the blobs are referenced now, or no longer needed). */
  async release(): Promise<void> {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
    this.#digests.clear();
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
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      continue; // released right now
    }
    const records: { pid: number; start?: string; digests: string[] }[] = [];
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
    for (const record of records) for (const d of record.digests) out.add(parseDigest(d));
  }
  return out;
}
