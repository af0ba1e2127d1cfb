import {
  type Descriptor,
  type Digest,
  MANIFEST_LIMIT,
  MediaTypes,
  parseIndex,
  parseManifest,
  sniffManifestKind,
} from '../oci/index.ts';
import { isReference, parseReference } from '../reference/index.ts';
import type { ImageName, Store } from '../store/index.ts';
import { InvalidInputError, NotFoundError } from '../util/index.ts';

/** The store name of a user-typed reference: `alpine` → full `docker.io/library/alpine:latest`, short `alpine:latest`. */
export function imageNameOf(text: string): ImageName {
  const ref = parseReference(text);
  return { full: ref.toString(), short: ref.familiar() };
}

/**
 * The stored image a user names, resolved as docker resolves one: a digest (`sha256:<hex>`), then
 * a name (`app`, `app:1`, `registry/app@sha256:…`), then an image ID — the hex of the manifest
 * digest that `strata images` and `build -q` print, whole or a prefix of it that only one image
 * has. Undefined when nothing matches; an ambiguous prefix is an error, as in docker.
 */
export async function findStoredImage(store: Store, text: string): Promise<Descriptor | undefined> {
  const full = /^(?:sha256:)?([a-f0-9]{64})$/.exec(text);
  if (full && text.startsWith('sha256:')) {
    const digest = `sha256:${full[1]}` as Digest;
    // Docker's image ID is the config digest (what `build --iidfile` writes): a named image whose
    // manifest has that config answers to it too.
    return (await manifestDescriptor(store, digest)) ?? (await namedImageWithConfig(store, digest));
  }
  if (isReference(text)) {
    const named = await store.refs.get(imageNameOf(text).full);
    if (named) return named;
  }
  if (!/^[a-f0-9]{4,64}$/.test(text)) return undefined;
  const prefix = `sha256:${text}`;
  // Named images first (what `strata images` lists), then any image in the store (an untagged build).
  const named = new Map<Digest, Descriptor>();
  for (const entry of await store.refs.list())
    if (entry.descriptor.digest.startsWith(prefix)) named.set(entry.descriptor.digest, entry.descriptor);
  if (named.size > 1) throw ambiguousId(text, [...named.keys()]);
  const [only] = named.values();
  if (only) return only;
  const found: Descriptor[] = [];
  for (const digest of await store.blobs.list()) {
    if (!digest.startsWith(prefix)) continue;
    const descriptor = await manifestDescriptor(store, digest);
    if (descriptor) found.push(descriptor);
  }
  if (found.length > 1)
    throw ambiguousId(
      text,
      found.map((d) => d.digest),
    );
  return found[0];
}

/** {@link findStoredImage}, or NotFoundError. */
export async function resolveStoredImage(store: Store, text: string): Promise<Descriptor> {
  const descriptor = await findStoredImage(store, text);
  if (!descriptor) throw new NotFoundError(`image ${text} not found in the store`);
  return descriptor;
}

function ambiguousId(text: string, digests: readonly Digest[]): InvalidInputError {
  return new InvalidInputError(`image ID ${text} is ambiguous: ${digests.length} images start with it`, {
    hint: `use more of the ID: ${digests.map((d) => d.slice(7, 7 + Math.max(12, text.length + 4))).join(', ')}`,
  });
}

/** The named single-platform image whose config is `config`; undefined when none is. */
async function namedImageWithConfig(store: Store, config: Digest): Promise<Descriptor | undefined> {
  for (const entry of await store.refs.list()) {
    // A name whose manifest blob is gone (a damaged store) is not the image asked for.
    const raw = await store.blobs.read(entry.descriptor.digest).catch(() => undefined);
    if (raw === undefined || sniffManifestKind(raw) === 'index') continue;
    try {
      if (parseManifest(raw).config.digest === config) return entry.descriptor;
    } catch {
      // Not a manifest strata can read: it names no config.
    }
  }
  return undefined;
}

/** The descriptor of the manifest or index stored as `digest`; undefined for any other blob. */
async function manifestDescriptor(store: Store, digest: Digest): Promise<Descriptor | undefined> {
  const size = await store.blobs.size(digest);
  if (size === undefined || size > MANIFEST_LIMIT) return undefined;
  const raw = await store.blobs.read(digest);
  try {
    const mediaType =
      sniffManifestKind(raw) === 'index'
        ? (parseIndex(raw).mediaType ?? MediaTypes.ociIndex)
        : (parseManifest(raw).mediaType ?? MediaTypes.ociManifest);
    return { mediaType, digest, size: raw.length };
  } catch {
    return undefined; // a config or a small layer
  }
}
