import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { listLayer, openDecompressed } from '../archive/index.ts';
import { goMatch, hasWildcards } from '../context/index.ts';
import {
  type Descriptor,
  type Digest,
  type Image,
  parseIndex,
  parseManifest,
  sniffManifestKind,
} from '../oci/index.ts';
import { isReference, parseReference, type Reference } from '../reference/index.ts';
import { NoMatchingPlatformError, type Store } from '../store/index.ts';
import { findStoredImage, imageNameOf, resolveStoredImage } from '../transport/index.ts';
import { InvalidInputError, NotFoundError, writeFileAtomicSync } from '../util/index.ts';

// Resolving the image a user names moved to transport/ (the store transport reads with it).
export { findStoredImage, imageNameOf, resolveStoredImage };

/** One row of `strata images`. */
export interface ImageSummary {
  readonly name: string;
  readonly repository: string;
  readonly tag: string;
  /** The manifest (or index) the name points to. */
  readonly digest: Digest;
  /**
   * docker's image ID: the config digest of the image for this host's platform (what `docker
   * images` and `docker load` show for the same image). The index's digest when the store holds
   * no manifest for this platform.
   */
  readonly id: Digest;
  /** Bytes of the manifest, config and layers as stored (compressed): what a pull transfers. */
  readonly size: number;
  /**
   * The size `docker images` shows for the image: the bytes its layers unpack to (file contents
   * and symlink targets, each hardlinked file once, as docker's graph driver counts a layer). Absent
   * when a layer blob is missing.
   */
  readonly contentSize?: number;
  readonly created?: string;
}

/** Which images {@link listImages} lists. */
export interface ListImagesOptions {
  /**
   * `docker images REPOSITORY[:TAG]`: a repository lists all its tags, `name:tag` one image; names
   * are normalised as docker does (`alpine` is `docker.io/library/alpine`). With wildcards
   * (`*`, `?`, `[…]`) it is a pattern matched against the short name with its tag, then without
   * it (distribution's `FamiliarMatch`, which docker's `reference` filter uses).
   */
  readonly reference?: string;
}

/** Every named image in the store (or those `options.reference` selects), with its ID, sizes and creation time. */
export async function listImages(store: Store, options: ListImagesOptions = {}): Promise<ImageSummary[]> {
  const matches = options.reference === undefined ? () => true : referenceMatcher(options.reference);
  const out: ImageSummary[] = [];
  const sizes = await LayerContentSizes.open(store);
  for (const entry of await store.refs.list()) {
    const ref = parseReference(entry.name);
    if (!matches(ref)) continue;
    let size = entry.descriptor.size;
    let id: Digest = entry.descriptor.digest;
    let contentSize: number | undefined;
    let created: string | undefined;
    try {
      const raw = await store.blobs.read(entry.descriptor.digest);
      if (sniffManifestKind(raw) === 'manifest') {
        const manifest = parseManifest(raw);
        size += manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0);
      } else {
        size += parseIndex(raw).manifests.reduce((n, m) => n + m.size, 0);
      }
      const image = await hostImage(store, entry.descriptor.digest);
      if (image) {
        id = image.manifest.config.digest;
        created = image.config.created;
        contentSize = await sizes.imageSize(image.manifest.layers);
      }
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      // A name whose blobs are gone is still listed; `strata store verify` explains it.
    }
    out.push({
      name: ref.familiar(),
      repository: ref.familiarRepository(),
      tag: ref.tag ?? '<none>',
      digest: entry.descriptor.digest,
      id,
      size,
      ...(contentSize !== undefined ? { contentSize } : {}),
      ...(created ? { created } : {}),
    });
  }
  await sizes.save();
  return out;
}

/** The test `docker images REPOSITORY[:TAG]` applies, for {@link ListImagesOptions.reference}. */
function referenceMatcher(pattern: string): (ref: Reference) => boolean {
  if (hasWildcards(pattern)) {
    try {
      goMatch(pattern, '');
    } catch (error) {
      throw new InvalidInputError(`invalid image pattern ${JSON.stringify(pattern)}`, { cause: error });
    }
    return (ref) => goMatch(pattern, ref.familiar()) || goMatch(pattern, ref.familiarRepository());
  }
  if (!isReference(pattern))
    throw new InvalidInputError(`invalid reference format: ${JSON.stringify(pattern)}`, {
      hint: 'REPOSITORY or REPOSITORY:TAG, e.g. alpine or alpine:3.19',
    });
  const wanted = parseReference(pattern);
  // A repository alone (no tag written) lists every tag of it, as docker does.
  if (wanted.tagDefaulted) return (ref) => ref.repository() === wanted.repository();
  return (ref) => ref.toString() === wanted.toString();
}

