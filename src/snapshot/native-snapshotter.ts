import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Digest, Layer } from '../oci/index.ts';
import { isErrnoException, StrataError } from '../util/index.ts';
import { type BindViewOptions, copyForBind } from './bind-view.ts';
import { chainIdOf } from './chain-id.ts';
import { diffTrees } from './diff-trees.ts';
import type { ActiveSnapshot, Snapshot, Snapshotter, SnapshotView } from './snapshotter.ts';
import { sweepDeadEntries } from './sweep-stale.ts';
import { unpackLayerInto } from './unpack.ts';

const run = promisify(execFile);

/** Copies a tree preserving everything (modes, owners, xattrs, hardlinks, times); reflinks where the filesystem can. */
async function copyTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  await run('cp', ['-a', '--reflink=auto', `${from}/.`, `${to}/`]);
}

/**
 * A ctime that every inode changed so far is at or before, and every inode changed from now on is
 * after. The kernel stamps ctime from a coarse clock (one tick is a few ms), so a change in the
 * same tick as the last copied file would tie with it: touch a probe in `dir` (on the same
 * filesystem) until its ctime moves past the first reading.
 */
export async function ctimeWatermark(dir: string): Promise<bigint> {
  const probe = join(dir, `ctime-${process.pid}-${randomBytes(6).toString('hex')}`);
  writeFileSync(probe, '');
  try {
    const first = lstatSync(probe, { bigint: true }).ctimeNs;
    for (let tries = 0; tries < 1000; tries++) {
      chmodSync(probe, tries % 2 === 0 ? 0o600 : 0o644);
      if (lstatSync(probe, { bigint: true }).ctimeNs > first) return first;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    throw new StrataError('CTIME_FROZEN', `the ctime of ${probe} does not advance`);
  } finally {
    rmSync(probe, { force: true });
  }
}

/**
 * The native snapshotter, for machines where overlay mounts are impossible: every committed
 * snapshot is a full directory tree under `trees/<chain id hex>`; a step's rootfs is a copy of its
 * parent's tree, and its changes are found by walking both trees. Slower and bigger than overlay,
 * but needs no privileges beyond owning the files.
 */
export class NativeSnapshotter implements Snapshotter {
  readonly kind = 'native' as const;
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
    for (const d of ['trees', 'active', 'tmp', 'empty']) mkdirSync(join(dir, d), { recursive: true });
  }

  #treeDir(chainId: string): string {
    return chainId === ''
      ? join(this.#dir, 'empty')
      : join(this.#dir, 'trees', chainId.slice(chainId.indexOf(':') + 1));
  }

  #snapshot(diffIds: readonly Digest[]): Snapshot {
    const chainId = chainIdOf(diffIds);
    return { kind: 'native', chainId, diffIds, dirs: [this.#treeDir(chainId)] };
  }

  async unpack(layers: readonly Layer[], signal?: AbortSignal): Promise<Snapshot> {
    const diffIds = layers.map((l) => l.diffId);
    // Start from the longest prefix of the chain that is already unpacked.
    let have = 0;
    for (let n = diffIds.length; n > 0; n--) {
      if (existsSync(this.#treeDir(chainIdOf(diffIds.slice(0, n))))) {
        have = n;
        break;
      }
    }
    for (let n = have; n < diffIds.length; n++) {
      const tmp = join(this.#dir, 'tmp', `unpack-${process.pid}-${randomBytes(6).toString('hex')}`);
      try {
        if (n === 0) await mkdir(tmp, { recursive: true });
        else await copyTree(this.#treeDir(chainIdOf(diffIds.slice(0, n))), tmp);
        await unpackLayerInto(layers[n]!, tmp, { whiteouts: 'apply', ...(signal ? { signal } : {}) });
        await this.#install(tmp, chainIdOf(diffIds.slice(0, n + 1)));
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    }
    return this.#snapshot(diffIds);
  }

  async #install(tmp: string, chainId: string): Promise<void> {
    try {
      await rename(tmp, this.#treeDir(chainId));
    } catch (error) {
      if (!isErrnoException(error, 'ENOTEMPTY') && !isErrnoException(error, 'EEXIST')) throw error;
    }
  }

  async prepare(parent: Snapshot): Promise<ActiveSnapshot> {
    const id = `${process.pid}-${randomBytes(6).toString('hex')}`;
    const rootfs = join(this.#dir, 'active', id);
    if (parent.diffIds.length === 0) await mkdir(rootfs, { recursive: true });
    else await copyTree(parent.dirs[0]!, rootfs);
    const lower = parent.diffIds.length === 0 ? undefined : parent.dirs[0]!;
    const changedAfter = lower === undefined ? undefined : await ctimeWatermark(join(this.#dir, 'tmp'));
    return {
      rootfs,
      parent,
      changes: async () => diffTrees(lower, rootfs, changedAfter === undefined ? {} : { changedAfter }),
      commit: async (diffId) => {
        const next = this.#snapshot([...parent.diffIds, diffId]);
        if (existsSync(next.dirs[0]!)) await rm(rootfs, { recursive: true, force: true });
        else await this.#install(rootfs, next.chainId);
        return next;
      },
      discard: async () => {
        await rm(rootfs, { recursive: true, force: true });
      },
    };
  }

  async view(snapshot: Snapshot): Promise<SnapshotView> {
    return { path: snapshot.dirs[0]!, release: async () => undefined };
  }

  async bindView(source: string, options: BindViewOptions): Promise<SnapshotView> {
    // No overlays here: a private copy, without the hidden paths; writes to it go nowhere.
    const base = join(this.#dir, 'active', `${process.pid}-${randomBytes(6).toString('hex')}`);
    const release = async () => {
      await rm(base, { recursive: true, force: true });
    };
    try {
      await copyForBind(source, join(base, 'copy'), options.hidden);
    } catch (error) {
      await release();
      throw error;
    }
    return { path: join(base, 'copy'), release };
  }

  async sweepStale(): Promise<number> {
    // Active trees are plain directories named `<pid>-<random>`: nothing is mounted.
    return (
      (await sweepDeadEntries(join(this.#dir, 'active'))) + (await sweepDeadEntries(join(this.#dir, 'tmp')))
    );
  }

  async prune(keep: readonly Snapshot[]): Promise<{ removed: number }> {
    await this.sweepStale();
    const needed = new Set(keep.map((s) => s.chainId.slice(s.chainId.indexOf(':') + 1)));
    let removed = 0;
    for (const hex of readdirSync(join(this.#dir, 'trees'))) {
      if (needed.has(hex)) continue;
      await rm(join(this.#dir, 'trees', hex), { recursive: true, force: true });
      removed++;
    }
    return { removed };
  }
}
