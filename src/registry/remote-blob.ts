import { Readable } from 'node:stream';
import { type Descriptor, DigestMismatchError } from '../oci/index.ts';
import { describeCause, headerValue, type RegistryClient, type RegistryResponse } from './registry-client.ts';
import { RegistryError } from './registry-error.ts';
import { backoffDelay, isNetworkError, sleep } from './retry-policy.ts';

/** Options of {@link openRemoteBlob}. */
export interface RemoteBlobOptions {
  /** Start at this byte (a resumed download). */
  readonly offset?: number;
  /** Called before each resume with the (redacted) reason. */
  readonly onRetry?: (reason: string) => void;
  readonly signal?: AbortSignal;
}

/** Thrown inside the stream when the body ends before `size` bytes. */
class PrematureBodyEndError extends Error {
  constructor(got: number, size: number) {
    super(`body ended after ${got} of ${size} bytes`);
    this.name = 'PrematureBodyEndError';
  }
}

/**
 * Opens a blob of `repository` for reading, following redirects to blob storage (without the
 * registry's Authorization on another host). The first request happens before this resolves
 * (so a 404 or 401 rejects here); afterwards, when the connection drops or the body ends early,
 * the stream resumes with `Range: bytes=<received>-` (or skips what it already has when the
 * server ignores Range) and continues — the consumer sees one uninterrupted byte stream.
 * More bytes than the descriptor's size is an error. Digest verification is the consumer's job
 * (the store's ingest does it).
 */
export async function openRemoteBlob(
  client: RegistryClient,
  repository: string,
  descriptor: Descriptor,
  options: RemoteBlobOptions = {},
): Promise<Readable> {
  const { signal } = options;
  const path = `/v2/${repository}/blobs/${descriptor.digest}`;
  const size = descriptor.size;
  const get = (from: number): Promise<RegistryResponse> =>
    client.send({
      method: 'GET',
      url: path,
      scopes: [`repository:${repository}:pull`],
      headers: from > 0 ? { range: `bytes=${from}-` } : {},
      expect: [200, 206],
      followRedirects: true,
      what: `fetching blob ${descriptor.digest} of ${client.host}/${repository}`,
      ...(options.onRetry ? { onRetry: (i) => options.onRetry?.(i.reason) } : {}),
      ...(signal ? { signal } : {}),
    });
  const position = options.offset ?? 0;
  if (position >= size && size > 0) return Readable.from([], { objectMode: false });
  const first = await get(position);
  return new ResumableBlobStream({ first, position, descriptor, client, get, options });
}

/**
 * The stream behind {@link openRemoteBlob}: forwards the response body with backpressure, and on
 * a network fault or an early end fetches the rest with a Range request and carries on.
 */
class ResumableBlobStream extends Readable {
  #res: RegistryResponse;
  #position: number;
  #skip = 0;
  #failures = 0;
  #resuming = false;
  readonly #descriptor: Descriptor;
  readonly #client: RegistryClient;
  readonly #get: (from: number) => Promise<RegistryResponse>;
  readonly #options: RemoteBlobOptions;

  constructor(init: {
    first: RegistryResponse;
    position: number;
    descriptor: Descriptor;
    client: RegistryClient;
    get: (from: number) => Promise<RegistryResponse>;
    options: RemoteBlobOptions;
  }) {
    super({ highWaterMark: 1 << 20 });
    this.#res = init.first;
    this.#position = init.position;
    this.#descriptor = init.descriptor;
    this.#client = init.client;
    this.#get = init.get;
    this.#options = init.options;
    // Until a consumer reads, nothing flows: the first response is attached on the first _read.
    this.#res.body.on('error', () => undefined); // reported through the listener #attach adds
    // A fault can end this stream before the caller has piped it anywhere (an abort arriving
    // between open and pipe). The error must not crash the process then; the consumer still sees
    // a destroyed stream and fails.
    this.on('error', () => undefined);
  }

  #started = false;

  #attach(res: RegistryResponse): void {
    this.#res = res;
    // A 200 to a ranged request restarts at 0: skip what was already passed on.
    this.#skip = res.status === 200 ? this.#position : 0;
    if (res.status === 206) {
      const range = headerValue(res, 'content-range');
      const start = range ? Number(/^bytes (\d+)-/.exec(range)?.[1]) : this.#position;
      if (start !== this.#position) {
        res.body.destroy();
        this.destroy(
          new RegistryError(
            `fetching blob ${this.#descriptor.digest}: server resumed at byte ${start}, wanted ${this.#position}`,
          ),
        );
        return;
      }
    }
    const body = res.body;
    body.on('data', (chunk: Buffer) => {
      if (res !== this.#res) return;
      let data = chunk;
      if (this.#skip > 0) {
        if (data.length <= this.#skip) {
          this.#skip -= data.length;
          return;
        }
        data = data.subarray(this.#skip);
        this.#skip = 0;
      }
      this.#position += data.length;
      this.#failures = 0; // the retry budget counts faults in a row; progress renews it
      if (this.#position > this.#descriptor.size) {
        body.destroy();
        this.destroy(
          new DigestMismatchError({
            expected: this.#descriptor.digest,
            expectedSize: this.#descriptor.size,
            actualSize: this.#position,
            what: 'downloaded blob',
          }),
        );
        return;
      }
      if (!this.push(data)) body.pause();
    });
    body.on('end', () => {
      if (res !== this.#res) return;
      if (this.#position < this.#descriptor.size)
        this.#fault(new PrematureBodyEndError(this.#position, this.#descriptor.size));
      else this.push(null);
    });
    body.on('error', (error: Error) => {
      if (res !== this.#res) return;
      this.#fault(error);
    });
  }

  #fault(error: unknown): void {
    if (this.#resuming || this.destroyed) return;
    const { signal } = this.#options;
    if (signal?.aborted) {
      // The consumer was handed the same signal and reports the abort itself; an error here
      // would only race with its teardown.
      this.destroy();
      return;
    }
    const attempts = this.#client.retryPolicy.attempts;
    if (!isNetworkError(error) || ++this.#failures >= attempts) {
      this.destroy(
        error instanceof PrematureBodyEndError || isNetworkError(error)
          ? new RegistryError(
              `fetching blob ${this.#descriptor.digest}: connection lost at byte ${this.#position} of ${this.#descriptor.size}`,
              { cause: error, temporary: true },
            )
          : (error as Error),
      );
      return;
    }
    this.#resuming = true;
    this.#res.body.destroy();
    this.#options.onRetry?.(`${describeCause(error)} at byte ${this.#position}, resuming`);
    sleep(backoffDelay(this.#client.retryPolicy, this.#failures), signal)
      .then(() => this.#get(this.#position))
      .then(
        (res) => {
          this.#resuming = false;
          if (this.destroyed) {
            res.body.destroy();
            return;
          }
          this.#attach(res);
        },
        (failure: unknown) => {
          this.#resuming = false;
          this.destroy(failure as Error);
        },
      );
  }

  override _read(): void {
    if (!this.#started) {
      this.#started = true;
      this.#attach(this.#res);
    } else if (!this.#resuming) this.#res.body.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#res.body.destroyed) this.#res.body.destroy();
    callback(error);
  }
}
