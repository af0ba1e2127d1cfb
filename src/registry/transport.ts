/**
 * The vocabulary the layers of {@link RegistryClient}'s transport share, after
 * go-containerregistry's `remote/transport`, where each concern is an `http.RoundTripper` wrapping
 * the next: `retry(auth(http))`. A layer takes a {@link RegistryRequest} whose `url` is already
 * absolute, and either answers it or hands it to the layer below.
 */
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { redactUrl } from './redact.ts';
import { describeDiagnostics, parseDiagnostics, RegistryError } from './registry-error.ts';

/** Called before a retry, so progress can show it; `reason` is already redacted. */
export type RetryListener = (info: {
  readonly attempt: number;
  readonly delayMs: number;
  readonly reason: string;
}) => void;

/** One HTTP exchange with a registry. */
export interface RegistryRequest {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** A path below the registry (`/v2/…`) or an absolute URL (an upload `Location`). */
  readonly url: string;
  /** Token scopes the request needs, e.g. `repository:library/alpine:pull`. */
  readonly scopes: readonly string[];
  readonly headers?: Readonly<Record<string, string>>;
  /** Makes the body afresh for each try (a stream cannot be replayed). */
  readonly body?: () => Promise<Readable | Uint8Array | string>;
  /** Statuses that count as success; any other becomes a {@link RegistryError}. */
  readonly expect: readonly number[];
  /** Follow redirects (blob GETs to storage); Authorization is dropped when the host changes. */
  readonly followRedirects?: boolean;
  /** Retry temporary failures (default true). Uploads that track offsets themselves pass false. */
  readonly retry?: boolean;
  /** What this request does, for error messages: `fetching manifest alpine:3`. */
  readonly what: string;
  readonly onRetry?: RetryListener;
  readonly signal?: AbortSignal;
}

/** A registry's answer with an unread body; the caller must consume or dump it. */
export interface RegistryResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Dispatcher.ResponseData['body'];
  readonly url: string;
}

/**
 * One layer of the registry transport (go-containerregistry's `http.RoundTripper`): sends `req`,
 * whose `url` is absolute, and resolves with the response, whatever its status. Statuses are
 * judged by the layer that owns them (a 401 by auth, a 503 by retry, the rest by the client).
 */
export interface RegistryTransport {
  roundTrip(req: RegistryRequest): Promise<RegistryResponse>;
}

/** The first value of a header. */
export function headerValue(res: Pick<RegistryResponse, 'headers'>, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Reads a response body as bytes, refusing more than `limit` bytes (manifests, tokens, errors). */
export async function readLimited(
  body: Readable | AsyncIterable<Uint8Array>,
  limit: number,
  what: string,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      (body as Readable).destroy?.();
      throw new RegistryError(`${what}: response larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** A short, credential-free description of a network error: its code, or its message. */
export function describeCause(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? code : error.message;
  }
  return String(error);
}

/** What {@link unexpectedStatus} needs to know besides the request. */
export interface UnexpectedStatus {
  readonly status: number;
  /** The resolved URL the request went to (redacted in the message). */
  readonly url: string;
  /** The error body (distribution's `{"errors":[…]}`), or '' when unread. */
  readonly body: string;
  /** The registry host, for the login hint. */
  readonly host: string;
  /** Whether credentials are known for the host (asked only for 401 and 403: the hint differs). */
  readonly hasCredentials: () => Promise<boolean>;
}

/**
 * The error for a response `req` did not expect: `<what>: <METHOD> <url>: <status> <diagnostics>`,
 * with a hint to log in (or to check the account) for 401 and 403.
 */
export async function unexpectedStatus(
  req: RegistryRequest,
  answer: UnexpectedStatus,
): Promise<RegistryError> {
  const { status, host } = answer;
  const diagnostics = parseDiagnostics(answer.body);
  let hint: string | undefined;
  if (status === 401 || status === 403) {
    hint = (await answer.hasCredentials())
      ? `check that your account may access this repository (strata login ${host})`
      : `log in first: strata login ${host}`;
  }
  return new RegistryError(
    `${req.what}: ${req.method} ${redactUrl(answer.url)}: ${describeDiagnostics(status, diagnostics)}`,
    { status, diagnostics, ...(hint ? { hint } : {}) },
  );
}
