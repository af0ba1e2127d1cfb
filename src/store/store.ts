import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  canonicalJsonBytes,
  type Descriptor,
  type Digest,
  formatPlatform,
  hostPlatform,
  type Image,
  type Index,
  imageFromCore,
  isIndexMediaType,
  MediaTypes,
  type Platform,
  parseDigest,
  parseIndex,
  parseManifest,
  platformMatches,
  sniffManifestKind,
} from '../oci/index.ts';
import { isErrnoException, NotFoundError, StrataError, writeFileAtomic } from '../util/index.ts';
import { BlobStore, hashFile } from './blob-store.ts';
import { Lease, leasedDigests } from './leases.ts';
import { type ImageName, RefIndex, StoreCorruptError } from './ref-index.ts';
import { ensureStoreRoot } from './store-root.ts';

const LAYOUT_FILE = JSON.stringify({ imageLayoutVersion: '1.0.0' });

/** Files written by other modules that name blobs to keep (e.g. the step cache): `roots/<name>.json`. */
export interface RootsFile {
  readonly digests: readonly string[];
}

/** The outcome of {@link Store.collectGarbage}. */
export interface GcResult {
  readonly removedBlobs: number;
  readonly freedBytes: number;
  readonly keptBlobs: number;
}

/** One damaged blob found by {@link Store.verify}. */
export interface VerifyProblem {
  readonly digest: Digest;
  readonly problem: string;
}

/** Thrown when an index holds no manifest for the wanted platform. */
export class NoMatchingPlatformError extends StrataError {
  constructor(wanted: Platform, available: readonly string[]) {
    super(
      'NO_MATCHING_PLATFORM',
      `no image for platform ${formatPlatform(wanted)} (available: ${available.join(', ') || 'none'})`,
      available.length > 0 ? { hint: `choose one with --platform ${available[0]}` } : {},
    );
  }
}

/**
 * The manifest an index offers for `wanted`; with no platform asked for, the host's, or — when the
 * index holds exactly one image platform and it is not the host's — that one (as docker picks the
 * only image of a single-platform index). Attestation manifests (`unknown/unknown`) never count.
 */
export function chooseIndexManifest(index: Index, wanted: Platform | undefined): Descriptor {
  const images = index.manifests.filter((m) => m.platform && m.platform.os !== 'unknown');
  const target = wanted ?? hostPlatform();
  const chosen = images.find((m) => platformMatches(target, m.platform!));
  if (chosen) return chosen;
  if (wanted === undefined && images.length === 1) return images[0]!;
  throw new NoMatchingPlatformError(
    target,
    images.map((m) => formatPlatform(m.platform!)),
  );
}

/**
 * strata's local store: an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`) that
 * skopeo reads as `oci:<root>`, plus `tmp/`, `locks/`, `leases/` and `roots/` for strata's own
 * bookkeeping. Blobs are verified on the way in and atomically renamed into place; names are
 * changed under a lock; garbage collection keeps everything reachable from names, live leases
 * and roots files.
 */
export class Store {
  readonly root: string;
  readonly blobs: BlobStore;
  readonly refs: RefIndex;
  #lease: Lease | undefined;

  private constructor(root: string) {
    this.root = root;
    this.blobs = new BlobStore(root);
    this.refs = new RefIndex(root);
  }

  /**
   * Opens (creating if needed) the store at `root` and sweeps temp files left by crashed processes.
   * A relative `root` is taken from the working directory, once: the runtime and mount helpers
   * run in other directories.
   */
  static async open(root: string): Promise<Store> {
    const store = new Store(resolve(root));
    await ensureStoreRoot(root); // not mkdir -p: see there
    await makePrivate(root);
    for (const dir of ['blobs/sha256', 'tmp', 'locks', 'leases', 'roots'])
      await mkdir(join(root, dir), { recursive: true });
    const layoutPath = join(root, 'oci-layout');
    try {
      await stat(layoutPath);
    } catch (error) {
      if (!isErrnoException(error, 'ENOENT')) throw error;
      await writeFile(layoutPath, LAYOUT_FILE);
    }
    try {
      await stat(join(root, 'index.json'));
    } catch (error) {
      if (!isErrnoException(error, 'ENOENT')) throw error;
      await store.refs.update((m) => m);
    }
    await store.blobs.sweepTemp();
    return store;
  }

  /** This process's lease: blobs added to it survive a concurrent prune until it is released. */
  get lease(): Lease {
    this.#lease ??= new Lease(this.root);
    return this.#lease;
  }

