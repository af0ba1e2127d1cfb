import { type Digest, parseImageConfig, parseIndex, parseManifest, sniffManifestKind } from '../oci/index.ts';
import { parseReference } from '../reference/index.ts';
import type { ImageName, Store } from '../store/index.ts';
import { NotFoundError } from '../util/index.ts';

/** The store name of a user-typed reference: `alpine` → full `docker.io/library/alpine:latest`, short `alpine:latest`. */
export function imageNameOf(text: string): ImageName {
  const ref = parseReference(text);
  return { full: ref.toString(), short: ref.familiar() };
}

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

/** Every named image in the store, with its size and creation time. */
export async function listImages(store: Store): Promise<ImageSummary[]> {
  const out: ImageSummary[] = [];
  for (const entry of await store.refs.list()) {
    const ref = parseReference(entry.name);
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

/** `strata tag SOURCE TARGET`: names the image SOURCE names (a name or a digest) as TARGET too. */
export async function tagImage(store: Store, source: string, target: string): Promise<void> {
  const descriptor = /^sha256:[a-f0-9]{64}$/.test(source)
    ? await descriptorForDigest(store, source as Digest)
    : await store.resolve(imageNameOf(source).full);
  await store.tag(imageNameOf(target), descriptor);
}

async function descriptorForDigest(store: Store, digest: Digest) {
  const raw = await store.blobs.read(digest);
  const kind = sniffManifestKind(raw);
  const mediaType =
    kind === 'index'
      ? (parseIndex(raw).mediaType ?? 'application/vnd.oci.image.index.v1+json')
      : (parseManifest(raw).mediaType ?? 'application/vnd.oci.image.manifest.v1+json');
  return { mediaType, digest, size: raw.length };
}

/** `strata rmi NAME…`: removes names; blobs go at the next prune. */
export async function removeImage(store: Store, name: string): Promise<Digest> {
  const full = imageNameOf(name).full;
  const removed = await store.refs.delete(full);
  if (!removed) throw new NotFoundError(`image ${name} not found in the store`);
  return removed.digest;
}
