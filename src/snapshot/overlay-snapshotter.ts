import { randomBytes } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { LayerChange } from '../archive/index.ts';
import { type Digest, digestHex, type Layer } from '../oci/index.ts';
import { isErrnoException, processAlive, StrataError } from '../util/index.ts';
import { type BindViewOptions, copyForBind, makeWhiteoutLayer } from './bind-view.ts';
import { chainIdOf } from './chain-id.ts';
import { diffUpperdir } from './diff-upper.ts';
import { mountOverlay, type OverlayDirs, overlayMountOptions, overlayOptions, unmount } from './mount.ts';
import type { ActiveSnapshot, Snapshot, Snapshotter, SnapshotView } from './snapshotter.ts';
import { ownerPid, sweepDeadEntries } from './sweep-stale.ts';
import { unpackLayerInto } from './unpack.ts';

/** Overlay's lowerdir limit in the kernel (OVL_MAX_STACK). */
const MAX_LOWERS = 500;
/** One page: the longest mount option string the kernel accepts. */
const MAX_OPTIONS = 4000;

/** Thrown when a chain is too deep for one overlay mount. */
export class TooManyLayersError extends StrataError {
  constructor(count: number) {
    super(
      'TOO_MANY_LAYERS',
      `a chain of ${count} distinct layers is too deep for one overlay mount (limit ${MAX_LOWERS})`,
      {
        hint: 'squash some layers, or use STRATA_SNAPSHOTTER=native',
      },
    );
  }
}

/**
 * The overlay snapshotter: each layer is unpacked once, in overlay form (whiteouts as 0:0 char
 * devices, opaque dirs marked with `trusted.overlay.opaque=y`), under `layers/<diff_id hex>/fs`,
 * and shared by every build that uses it. A step's rootfs is an overlay mount of those dirs plus a
 * fresh upperdir; committing keeps the upperdir as the new layer's dir. Lowerdirs are given as
 * short relative links (`l/<id>`) so deep chains fit in the one-page option string.
 */
export class OverlaySnapshotter implements Snapshotter {
  readonly kind = 'overlay' as const;
  readonly #dir: string;
  /** Short links already read by this process (a layer keeps its link while it exists). */
  readonly #links = new Map<Digest, string>();

  constructor(dir: string) {
    this.#dir = dir;
    for (const d of ['layers', 'l', 'active', 'tmp', 'empty']) mkdirSync(join(dir, d), { recursive: true });
  }

