import { Readable } from 'node:stream';
import { type Descriptor, DigestMismatchError } from '../oci/index.ts';
import { AbortedError } from '../util/index.ts';
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
  let position = options.offset ?? 0;
  if (position >= size && size > 0) return Readable.from([], { objectMode: false });
  const first = await get(position);
  async function* bytes(): AsyncGenerator<Buffer> {
    let res: RegistryResponse | undefined = first;
    let failures = 0;
    try {
      for (;;) {
        // A 200 to a ranged request restarts at 0: skip what we already passed on.
        let skip = res.status === 200 ? position : 0;
        if (res.status === 206) {
          const range = headerValue(res, 'content-range');
          const start = range ? Number(/^bytes (\d+)-/.exec(range)?.[1]) : position;
          if (start !== position) {
            await res.body.dump();
            throw new RegistryError(`${path}: server resumed at byte ${start}, wanted ${position}`);
          }
        }
        try {
          for await (const chunk of res.body as AsyncIterable<Buffer>) {
            let data = chunk;
            if (skip > 0) {
              if (data.length <= skip) {
                skip -= data.length;
                continue;
              }
              data = data.subarray(skip);
              skip = 0;
            }
            position += data.length;
            if (position > size)
              throw new DigestMismatchError({
                expected: descriptor.digest,
                expectedSize: size,
                actualSize: position,
                what: 'downloaded blob',
              });
            yield data;
          }
          if (position < size) throw new PrematureBodyEndError(position, size);
          return;
        } catch (error) {
          if (signal?.aborted) throw new AbortedError();
          if (!isNetworkError(error) || ++failures >= client.retryPolicy.attempts) {
            if (error instanceof PrematureBodyEndError || isNetworkError(error))
              throw new RegistryError(
                `fetching blob ${descriptor.digest}: connection lost at byte ${position} of ${size}`,
                {
                  cause: error,
                  temporary: true,
                },
              );
            throw error;
          }
          res.body.destroy();
          options.onRetry?.(`${describeCause(error)} at byte ${position}, resuming`);
          await sleep(backoffDelay(client.retryPolicy, failures), signal);
          res = await get(position);
        }
      }
    } finally {
      if (res && !res.body.destroyed) res.body.destroy();
    }
  }
  return Readable.from(bytes(), { objectMode: false, highWaterMark: 1 << 20 });
}
