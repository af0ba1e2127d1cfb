import { readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { processAlive } from '../util/index.ts';

/**
 * The process a snapshotter's working entry belongs to: its name is `<pid>-<random>` or
 * `<kind>-<pid>-<random>` (`unpack-…`, `commit-…`, `view-…`).
 */
export function ownerPid(name: string): number | undefined {
  const match = /^(?:[a-z]+-)?(\d+)-[0-9a-f]+$/.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** Removes the entries of `dir` that belong to processes no longer running; returns how many. */
export async function sweepDeadEntries(dir: string): Promise<number> {
  let removed = 0;
  for (const name of readdirSync(dir)) {
    const pid = ownerPid(name);
    if (pid === undefined || processAlive(pid)) continue;
    await rm(join(dir, name), { recursive: true, force: true });
    removed++;
  }
  return removed;
}