  /** Directory of an unpacked layer (overlay form). */
  layerDir(diffId: Digest): string {
    return join(this.#dir, 'layers', digestHex(diffId), 'fs');
  }

  async unpack(layers: readonly Layer[], signal?: AbortSignal): Promise<Snapshot> {
    for (const [index, layer] of layers.entries()) {
      if (existsSync(this.layerDir(layer.diffId))) continue;
      const tmp = join(this.#dir, 'tmp', `unpack-${process.pid}-${randomBytes(6).toString('hex')}`);
      await mkdir(join(tmp, 'fs'), { recursive: true });
      try {
        await unpackLayerInto(layer, join(tmp, 'fs'), {
          whiteouts: 'overlay',
          // A parent directory the layer does not list takes its metadata from the layers below
          // (topmost first), so in the overlay it does not shadow theirs with made-up metadata.
          parentsFrom: layers
            .slice(0, index)
            .map((l) => this.layerDir(l.diffId))
            .reverse(),
          ...(signal ? { signal } : {}),
        });
        await this.#install(tmp, layer.diffId);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    }
    const diffIds = layers.map((l) => l.diffId);
    return {
      kind: 'overlay',
      chainId: chainIdOf(diffIds),
      diffIds,
      dirs: diffIds.map((d) => this.layerDir(d)),
    };
  }

  /** Moves a finished layer dir (`<tmp>/fs`) into `layers/<hex>` and gives it a short link. */
  async #install(tmp: string, diffId: Digest): Promise<void> {
    const hex = digestHex(diffId);
    const short = randomBytes(13).toString('base64url').slice(0, 16);
    writeFileSync(join(tmp, 'link'), short);
    try {
      renameSync(tmp, join(this.#dir, 'layers', hex));
    } catch (error) {
      // Another process installed the same layer first: theirs is as good as ours.
      if (!isErrnoException(error, 'ENOTEMPTY') && !isErrnoException(error, 'EEXIST')) throw error;
      return;
    }
    symlinkSync(`../layers/${hex}/fs`, join(this.#dir, 'l', short));
  }

  /** `l/<short>` for a layer (relative to the snapshotter dir), memoized: a step mounts every layer below it. */
  #shortLink(diffId: Digest): string {
    let link = this.#links.get(diffId);
    // One lstat: a prune by another process may have removed the layer, and an unpack since made
    // it a new link.
    if (link === undefined || !existsSync(join(this.#dir, link))) {
      link = this.#readShortLink(diffId);
      this.#links.set(diffId, link);
    }
    return link;
  }

  #readShortLink(diffId: Digest): string {
    const hex = digestHex(diffId);
    const short = readFileSync(join(this.#dir, 'layers', hex, 'link'), 'utf8').trim();
    const link = join(this.#dir, 'l', short);
    if (!existsSync(link)) {
      try {
        symlinkSync(`../layers/${hex}/fs`, link);
      } catch (error) {
        if (!isErrnoException(error, 'EEXIST')) throw error;
      }
    }
    return `l/${short}`;
  }

  #lowerDirs(snapshot: Snapshot): string[] {
    const distinct = distinctTopmostFirst(snapshot.diffIds);
    if (distinct.length > MAX_LOWERS) throw new TooManyLayersError(distinct.length);
    // An empty dir at the bottom keeps at least two lowers for read-only mounts (a single
    // lowerdir without upperdir is refused by this kernel).
    return [...distinct.map((d) => this.#shortLink(d)), 'empty'];
  }

  async prepare(parent: Snapshot): Promise<ActiveSnapshot> {
    const id = `${process.pid}-${randomBytes(6).toString('hex')}`;
    const base = join(this.#dir, 'active', id);
    // Metadata calls on a step's path are synchronous: a thread-pool round trip each cost more
    // than the calls themselves (~7 per layer step).
    for (const d of ['upper', 'work', 'merged']) mkdirSync(join(base, d), { recursive: true });
    writeFileSync(join(base, 'owner.json'), JSON.stringify({ pid: process.pid, diffIds: parent.diffIds }));
    const dirs: OverlayDirs = {
      lower: this.#lowerDirs(parent),
      upper: { upper: `active/${id}/upper`, work: `active/${id}/work` },
      options: overlayMountOptions(),
    };
    if (Buffer.byteLength(overlayOptions(dirs)) > MAX_OPTIONS)
      throw new TooManyLayersError(distinctTopmostFirst(parent.diffIds).length);
    try {
      await mountOverlay(join(base, 'merged'), dirs, this.#dir);
    } catch (error) {
      await rm(base, { recursive: true, force: true });
      throw error;
    }
    let ended = false;
    const end = async () => {
      if (ended) return;
      ended = true;
      await unmount(join(base, 'merged'));
    };
    const lowers = parent.dirs;
    return {
      rootfs: join(base, 'merged'),
      parent,
      changes: async (): Promise<LayerChange[]> => diffUpperdir(join(base, 'upper'), lowers),
      commit: async (diffId: Digest): Promise<Snapshot> => {
        await end();
        const hex = digestHex(diffId);
        if (!existsSync(join(this.#dir, 'layers', hex))) {
          const tmp = join(this.#dir, 'tmp', `commit-${id}`);
          mkdirSync(tmp, { recursive: true });
          renameSync(join(base, 'upper'), join(tmp, 'fs'));
          await this.#install(tmp, diffId);
          // Gone unless another process installed the same layer first: then it holds our copy.
          if (existsSync(tmp)) await rm(tmp, { recursive: true, force: true });
        }
        // Once the upperdir has moved, what is left is small (the overlay's workdir, the empty
        // mount point); when the layer was there already, the upperdir with the step's files
        // goes too, off the main thread.
        if (existsSync(join(base, 'upper'))) await rm(base, { recursive: true, force: true });
        else rmSync(base, { recursive: true, force: true });
        const diffIds = [...parent.diffIds, diffId];
        return {
          kind: 'overlay',
          chainId: chainIdOf(diffIds),
          diffIds,
          dirs: diffIds.map((d) => this.layerDir(d)),
        };
      },
      discard: async () => {
        try {
          await end();
        } finally {
          await rm(base, { recursive: true, force: true });
        }
      },
    };
  }

  async view(snapshot: Snapshot): Promise<SnapshotView> {
    if (snapshot.diffIds.length === 0)
      return { path: join(this.#dir, 'empty'), release: async () => undefined };
    const id = `${process.pid}-${randomBytes(6).toString('hex')}`;
    const base = join(this.#dir, 'active', `view-${id}`);
    mkdirSync(join(base, 'merged'), { recursive: true });
    writeFileSync(join(base, 'owner.json'), JSON.stringify({ pid: process.pid, diffIds: snapshot.diffIds }));
    try {
      await mountOverlay(join(base, 'merged'), { lower: this.#lowerDirs(snapshot) }, this.#dir);
    } catch (error) {
      await rm(base, { recursive: true, force: true });
      throw error;
    }
    return mountedView(base);
  }

  async bindView(source: string, options: BindViewOptions): Promise<SnapshotView> {
    const id = `${process.pid}-${randomBytes(6).toString('hex')}`;
    const base = join(this.#dir, 'active', `bind-${id}`);
    mkdirSync(base, { recursive: true });
    writeFileSync(join(base, 'owner.json'), JSON.stringify({ pid: process.pid, diffIds: [] }));
    const release = async () => {
      await rm(base, { recursive: true, force: true });
    };
    try {
      if (lstatSync(source).isDirectory()) {
        // An overlay over the source: a top layer of whiteouts hides what must not be seen, and an
        // upperdir of our own takes the writes. Where it cannot be made (a context that contains
        // the store, a filesystem overlayfs cannot stack on, no right to mknod), a private copy.
        try {
          const lower: string[] = [];
          if (options.hidden.length > 0) {
            mkdirSync(join(base, 'hide'));
            makeWhiteoutLayer(join(base, 'hide'), source, options.hidden);
            lower.push(join(base, 'hide'));
          }
          lower.push(source);
          if (!options.writable && lower.length < 2) lower.push('empty'); // one lowerdir alone is refused
          for (const d of options.writable ? ['upper', 'work', 'merged'] : ['merged'])
            mkdirSync(join(base, d));
          const dirs: OverlayDirs = {
            lower,
            ...(options.writable ? { upper: { upper: join(base, 'upper'), work: join(base, 'work') } } : {}),
            options: overlayMountOptions(),
          };
          await mountOverlay(join(base, 'merged'), dirs, this.#dir);
          return mountedView(base);
        } catch {
          // the copy below
        }
      }
      await copyForBind(source, join(base, 'copy'), options.hidden);
      return { path: join(base, 'copy'), release };
    } catch (error) {
      await release();
      throw error;
    }
  }

  async sweepStale(): Promise<number> {
    let removed = 0;
    for (const name of readdirSync(join(this.#dir, 'active'))) {
      let pid: number | undefined;
      try {
        const owner = readFileSync(join(this.#dir, 'active', name, 'owner.json'), 'utf8');
        pid = (JSON.parse(owner) as { pid: number }).pid;
      } catch {
        pid = ownerPid(name); // no owner file (yet): the name says whose it is
      }
      if (pid === undefined || processAlive(pid)) continue;
      // Left by a crashed build: unmount before removing, or rm would write into the overlay.
      await unmount(join(this.#dir, 'active', name, 'merged')).catch(() => undefined);
      await rm(join(this.#dir, 'active', name), { recursive: true, force: true });
      removed++;
    }
    return removed + (await sweepDeadEntries(join(this.#dir, 'tmp')));
  }

  async prune(keep: readonly Snapshot[]): Promise<{ removed: number }> {
    const needed = new Set<string>();
    for (const s of keep) for (const d of s.diffIds) needed.add(digestHex(d));
    await this.sweepStale();
    // Layers under live active snapshots (this or other processes) are in use.
    for (const name of readdirSync(join(this.#dir, 'active'))) {
      try {
        const owner = JSON.parse(readFileSync(join(this.#dir, 'active', name, 'owner.json'), 'utf8')) as {
          diffIds: string[];
        };
        for (const d of owner.diffIds) needed.add(d.slice(d.indexOf(':') + 1));
      } catch {
        // no owner file yet: being created right now; its layers are not chosen yet
      }
    }
    let removed = 0;
    for (const hex of readdirSync(join(this.#dir, 'layers'))) {
      if (needed.has(hex)) continue;
      let short: string | undefined;
      try {
        short = readFileSync(join(this.#dir, 'layers', hex, 'link'), 'utf8').trim();
      } catch {
        short = undefined;
      }
      await rm(join(this.#dir, 'layers', hex), { recursive: true, force: true });
      if (short) await rm(join(this.#dir, 'l', short), { force: true });
      removed++;
    }
    this.#links.clear(); // a layer unpacked again gets a new link
    return { removed };
  }
}

/**
 * A chain's layers top first, as overlayfs wants its lowerdirs, each layer once: at its topmost
 * place. A chain may hold the same layer several times (`RUN true` twice makes the same empty
 * layer, the same COPY twice the same files), but overlayfs refuses a lowerdir that appears twice
 * ("conflicting lowerdir path", ELOOP). Dropping the lower copies leaves the merged tree as it
 * was: for every path the upper copy holds the same entry, whiteout or opaque marker as the lower
 * one and hides it, and a directory's listing is a union, which a second copy of the same entries
 * does not change.
 */
export function distinctTopmostFirst(diffIds: readonly Digest[]): Digest[] {
  const seen = new Set<Digest>();
  const out: Digest[] = [];
  for (let i = diffIds.length - 1; i >= 0; i--) {
    const d = diffIds[i]!;
    if (seen.has(d)) continue;
    seen.add(d);
    out.push(d);
  }
  return out;
}

/**
 * The view of an overlay mounted at `<base>/merged`; releasing it (once) unmounts it and removes
 * `base` — off the main thread, since a writable view's upperdir may hold what a step wrote.
 */
function mountedView(base: string): SnapshotView {
  let released = false;
  return {
    path: join(base, 'merged'),
    release: async () => {
      if (released) return;
      released = true;
      await unmount(join(base, 'merged'));
      await rm(base, { recursive: true, force: true });
    },
  };
}
