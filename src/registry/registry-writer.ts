import { type Readable, Transform, type TransformCallback } from 'node:stream';
import type { Descriptor } from '../oci/index.ts';
import type { Reference } from '../reference/index.ts';
import {
  type BlobOpener,
  type BlobOrigin,
  type BlobWriteOptions,
  countedStream,
  type ImageWriter,
  linkStreams,
  type ManifestBlob,
} from '../transport/index.ts';
import { AbortedError } from '../util/index.ts';
import { describeCause, headerValue, type RegistryClient, type RegistryResponse } from './registry-client.ts';
import { RegistryError } from './registry-error.ts';
import { backoffDelay, isNetworkError, sleep } from './retry-policy.ts';

/** How {@link RegistryWriter} uploads blobs. */
export interface UploadOptions {
  /**
   * Blobs up to this size go in one PUT (monolithic); larger ones in PATCH chunks of this size
   * with `Content-Range`, which lets a failed upload resume at the last chunk the registry
   * acknowledged. Default 64 MiB.
   */
  readonly chunkSize?: number;
}

/** A stream cut to `length` bytes of `source` (which is destroyed once enough was read). */
function limitStream(source: Readable, length: number): Readable {
  let left = length;
  const cut = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      if (left <= 0) {
        cb();
        return;
      }
      const part = chunk.length <= left ? chunk : chunk.subarray(0, left);
      left -= part.length;
      this.push(part);
      if (left <= 0) {
        this.push(null);
        source.unpipe(cut);
        source.destroy();
      }
      cb();
    },
  });
  return linkStreams(source, cut);
}

/**
 * Writes images to a registry repository (distribution spec, "Pushing"): `HEAD` to skip blobs the
 * registry has, cross-repository mount (`POST …/uploads/?mount=<digest>&from=<repo>`) when the
 * source is another repository on the same registry, monolithic (`POST` + `PUT ?digest=`) or
 * chunked (`PATCH` with `Content-Range`, then `PUT ?digest=`) uploads that resume from the
 * registry's acknowledged offset after a fault, manifests by digest and the top one by tag.
 */
export class RegistryWriter implements ImageWriter {
  readonly name: string;
  readonly #client: RegistryClient;
  readonly #reference: Reference;
  readonly #chunkSize: number;

  constructor(client: RegistryClient, reference: Reference, options: UploadOptions = {}) {
    this.#client = client;
    this.#reference = reference;
    this.name = `docker://${reference.toString()}`;
    this.#chunkSize = Math.max(1 << 20, options.chunkSize ?? 64 << 20);
  }

