/**
 * Test helper: what a strata process left in its store after it ended — mounts under the store,
 * runtime bundles and containers, active snapshots, half-written files, leases. A build that
 * failed or was interrupted must leave none of these.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

function entries(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** The containers an OCI runtime still knows under the store's state directory. */
function containers(root: string): string[] {
  const out: string[] = [];
  for (const runtime of ['runc', 'crun']) {
    const state = join(root, 'runtime', runtime);
    if (!existsSync(state)) continue;
    try {
      const list = execFileSync(runtime, ['--root', state, 'list', '--quiet'], { encoding: 'utf8' });
      out.push(
        ...list
          .split('\n')
          .filter((l) => l !== '')
          .map((id) => `${runtime}:${id}`),
      );
    } catch {
      // that runtime is not installed: it cannot have containers either
    }
  }
  return out;
}

/** Traces of a strata process in its store, by kind. */
export interface Leftovers {
  readonly mounts: string[];
  readonly leases: string[];
  readonly bundles: string[];
  readonly containers: string[];
  readonly active: string[];
  readonly snapshotTemp: string[];
  readonly storeTemp: string[];
}

/** Every trace of a strata process in `root`, by kind; all empty when it cleaned up after itself. */
export function leftovers(root: string): Leftovers {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point.startsWith(`${root}/`));
  const snapshots = join(root, 'snapshots');
  return {
    mounts,
    leases: entries(join(root, 'leases')),
    bundles: entries(join(root, 'runtime', 'bundles')),
    containers: containers(root),
    active: [
      ...entries(join(snapshots, 'overlay', 'active')),
      ...entries(join(snapshots, 'native', 'active')),
    ],
    snapshotTemp: [
      ...entries(join(snapshots, 'overlay', 'tmp')),
      ...entries(join(snapshots, 'native', 'tmp')),
    ],
    storeTemp: entries(join(root, 'tmp')).filter((name) => name !== 'empty'),
  };
}

/** The empty {@link leftovers} record, to compare with `deepEqual`. */
export const NOTHING_LEFT: Leftovers = {
  mounts: [],
  leases: [],
  bundles: [],
  containers: [],
  active: [],
  snapshotTemp: [],
  storeTemp: [],
};

/**
 * Removes what {@link leftovers} found, so a failing test does not leave mounts or containers
 * behind: deletes the containers, unmounts (lazily, deepest first) every mount under `root`.
 */
export function sweepLeftovers(root: string): void {
  const found = leftovers(root);
  for (const container of found.containers) {
    const [runtime, id] = container.split(':') as [string, string];
    execFileSync(runtime, ['--root', join(root, 'runtime', runtime), 'delete', '--force', id], {
      stdio: 'ignore',
    });
  }
  for (const point of [...found.mounts].sort().reverse())
    execFileSync('umount', ['-l', point], { stdio: 'ignore' });
}