  /** Releases this process's lease (call when the work that needed it is referenced). */
  async close(): Promise<void> {
    await this.#lease?.release();
    this.#lease = undefined;
  }

  /**
   * Writes every blob of `image` that is missing (layers first, then config, then the manifest,
   * so a reader never sees a manifest whose blobs are absent) and returns the manifest descriptor.
   */
  async writeImage(image: Image, signal?: AbortSignal): Promise<Descriptor> {
    for (const layer of image.layers) {
      const { digest, size } = layer.descriptor;
      await this.lease.add(digest);
      if ((await this.blobs.size(digest)) === size) continue;
      const stream = await layer.open(signal);
      // Opening may have brought the blob into the store (a base image's layers pulled on first
      // read): then there is nothing to copy.
      if ((await this.blobs.size(digest)) === size) {
        stream.destroy();
        continue;
      }
      await this.blobs.ingest(stream, { digest, size }, signal);
    }
    const config = await this.blobs.writeBytes(image.rawConfig);
    const manifest = await this.blobs.writeBytes(image.rawManifest);
    await this.lease.add(config.digest, manifest.digest);
    return {
      mediaType: image.manifest.mediaType ?? MediaTypes.ociManifest,
      digest: manifest.digest,
      size: manifest.size,
    };
  }

  /**
   * Writes an image index (or Docker manifest list) whose manifests are already stored, and returns
   * its descriptor. The index is written as canonical JSON.
   */
  async writeIndex(index: Index, signal?: AbortSignal): Promise<Descriptor> {
    signal?.throwIfAborted();
    for (const child of index.manifests)
      if ((await this.blobs.size(child.digest)) !== child.size)
        throw new NotFoundError(`index child ${child.digest} is not in the store`);
    const written = await this.blobs.writeBytes(canonicalJsonBytes(index));
    await this.lease.add(written.digest);
    return { mediaType: index.mediaType ?? MediaTypes.ociIndex, digest: written.digest, size: written.size };
  }

  /** Names `target` as `name`. */
  async tag(name: ImageName, target: Descriptor): Promise<void> {
    await this.refs.set(name, target);
  }

  /** The descriptor stored under a full name; NotFoundError when none. */
  async resolve(fullName: string): Promise<Descriptor> {
    const descriptor = await this.refs.get(fullName);
    if (!descriptor) throw new NotFoundError(`image ${fullName} not found in the store`);
    return descriptor;
  }

  /**
   * Loads the image a descriptor points to. For an index, the manifest for `platform` is chosen
   * ({@link chooseIndexManifest}: by default the host's, or the index's only platform).
   */
  async image(target: Descriptor | Digest, platform?: Platform): Promise<Image> {
    let digest = typeof target === 'string' ? target : target.digest;
    let raw = await this.blobs.read(digest);
    if (sniffManifestKind(raw) === 'index') {
      const chosen = chooseIndexManifest(parseIndex(raw), platform);
      digest = chosen.digest;
      raw = await this.blobs.read(digest);
    }
    const manifest = parseManifest(raw);
    const rawConfig = await this.blobs.read(manifest.config.digest);
    return imageFromCore({
      rawManifest: raw,
      rawConfig,
      openBlob: (descriptor, signal) => this.blobs.open(descriptor.digest, signal ? { signal } : {}),
    });
  }

  /** Every blob reachable from `digest` (a manifest or index): itself, config, layers, children. */
  async reachable(digest: Digest, into: Set<Digest> = new Set()): Promise<Set<Digest>> {
    if (into.has(digest)) return into;
    into.add(digest);
    let raw: Buffer;
    try {
      raw = await readFile(this.blobs.path(digest));
    } catch (error) {
      if (isErrnoException(error, 'ENOENT')) return into; // dangling: verify reports it
      throw error;
    }
    let kind: 'manifest' | 'index';
    try {
      kind = sniffManifestKind(raw);
    } catch {
      return into; // a layer or config blob named directly: nothing below it
    }
    if (kind === 'index') {
      for (const child of parseIndex(raw).manifests) await this.reachable(child.digest, into);
    } else {
      const manifest = parseManifest(raw);
      into.add(manifest.config.digest);
      for (const layer of manifest.layers) into.add(layer.digest);
      if (manifest.subject) into.add(manifest.subject.digest);
    }
    return into;
  }

