import { existsSync } from 'node:fs';
import type { Store } from '../store/index.ts';
import { AbortedError, formatErrorChain, InternalError, Limiter } from '../util/index.ts';
import type { RemoteCache } from './cache-manifest.ts';
import { type CacheMountIdentity, cacheMountName } from './cache-mount-manifest.ts';
import { CacheMountPieceIndex } from './cache-mount-pack.ts';
import { restoreCacheMount } from './cache-mount-restore.ts';
import { markCacheMountInUse, noteCacheMountUse } from './cache-mount-store.ts';

/** A cache mount a RUN of this build declares, and its local directory. */
export interface DeclaredCacheMount {
  readonly identity: CacheMountIdentity;
  readonly dir: string;
}

/** What a restore did, for the build's progress. */
export interface CacheMountRestored {
  readonly identity: CacheMountIdentity;
  /** The `--cache-from` it came from. */
  readonly from: string;
  readonly files: number;
  readonly bytes: number;
}

/**
 * The cache mounts of one build: which ones its RUN steps declare (what `--cache-to …,mounts=`
 * exports), and their restore from the `--cache-from` caches. A mount is restored only when a step
 * that uses it is about to run (a step that hits the cache needs no mount), only when this machine
 * has no directory for its id yet (a mount that exists locally is newer than, or as new as, any
 * cache: it is never overwritten or merged), and only from an exported mount with exactly its
 * identity (id, platform, uid, gid, mode), the first cache in `--cache-from` order that has one.
 * The download starts as soon as the step misses, beside the unpacking of its filesystem; the step
 * waits for it just before binding the mount.
 */
export class BuildCacheMounts {
  readonly #store: Store;
  readonly #remote: readonly RemoteCache[];
  readonly #declared = new Map<string, DeclaredCacheMount>();
  readonly #restores = new Map<string, Promise<void>>();
  readonly #onRestored: ((restored: CacheMountRestored) => void) | undefined;
  readonly #onWarning: ((text: string) => void) | undefined;

  constructor(
    store: Store,
    remote: readonly RemoteCache[],
    options: {
      readonly onRestored?: (restored: CacheMountRestored) => void;
      /** A restore that failed: the step goes on with an empty mount, as with no cache. */
      readonly onWarning?: (text: string) => void;
    } = {},
  ) {
    this.#store = store;
    this.#remote = remote;
    this.#onRestored = options.onRestored;
    this.#onWarning = options.onWarning;
  }

  /** The imported caches, in `--cache-from` order. */
  get remote(): readonly RemoteCache[] {
    return this.#remote;
  }

  /** A RUN of this build has this mount (whether it runs or hits the cache). */
  declare(identity: CacheMountIdentity, dir: string): void {
    const name = cacheMountName(identity);
    if (!this.#declared.has(name)) this.#declared.set(name, { identity, dir });
  }

  /** Every mount declared, in the order first seen. */
  declared(): readonly DeclaredCacheMount[] {
    return [...this.#declared.values()];
  }

  /**
   * Starts restoring the mount when this machine lacks it and an imported cache holds it (once
   * per directory and build); a step that will use it is about to run.
   */
  prefetch(identity: CacheMountIdentity, dir: string, signal?: AbortSignal): void {
    if (this.#restores.has(dir) || existsSync(dir)) return;
    for (const cache of this.#remote) {
      const ref = cache.findMount(identity);
      if (!ref) continue;
      const restore = this.#restore(cache, identity, dir, signal).catch((error: unknown) => {
        if (signal?.aborted || error instanceof AbortedError || error instanceof InternalError) throw error;
        this.#onWarning?.(
          `restoring cache mount ${cacheMountName(identity)} from ${cache.name}: ${formatErrorChain(error)} (the step runs with an empty cache mount)`,
        );
      });
      restore.catch(() => undefined); // awaited by use(); never an unhandled rejection meanwhile
      this.#restores.set(dir, restore);
      return;
    }
  }

  /**
   * Before a step binds the mount: marks it in use (so `strata prune` leaves it), waits for its
   * restore if one is under way (starting it if the step did not), and records the use. Returns
   * the release of the in-use mark, for when the step ends.
   */
  async use(identity: CacheMountIdentity, dir: string, signal?: AbortSignal): Promise<() => Promise<void>> {
    const release = await markCacheMountInUse(this.#store.root, dir, signal);
    try {
      this.prefetch(identity, dir, signal);
      await this.#restores.get(dir);
      noteCacheMountUse(dir, identity.id);
      return release;
    } catch (error) {
      await release();
      throw error;
    }
  }

  async #restore(
    cache: RemoteCache,
    identity: CacheMountIdentity,
    dir: string,
    signal?: AbortSignal,
  ): Promise<void> {
    const ref = cache.findMount(identity)!;
    const manifest = await cache.readMountManifest(ref, signal);
    const index = new CacheMountPieceIndex(this.#store);
    const limiter = new Limiter(4);
    await Promise.all(
      manifest.pieces.map((piece) =>
        limiter.run(async () => {
          await cache.fetchBlob(piece, this.#store, signal);
          index.put(piece.contentDigest, {
            mediaType: piece.mediaType,
            digest: piece.digest,
            size: piece.size,
          });
        }),
      ),
    );
    const placed = await restoreCacheMount(
      manifest,
      dir,
      (i) => this.#store.blobs.open(manifest.pieces[i]!.digest, signal ? { signal } : {}),
      signal,
    );
    if (!placed) return;
    noteCacheMountUse(dir, identity.id, cache.name);
    this.#onRestored?.({ identity, from: cache.name, files: ref.files, bytes: ref.size });
  }
}
