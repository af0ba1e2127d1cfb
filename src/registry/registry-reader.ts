import type { Readable } from 'node:stream';
import {
  type Descriptor,
  DigestMismatchError,
  digestOf,
  MANIFEST_LIMIT,
  MediaTypes,
  parseDigest,
} from '../oci/index.ts';
import type { Reference } from '../reference/index.ts';
import type { BlobOrigin, ImageReader, ManifestBlob } from '../transport/index.ts';
import { manifestMediaType } from '../transport/index.ts';
import { headerValue, type RegistryClient, readLimited } from './registry-client.ts';
import { RegistryError } from './registry-error.ts';
import { openRemoteBlob } from './remote-blob.ts';

/** Every manifest type strata reads, in the Accept header of manifest requests. */
export const MANIFEST_ACCEPT = [
  MediaTypes.ociIndex,
  MediaTypes.ociManifest,
  MediaTypes.dockerManifestList,
  MediaTypes.dockerManifest,
].join(', ');

/**
 * Reads images from a registry repository: manifests by tag or digest (verified: a digest
 * reference must match the bytes, and a tag's bytes must match `Docker-Content-Digest` when the
 * registry sends one), blobs as resumable streams.
 */
export class RegistryReader implements ImageReader {
  readonly name: string;
  readonly origin: BlobOrigin;
  readonly #client: RegistryClient;
  readonly #reference: Reference;

  constructor(client: RegistryClient, reference: Reference) {
    this.#client = client;
    this.#reference = reference;
    this.name = `docker://${reference.toString()}`;
    this.origin = { host: client.host, repository: reference.path };
  }

  async resolve(signal?: AbortSignal): Promise<ManifestBlob> {
    return this.fetchManifest(this.#reference.identifier(), signal);
  }

  async readManifest(descriptor: Descriptor, signal?: AbortSignal): Promise<Uint8Array> {
    const blob = await this.fetchManifest(descriptor.digest, signal);
    return blob.raw;
  }

  /** GETs `/v2/<repo>/manifests/<tag|digest>` and verifies it. */
  async fetchManifest(identifier: string, signal?: AbortSignal): Promise<ManifestBlob> {
    const repository = this.#reference.path;
    const what = `fetching manifest ${this.#reference.repository()}:${identifier}`;
    const res = await this.#client.send({
      method: 'GET',
      url: `/v2/${repository}/manifests/${identifier}`,
      scopes: [`repository:${repository}:pull`],
      headers: { accept: MANIFEST_ACCEPT },
      expect: [200],
      what,
      ...(signal ? { signal } : {}),
    });
    const raw = await readLimited(res.body, MANIFEST_LIMIT, what);
    const digest = digestOf(raw);
    if (identifier.includes(':')) {
      const expected = parseDigest(identifier);
      if (expected !== digest) throw new DigestMismatchError({ expected, actual: digest, what: 'manifest' });
    } else {
      const header = headerValue(res, 'docker-content-digest');
      if (header?.startsWith('sha256:') && header !== digest)
        throw new DigestMismatchError({
          expected: parseDigest(header),
          actual: digest,
          what: `manifest ${what}`,
        });
    }
    const contentType = headerValue(res, 'content-type')?.split(';')[0]?.trim();
    let mediaType: string;
    try {
      mediaType = manifestMediaType(raw, contentType);
    } catch (error) {
      throw new RegistryError(`${what}: not an image manifest or index`, { cause: error });
    }
    return { raw, descriptor: { mediaType, digest, size: raw.length } };
  }

  async openBlob(
    descriptor: Descriptor,
    options: { offset?: number; signal?: AbortSignal; onRetry?: (reason: string) => void } = {},
  ): Promise<Readable> {
    return openRemoteBlob(this.#client, this.#reference.path, descriptor, options);
  }

  /** Reads a small blob (a config) whole, verified. */
  async readBlob(descriptor: Descriptor, signal?: AbortSignal): Promise<Buffer> {
    const stream = await this.openBlob(descriptor, signal ? { signal } : {});
    const data = await readLimited(
      stream,
      Math.max(descriptor.size, 1),
      `fetching blob ${descriptor.digest}`,
    );
    const actual = digestOf(data);
    if (actual !== descriptor.digest)
      throw new DigestMismatchError({ expected: descriptor.digest, actual, what: 'blob' });
    return data;
  }
}
