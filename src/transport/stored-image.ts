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
 * digest, or of the config digest (docker's image ID, which `strata images` and `build -q`
 * print), whole or a prefix of it that only one image has. Undefined when nothing matches; an ambiguous prefix is an error, as in docker.
 */
export async function findStoredImage(store: Store, text: string): Promise<Descriptor | undefined> {
  const full = /^(?:sha256:)?([a-f0-9]{64})$/.exec(text);
  if (full && text.startsWith('sha256:')) {
    const digest = `sha256:${full[1]}` as Digest;
    // A manifest's digest, or docker's image ID (the config digest) that `strata images` shows.
    return (await manifestDescriptor(store, digest)) ?? (await imageWithConfig(store, full[1]!));
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
  return found[0] ?? imageWithConfig(store, text);
}

/**
 * The image whose config digest starts with `hex`: docker's image ID, as `strata images`, `build
 * -q` and `--iidfile` print it. Named images first, then every manifest in the store.
 */
async function imageWithConfig(store: Store, hex: string): Promise<Descriptor | undefined> {
  const prefix = `sha256:${hex}`;
  const configOf = async (descriptor: Descriptor): Promise<Digest | undefined> => {
    const raw = await store.blobs.read(descriptor.digest).catch(() => undefined);
    if (!raw || sniffManifestKind(raw) !== 'manifest') return undefined;
    return parseManifest(raw).config.digest;
  };
  const named = new Map<Digest, Descriptor>();
  for (const entry of await store.refs.list())
    if ((await configOf(entry.descriptor))?.startsWith(prefix))
      named.set(entry.descriptor.digest, entry.descriptor);
  if (named.size > 1) throw ambiguousId(hex, [...named.keys()]);
  const [only] = named.values();
  if (only) return only;
  const found = new Map<Digest, Descriptor>();
  for (const digest of await store.blobs.list()) {
    const descriptor = await manifestDescriptor(store, digest);
    if (descriptor && (await configOf(descriptor))?.startsWith(prefix)) found.set(digest, descriptor);
  }
  if (found.size > 1) throw ambiguousId(hex, [...found.keys()]);
  return [...found.values()][0];
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
