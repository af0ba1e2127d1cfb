import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Descriptor, Index } from '../oci/index.ts';
import { canonicalJson, MediaTypes, parseIndex } from '../oci/index.ts';
import { isErrnoException, StrataError, withLock, writeFileAtomic } from '../util/index.ts';

/** The annotation holding an image's full normalised name (containerd's convention). */
export const IMAGE_NAME_ANNOTATION = 'io.containerd.image.name';
/** The OCI annotation skopeo and other layout readers look names up by (`oci:<root>:<ref.name>`). */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

/** A name for an image as the caller resolved it. */
export interface ImageName {
  /** Fully normalised, e.g. `docker.io/library/alpine:3.19`; the key refs are stored under. */
  readonly full: string;
  /** What users type and skopeo's `oci:<root>:<name>` finds, e.g. `alpine:3.19`. */
  readonly short: string;
}

/** One named image in the store. */
export interface RefEntry {
  readonly name: string;
  readonly shortName: string;
  readonly descriptor: Descriptor;
}

/** Thrown when the layout's index.json cannot be read. */
export class StoreCorruptError extends StrataError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('STORE_CORRUPT', message, { ...options, hint: 'run `strata store verify` to see what is damaged' });
  }
}

/**
 * Named references kept in the layout's `index.json`, one descriptor per name, annotated with
 * the full name and the short name. Every change is a read-modify-write under a lockfile with an
 * atomic rename, so concurrent strata processes never lose each other's tags.
 */
export class RefIndex {
  readonly #path: string;
  readonly #lock: string;

  constructor(root: string) {
    this.#path = join(root, 'index.json');
    this.#lock = join(root, 'locks', 'index.lock');
  }

  /** All named images, sorted by name. */
  async list(): Promise<RefEntry[]> {
    const index = await this.#read();
    return index.manifests
      .filter((d) => d.annotations?.[IMAGE_NAME_ANNOTATION] !== undefined)
      .map((d) => ({
        name: d.annotations![IMAGE_NAME_ANNOTATION]!,
        shortName: d.annotations![REF_NAME_ANNOTATION] ?? d.annotations![IMAGE_NAME_ANNOTATION]!,
        descriptor: d,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The descriptor a full name points to, or undefined. */
  async get(fullName: string): Promise<Descriptor | undefined> {
    const index = await this.#read();
    return index.manifests.find((d) => d.annotations?.[IMAGE_NAME_ANNOTATION] === fullName);
  }

  /** Points `name` at `target` (replacing what it pointed to). */
  async set(name: ImageName, target: Descriptor): Promise<void> {
    await this.update((manifests) => {
      const kept = manifests.filter((d) => d.annotations?.[IMAGE_NAME_ANNOTATION] !== name.full);
      const { annotations: _ignored, ...plain } = target;
      kept.push({
        ...plain,
        annotations: { [IMAGE_NAME_ANNOTATION]: name.full, [REF_NAME_ANNOTATION]: name.short },
      });
      return kept;
    });
  }

  /** Removes `fullName`; resolves with the descriptor it pointed to, or undefined. */
  async delete(fullName: string): Promise<Descriptor | undefined> {
    let removed: Descriptor | undefined;
    await this.update((manifests) =>
      manifests.filter((d) => {
        const match = d.annotations?.[IMAGE_NAME_ANNOTATION] === fullName;
        if (match) removed = d;
        return !match;
      }),
    );
    return removed;
  }

  /** Read-modify-write of the index's manifests list under the index lock. */
  async update(fn: (manifests: Descriptor[]) => Descriptor[]): Promise<void> {
    await withLock(this.#lock, async () => {
      const index = await this.#read();
      const manifests = fn([...index.manifests]);
      manifests.sort((a, b) =>
        (a.annotations?.[IMAGE_NAME_ANNOTATION] ?? '').localeCompare(
          b.annotations?.[IMAGE_NAME_ANNOTATION] ?? '',
        ),
      );
      const next: Index = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests };
      await writeFileAtomic(this.#path, `${canonicalJson(next)}\n`);
    });
  }

  /** Runs `fn` while holding the index lock (for GC, which must not race with tagging). */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    return withLock(this.#lock, fn);
  }

  async #read(): Promise<Index> {
    let raw: string;
    try {
      raw = await readFile(this.#path, 'utf8');
    } catch (error) {
      if (isErrnoException(error, 'ENOENT')) return { schemaVersion: 2, manifests: [] };
      throw error;
    }
    try {
      return parseIndex(raw);
    } catch (error) {
      throw new StoreCorruptError(`the store's index.json is unreadable`, { cause: error });
    }
  }
}
