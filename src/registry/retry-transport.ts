import { AbortedError } from '../util/index.ts';
import { NoResponseError } from './http-transport.ts';
import { redactUrl } from './redact.ts';
import { isTemporaryStatus, RegistryError } from './registry-error.ts';
import {
  backoffDelay,
  isNetworkError,
  isRecoverableNetworkError,
  isUnreachableError,
  type RetryPolicy,
  retryAfterMs,
  sleep,
} from './retry-policy.ts';
import {
  describeCause,
  headerValue,
  type RegistryRequest,
  type RegistryResponse,
  type RegistryTransport,
} from './transport.ts';

/**
 * The outer layer of the registry transport (go-containerregistry's `retry.go`): sends a request
 * again after a temporary failure — a dropped or timed-out connection
 * ({@link NoResponseError}), or a 408, 429 or 5xx it did not expect — with jittered exponential
 * back-off, honouring `Retry-After`, up to the policy's attempts. A request with `retry: false`
 * is tried once. A refused connection or an unreachable or unknown host fails at once, naming the
 * host: retrying it only kept the terminal blank for ~7 s. What the layers below throw on purpose (a refused token, an abort) passes
 * through; a connection that never answered becomes a RegistryError naming the request.
 * Resuming a cut body (Range) is the caller's: `remote-blob.ts`, `registry-writer.ts`.
 */
export class RetryTransport implements RegistryTransport {
  readonly #inner: RegistryTransport;
  readonly #policy: RetryPolicy;

  constructor(inner: RegistryTransport, policy: RetryPolicy) {
    this.#inner = inner;
    this.#policy = policy;
  }

  async roundTrip(req: RegistryRequest): Promise<RegistryResponse> {
    const tries = req.retry === false ? 1 : this.#policy.attempts;
    for (let attempt = 1; ; attempt++) {
      if (req.signal?.aborted) throw new AbortedError();
      let res: RegistryResponse;
      try {
        res = await this.#inner.roundTrip(req);
      } catch (error) {
        if (!(error instanceof NoResponseError)) throw error;
        const recoverable = isRecoverableNetworkError(error.cause);
        if (!recoverable || attempt >= tries) throw noResponse(req, error);
        await this.#wait(req, { attempt, reason: describeCause(error.cause) });
        continue;
      }
      if (req.expect.includes(res.status) || !isTemporaryStatus(res.status) || attempt >= tries) return res;
      await res.body.dump();
      const after = retryAfterMs(headerValue(res, 'retry-after'), this.#policy);
      await this.#wait(req, { attempt, reason: `${res.status}`, ...(after === undefined ? {} : { after }) });
    }
  }

  async #wait(
    req: RegistryRequest,
    retry: { attempt: number; reason: string; after?: number },
  ): Promise<void> {
    const delayMs = retry.after ?? backoffDelay(this.#policy, retry.attempt);
    req.onRetry?.({ attempt: retry.attempt, delayMs, reason: retry.reason });
    await sleep(delayMs, req.signal);
  }
}

/** The error for a request nothing answered: names the host, and says what to check when nobody is there. */
function noResponse(req: RegistryRequest, error: NoResponseError): RegistryError {
  const message = `${req.what}: ${req.method} ${redactUrl(error.url)}`;
  if (!isUnreachableError(error.cause))
    return new RegistryError(message, { cause: error.cause, temporary: isNetworkError(error.cause) });
  const host = hostOf(error.url);
  return new RegistryError(message, {
    cause: error.cause,
    temporary: false,
    hint: `cannot reach the registry ${host}: check the host name and port in the image reference, that the registry is running, and the network or proxy settings`,
  });
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url; // not a URL: name it as it is
  }
}