  /** Writes a roots file: the digests named (and all they reach) survive GC while it exists. */
  async setRoots(name: string, digests: readonly Digest[]): Promise<void> {
    await writeFileAtomic(
      join(this.root, 'roots', `${name}.json`),
      JSON.stringify({ digests } satisfies RootsFile),
    );
  }

  /**
   * Deletes every blob not reachable from a name, a live lease or a roots file. Runs under the
   * index lock so no tag can appear halfway; blobs being ingested by live processes are leased.
   */
  async collectGarbage(options: { dryRun?: boolean } = {}): Promise<GcResult> {
    return this.refs.locked(async () => {
      const live = new Set<Digest>();
      for (const entry of await this.refs.list()) await this.reachable(entry.descriptor.digest, live);
      for (const digest of await leasedDigests(this.root)) await this.reachable(digest, live);
      for (const digest of await this.#rootDigests()) await this.reachable(digest, live);
      let removedBlobs = 0;
      let freedBytes = 0;
      for (const digest of await this.blobs.list()) {
        if (live.has(digest)) continue;
        const size = (await this.blobs.size(digest)) ?? 0;
        if (!options.dryRun) await this.blobs.remove(digest);
        removedBlobs++;
        freedBytes += size;
      }
      await this.blobs.sweepTemp();
      return { removedBlobs, freedBytes, keptBlobs: live.size };
    });
  }

  async #rootDigests(): Promise<Digest[]> {
    const out: Digest[] = [];
    // roots/<name>.json, and one level of subdirectories (roots/step-cache/<key>.json).
    const files = async (dir: string): Promise<string[]> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if (isErrnoException(error, 'ENOENT')) return [];
        throw error;
      }
      const found: string[] = [];
      for (const e of entries) {
        if (e.isFile() && e.name.endsWith('.json')) found.push(join(dir, e.name));
        else if (e.isDirectory() && dir === join(this.root, 'roots'))
          found.push(...(await files(join(dir, e.name))));
      }
      return found;
    };
    for (const file of await files(join(this.root, 'roots'))) {
      let record: RootsFile;
      try {
        record = JSON.parse(await readFile(file, 'utf8')) as RootsFile;
      } catch (error) {
        if (isErrnoException(error, 'ENOENT')) continue; // removed while we listed
        throw new StoreCorruptError(`unreadable roots file ${file}`, { cause: error });
      }
      for (const d of record.digests ?? []) out.push(parseDigest(d));
    }
    return out;
  }

  /**
   * Re-hashes every blob and checks every name's manifest tree is complete. Returns the problems;
   * an empty list means the store is consistent.
   */
  async verify(
    options: { onProgress?: (done: number, total: number) => void } = {},
  ): Promise<VerifyProblem[]> {
    const problems: VerifyProblem[] = [];
    const blobs = await this.blobs.list();
    let done = 0;
    for (const digest of blobs) {
      const actual = await hashFile(this.blobs.path(digest));
      if (actual !== digest) problems.push({ digest, problem: `content hashes to ${actual}` });
      options.onProgress?.(++done, blobs.length);
    }
    const present = new Set(blobs);
    for (const entry of await this.refs.list()) {
      const reach = await this.reachable(entry.descriptor.digest);
      for (const d of reach) {
        if (!present.has(d)) problems.push({ digest: d, problem: `missing (needed by ${entry.name})` });
      }
      if (present.has(entry.descriptor.digest)) {
        const size = await this.blobs.size(entry.descriptor.digest);
        if (size !== entry.descriptor.size) {
          problems.push({
            digest: entry.descriptor.digest,
            problem: `size ${size} but ${entry.name} says ${entry.descriptor.size}`,
          });
        }
      }
    }
    return problems;
  }
}

/** Removes the whole store directory (tests). */
export async function destroyStore(root: string): Promise<void> {
  await rm(root, { recursive: true, force: true });
}

/** True for a descriptor of a multi-platform index. */
export function isIndexDescriptor(descriptor: Descriptor): boolean {
  return isIndexMediaType(descriptor.mediaType);
}

export type { Index };

/**
 * Makes the state root reachable by its owner only (0700; docker keeps /var/lib/docker 0710):
 * below it are unpacked layers, whose setuid binaries another local user could otherwise run
 * (CVE-2021-41091), and the bundles of running steps. A store an older strata made 0755 is fixed
 * when it opens; one that belongs to another user is left as it is (its owner decides).
 */
async function makePrivate(root: string): Promise<void> {
  const info = await stat(root);
  if ((info.mode & 0o077) === 0 || info.uid !== process.getuid?.()) return;
  await chmod(root, info.mode & 0o700);
}