/** The image a stored manifest or index holds for this host's platform, if the store has it. */
async function hostImage(store: Store, digest: Digest): Promise<Image | undefined> {
  try {
    return await store.image(digest);
  } catch (error) {
    if (error instanceof NoMatchingPlatformError) return undefined;
    throw error;
  }
}

/**
 * The unpacked size of each layer, as docker's overlay2 driver measures a layer's directory
 * (moby's `directory.Size`: every non-directory's size, symlinks as their target's length, a
 * hardlinked file once), remembered by layer digest in `cache/layer-sizes.json` so a layer is read
 * once, not at every `strata images`.
 */
class LayerContentSizes {
  readonly #file: string;
  readonly #sizes: Map<string, number>;
  readonly #store: Store;
  #changed = false;

  private constructor(store: Store, file: string, sizes: Map<string, number>) {
    this.#store = store;
    this.#file = file;
    this.#sizes = sizes;
  }

  static async open(store: Store): Promise<LayerContentSizes> {
    const file = join(store.root, 'cache', 'layer-sizes.json');
    let sizes = new Map<string, number>();
    try {
      const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
      if (parsed && typeof parsed === 'object')
        sizes = new Map(
          Object.entries(parsed).filter((e): e is [string, number] => typeof e[1] === 'number' && e[1] >= 0),
        );
    } catch (error) {
      // No file yet, or a damaged one: the sizes are measured again (it is only a cache).
      if (!(error instanceof SyntaxError) && (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    return new LayerContentSizes(store, file, sizes);
  }

  async imageSize(layers: readonly Descriptor[]): Promise<number | undefined> {
    let total = 0;
    for (const layer of layers) {
      let size = this.#sizes.get(layer.digest);
      if (size === undefined) {
        if (!(await this.#store.blobs.has(layer.digest))) return undefined;
        size = await measureLayer(this.#store, layer.digest);
        this.#sizes.set(layer.digest, size);
        this.#changed = true;
      }
      total += size;
    }
    return total;
  }

  async save(): Promise<void> {
    if (!this.#changed) return;
    await mkdir(dirname(this.#file), { recursive: true });
    writeFileAtomicSync(this.#file, `${JSON.stringify(Object.fromEntries(this.#sizes))}\n`);
  }
}

/** One layer's unpacked size, docker's way (see {@link LayerContentSizes}). */
async function measureLayer(store: Store, digest: Digest): Promise<number> {
  let size = 0;
  for await (const entry of listLayer(openDecompressed(await store.blobs.open(digest)))) {
    // A hardlink's content is counted at its target; whiteouts are empty files; directories and
    // devices take no bytes of content.
    if (entry.type === 'file') size += entry.size;
    else if (entry.type === 'symlink') size += Buffer.byteLength(entry.linkpath);
  }
  return size;
}

/** `strata tag SOURCE TARGET`: names the image SOURCE names (a name, digest or ID) as TARGET too. */
export async function tagImage(store: Store, source: string, target: string): Promise<void> {
  await store.tag(imageNameOf(target), await resolveStoredImage(store, source));
}

/**
 * `strata rmi NAME…`: removes names; blobs go at the next prune. An image ID (or digest) removes
 * the one name the image has; with several, docker's rule: name the one to remove.
 */
export async function removeImage(store: Store, name: string): Promise<{ name: string; digest: Digest }> {
  if (isReference(name)) {
    const named = imageNameOf(name);
    const removed = await store.refs.delete(named.full);
    if (removed) return { name: named.short, digest: removed.digest };
  }
  const image = await findStoredImage(store, name);
  if (!image) throw new NotFoundError(`image ${name} not found in the store`);
  const names = (await store.refs.list())
    .filter((e) => e.descriptor.digest === image.digest)
    .map((e) => e.name);
  if (names.length === 0)
    throw new NotFoundError(`image ${name} has no name to remove`, {
      hint: '`strata prune` removes images without a name',
    });
  if (names.length > 1)
    throw new InvalidInputError(`image ${name} has ${names.length} names: ${names.join(', ')}`, {
      hint: 'remove them by name',
    });
  await store.refs.delete(names[0]!);
  return { name: parseReference(names[0]!).familiar(), digest: image.digest };
}
