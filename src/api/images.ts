import { goMatch, hasWildcards } from '../context/index.ts';
import { type Digest, parseImageConfig, parseIndex, parseManifest, sniffManifestKind } from '../oci/index.ts';
import { isReference, parseReference, type Reference } from '../reference/index.ts';
import type { Store } from '../store/index.ts';
import { findStoredImage, imageNameOf, resolveStoredImage } from '../transport/index.ts';
import { InvalidInputError, NotFoundError } from '../util/index.ts';

// Resolving the image a user names moved to transport/ (the store transport reads with it).
export { findStoredImage, imageNameOf, resolveStoredImage };

/** One row of `strata images`. */
export interface ImageSummary {
  readonly name: string;
  readonly repository: string;
  readonly tag: string;
  readonly digest: Digest;
  /** Bytes of the manifest, config and layers as stored (compressed): what a pull transfers. */
  readonly size: number;
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

/** Every named image in the store (or those `options.reference` selects), with its size and creation time. */
export async function listImages(store: Store, options: ListImagesOptions = {}): Promise<ImageSummary[]> {
  const matches = options.reference === undefined ? () => true : referenceMatcher(options.reference);
  const out: ImageSummary[] = [];
  for (const entry of await store.refs.list()) {
    const ref = parseReference(entry.name);
    if (!matches(ref)) continue;
    let size = entry.descriptor.size;
    let created: string | undefined;
    try {
      const raw = await store.blobs.read(entry.descriptor.digest);
      if (sniffManifestKind(raw) === 'manifest') {
        const manifest = parseManifest(raw);
        size += manifest.config.size + manifest.layers.reduce((n, l) => n + l.size, 0);
        created = parseImageConfig(await store.blobs.read(manifest.config.digest)).created;
      } else {
        size += parseIndex(raw).manifests.reduce((n, m) => n + m.size, 0);
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
      size,
      ...(created ? { created } : {}),
    });
  }
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