  get #repository(): string {
    return this.#reference.path;
  }

  get #pushScope(): string {
    return `repository:${this.#repository}:pull,push`;
  }

  async hasBlob(descriptor: Descriptor, signal?: AbortSignal): Promise<boolean> {
    const res = await this.#client.send({
      method: 'HEAD',
      url: `/v2/${this.#repository}/blobs/${descriptor.digest}`,
      scopes: [this.#pushScope],
      expect: [200, 404],
      what: `checking blob ${descriptor.digest} in ${this.#client.host}/${this.#repository}`,
      ...(signal ? { signal } : {}),
    });
    await res.body.dump();
    if (res.status !== 200) return false;
    const length = Number(headerValue(res, 'content-length'));
    return !Number.isFinite(length) || length === descriptor.size;
  }

  async mountBlob(descriptor: Descriptor, from: BlobOrigin, signal?: AbortSignal): Promise<boolean> {
    if (from.host !== this.#client.host || from.repository === this.#repository) return false;
    const query = new URLSearchParams({ mount: descriptor.digest, from: from.repository });
    let res: RegistryResponse;
    try {
      res = await this.#client.send({
        method: 'POST',
        url: `/v2/${this.#repository}/blobs/uploads/?${query}`,
        scopes: [this.#pushScope, `repository:${from.repository}:pull`],
        headers: { 'content-length': '0' },
        expect: [201, 202],
        what: `mounting blob ${descriptor.digest} from ${from.repository}`,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      // No pull access to the source repository (or no such repository): upload instead.
      if (
        error instanceof RegistryError &&
        (error.status === 401 || error.status === 403 || error.status === 404)
      )
        return false;
      throw error;
    }
    await res.body.dump();
    if (res.status === 201) return true;
    // 202: the registry started an ordinary upload instead; abandon it (it expires) and upload.
    const location = headerValue(res, 'location');
    if (location) await this.#cancel(location, signal);
    return false;
  }

  async #cancel(location: string, signal?: AbortSignal): Promise<void> {
    try {
      const res = await this.#client.send({
        method: 'DELETE',
        url: location,
        scopes: [this.#pushScope],
        expect: [204, 404, 405],
        retry: false,
        what: 'cancelling an upload',
        ...(signal ? { signal } : {}),
      });
      await res.body.dump();
    } catch (error) {
      if (signal?.aborted) throw new AbortedError();
      void error; // best effort: an abandoned upload session expires on its own
    }
  }

  async #startUpload(signal?: AbortSignal): Promise<string> {
    const res = await this.#client.send({
      method: 'POST',
      url: `/v2/${this.#repository}/blobs/uploads/`,
      scopes: [this.#pushScope],
      headers: { 'content-length': '0' },
      expect: [202],
      what: `starting an upload to ${this.#client.host}/${this.#repository}`,
      ...(signal ? { signal } : {}),
    });
    await res.body.dump();
    return this.#location(res);
  }

  #location(res: RegistryResponse): string {
    const location = headerValue(res, 'location');
    if (!location) throw new RegistryError(`${this.#client.host}: upload response without a Location header`);
    return new URL(location, res.url).toString();
  }

  /**
   * Where an upload session stands: the next byte the registry expects and the Location to
   * continue at (it carries fresh upload state), or undefined when the session is gone.
   */
  async #uploadStatus(
    location: string,
    signal?: AbortSignal,
  ): Promise<{ offset: number; location: string } | undefined> {
    const res = await this.#client.send({
      method: 'GET',
      url: location,
      scopes: [this.#pushScope],
      expect: [204, 404],
      what: 'checking upload progress',
      ...(signal ? { signal } : {}),
    });
    await res.body.dump();
    if (res.status === 404) return undefined;
    const range = headerValue(res, 'range');
    const end = range ? Number(/^(?:bytes=)?0-(\d+)$/.exec(range)?.[1]) : Number.NaN;
    return {
      offset: Number.isFinite(end) ? end + 1 : 0,
      location: headerValue(res, 'location') ? this.#location(res) : location,
    };
  }

  async writeBlob(descriptor: Descriptor, open: BlobOpener, options: BlobWriteOptions): Promise<void> {
    const { signal } = options;
    const policy = this.#client.retryPolicy;
    let failures = 0;
    let totalFailures = 0;
    let location: string | undefined;
    let offset = 0;
    let resumed = false;
    const chunked = descriptor.size > this.#chunkSize;
    for (;;) {
      try {
        if (location === undefined) {
          location = await this.#startUpload(signal);
          offset = 0;
        }
        if (!chunked) {
          await this.#finish(location, descriptor, { open, offset: 0, options });
          return;
        }
        while (offset < descriptor.size) {
          const length = Math.min(this.#chunkSize, descriptor.size - offset);
          const start = offset;
          const res = await this.#client.send({
            method: 'PATCH',
            url: location,
            scopes: [this.#pushScope],
            headers: {
              'content-type': 'application/octet-stream',
              'content-length': String(length),
              'content-range': `${start}-${start + length - 1}`,
            },
            body: async () =>
              countedStream(limitStream(await open(start, signal), length), start, options.onProgress),
            expect: [202],
            retry: false,
            what: `uploading blob ${descriptor.digest} (bytes ${start}-${start + length - 1})`,
            ...(signal ? { signal } : {}),
          });
          await res.body.dump();
          location = this.#location(res);
          offset = start + length;
          failures = 0; // the budget counts failures in a row; progress renews it
        }
        await this.#finish(location, descriptor, { offset, options });
        return;
      } catch (error) {
        if (signal?.aborted) throw new AbortedError();
        const temporary = isNetworkError(error) || (error instanceof RegistryError && error.temporary);
        // After a resume the registry may judge the session broken (a dropped chunk left part of
        // its bytes behind): 400/416 then means "start this blob over", not "give up".
        const brokenResume =
          resumed && error instanceof RegistryError && (error.status === 400 || error.status === 416);
        totalFailures++;
        if (
          (!temporary && !brokenResume) ||
          ++failures >= policy.attempts ||
          totalFailures >= policy.attempts * 4
        )
          throw error;
        options.onRetry(`${describeFault(error)}, ${brokenResume ? 'restarting' : 'resuming'}`);
        await sleep(backoffDelay(policy, failures), signal);
        if (location !== undefined && chunked && !brokenResume) {
          // Resume where the registry says it is (distribution spec: GET the upload URL → Range).
          // A status check that fails too means the session is unusable: start the blob over.
          const status = await this.#uploadStatus(location, signal).catch(() => undefined);
          if (status === undefined) location = undefined;
          else {
            offset = status.offset;
            location = status.location;
            resumed = true;
          }
        } else {
          location = undefined; // start over: a monolithic upload, or a session that broke
          resumed = false;
        }
      }
    }
  }

  /** The closing PUT: with the whole body (monolithic) or empty (after chunks). */
  async #finish(
    location: string,
    descriptor: Descriptor,
    body: { open?: BlobOpener; offset: number; options: BlobWriteOptions },
  ): Promise<void> {
    const url = new URL(location);
    url.searchParams.set('digest', descriptor.digest);
    const { open, options } = body;
    const res = await this.#client.send({
      method: 'PUT',
      url: url.toString(),
      scopes: [this.#pushScope],
      headers: open
        ? { 'content-type': 'application/octet-stream', 'content-length': String(descriptor.size) }
        : { 'content-length': '0' },
      ...(open
        ? {
            body: async () => countedStream(await open(0, options.signal), 0, options.onProgress),
          }
        : {}),
      expect: [201, 204],
      retry: false,
      what: `uploading blob ${descriptor.digest}`,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    await res.body.dump();
    const returned = headerValue(res, 'docker-content-digest');
    if (returned && returned !== descriptor.digest)
      throw new RegistryError(`uploading blob ${descriptor.digest}: the registry stored it as ${returned}`);
  }

  async writeManifest(manifest: ManifestBlob, signal?: AbortSignal): Promise<void> {
    await this.#putManifest(manifest, manifest.descriptor.digest, signal);
  }

  async commit(top: ManifestBlob, signal?: AbortSignal): Promise<void> {
    if (this.#reference.tag !== undefined && this.#reference.digest === undefined)
      await this.#putManifest(top, this.#reference.tag, signal);
    else if (this.#reference.digest !== undefined && this.#reference.digest !== top.descriptor.digest)
      throw new RegistryError(
        `${this.name}: the reference names digest ${this.#reference.digest} but the image is ${top.descriptor.digest}`,
      );
  }

  async #putManifest(manifest: ManifestBlob, identifier: string, signal?: AbortSignal): Promise<void> {
    const res = await this.#client.send({
      method: 'PUT',
      url: `/v2/${this.#repository}/manifests/${identifier}`,
      scopes: [this.#pushScope],
      headers: { 'content-type': manifest.descriptor.mediaType },
      body: async () => manifest.raw,
      expect: [201, 202, 204],
      what: `putting manifest ${this.#client.host}/${this.#repository}:${identifier}`,
      ...(signal ? { signal } : {}),
    });
    await res.body.dump();
    const returned = headerValue(res, 'docker-content-digest');
    if (returned && returned !== manifest.descriptor.digest)
      throw new RegistryError(
        `putting manifest ${identifier}: the registry stored ${returned}, expected ${manifest.descriptor.digest}`,
      );
  }
}

function describeFault(error: unknown): string {
  if (error instanceof RegistryError && error.status !== undefined) return `${error.status}`;
  return describeCause(error instanceof RegistryError && error.cause ? error.cause : error);
}
