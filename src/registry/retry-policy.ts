import { AbortedError } from '../util/index.ts';

/** How often and how patiently a request is retried after a temporary failure. */
export interface RetryPolicy {
  /** Tries in total, the first one included (default 6). */
  readonly attempts: number;
  /** Delay before the first retry, doubled each time, with ±50% jitter (default 250 ms). */
  readonly minDelayMs: number;
  /** Cap on one delay, and on a server's `Retry-After` (default 15 s). */
  readonly maxDelayMs: number;
}

/** The default policy: 6 tries over ~8 s of back-off (more with `Retry-After`). */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 6, minDelayMs: 250, maxDelayMs: 15_000 };

/** The delay before retry number `retry` (1-based), jittered. */
export function backoffDelay(policy: RetryPolicy, retry: number): number {
  const base = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** (retry - 1));
  return Math.round(base * (0.5 + Math.random() / 2));
}

/** `Retry-After` (seconds or an HTTP date) in ms, capped by the policy; undefined when absent or invalid. */
export function retryAfterMs(header: string | undefined, policy: RetryPolicy): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(policy.maxDelayMs, Math.max(0, ms));
}

/** Waits `ms`, or rejects with AbortedError when `signal` fires first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortedError());
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/**
 * Network failures that say nobody is there, or no way leads there: a refused connection, an
 * unreachable host or network, an unknown host name. Retrying them only makes the user wait
 * (6 tries took ~7 s of a blank terminal); a dropped connection, a timeout, a truncated body or
 * a temporary DNS failure (EAI_AGAIN) can recover and is retried.
 */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ENOTFOUND']);

/** True for a dropped or refused connection, a timeout or a truncated body. */
export function isNetworkError(error: unknown): boolean {
  return networkErrorCode(error) !== undefined;
}

/**
 * True for a network error worth retrying: a dropped connection, a timeout, a truncated body,
 * EAI_AGAIN — not a refused connection or an unreachable host ({@link isUnreachableError}).
 */
export function isRecoverableNetworkError(error: unknown): boolean {
  const code = networkErrorCode(error);
  return code !== undefined && !UNREACHABLE_CODES.has(code);
}

/** True when the registry's host refused the connection, cannot be reached, or has no address. */
export function isUnreachableError(error: unknown): boolean {
  const code = errorCodes(error).find((c) => UNREACHABLE_CODES.has(c));
  return code !== undefined;
}

/** The first network error code in `error`'s cause chain (`premature-body-end` for a cut body). */
function networkErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    if (current.name === 'PrematureBodyEndError') return 'premature-body-end';
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The string `code`s along `error`'s cause chain. */
function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    current = (current as { cause?: unknown }).cause;
  }
  return codes;
}
