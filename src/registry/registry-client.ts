import type { Readable } from 'node:stream';
import { Agent, type Dispatcher, EnvHttpProxyAgent, interceptors, request } from 'undici';
import { AbortedError } from '../util/index.ts';
import type { CredentialProvider, RegistryCredentials } from './docker-config.ts';
import { isInsecureHost } from './insecure-hosts.ts';
import { redactUrl } from './redact.ts';
import { describeDiagnostics, isTemporaryStatus, parseDiagnostics, RegistryError } from './registry-error.ts';
import {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  isNetworkError,
  type RetryPolicy,
  retryAfterMs,
  sleep,
} from './retry-policy.ts';
import { defaultTrust } from './tls-trust.ts';
import { type AuthChallenge, parseWwwAuthenticate } from './www-authenticate.ts';

/** Options shared by every registry a {@link RegistryClient} talks to. */
export interface RegistryClientOptions {
  /** Where credentials come from (default: none, anonymous). */
  readonly credentials?: CredentialProvider;
  /** Hosts (`host[:port]`) allowed over plain HTTP or unverified TLS, besides loopback ones. */
  readonly insecureRegistries?: readonly string[];
  readonly retry?: Partial<RetryPolicy>;
  /** Connections per origin (default 8). */
  readonly connections?: number;
  readonly userAgent?: string;
  /** Extra CA certificates (PEM) to trust for registries. */
  readonly ca?: string | Buffer;
  /** Where `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` are read (default: process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

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

interface Token {
  readonly value: string;
  readonly expiresAt: number;
}

const TOKEN_BODY_LIMIT = 1 << 20;
const ERROR_BODY_LIMIT = 64 << 10;

/**
 * The HTTP side of one registry host: scheme choice (HTTPS, or plain HTTP only for loopback hosts
 * and `--insecure-registry` ones), authentication and retries. Auth follows the distribution
 * token spec: a request goes out anonymously (or with a cached token for its scopes); a 401's
 * `WWW-Authenticate` challenge says Bearer (token fetched from the realm with service and scopes,
 * with Basic credentials when known, cached per scope set until it expires, refetched on the next
 * 401) or Basic. Temporary failures (5xx, 429, dropped connections) are retried with jittered
 * exponential back-off, honouring `Retry-After`. Nothing here ever puts a credential into a
 * message: URLs are redacted and Authorization values never leave this class.
 */
export class RegistryClient {
  readonly host: string;
  readonly #options: RegistryClientOptions;
  readonly #policy: RetryPolicy;
  readonly #insecure: boolean;
  readonly #agent: Dispatcher;
  readonly #redirecting: Dispatcher;
  #base: Promise<string> | undefined;
  #challenge: AuthChallenge | undefined;
  readonly #tokens = new Map<string, Promise<Token>>();
  #credentials: Promise<RegistryCredentials | undefined> | undefined;

  constructor(host: string, options: RegistryClientOptions = {}) {
    this.host = host;
    this.#options = options;
    this.#policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.#insecure = isInsecureHost(host, options.insecureRegistries ?? []);
    // An explicit `ca` replaces the default trust, as it does for Node; an insecure host is not verified.
    const trust = options.ca ? { ca: options.ca } : this.#insecure ? {} : defaultTrust();
    const tls = { rejectUnauthorized: !this.#insecure, ...trust };
    const env = options.env ?? process.env;
    const httpProxy = env.HTTP_PROXY || env.http_proxy;
    const httpsProxy = env.HTTPS_PROXY || env.https_proxy;
    const noProxy = env.NO_PROXY || env.no_proxy;
    const pool = { connections: options.connections ?? 8, keepAliveTimeout: 30_000 };
    // Behind a corporate proxy, registries are reached through it (CONNECT), honouring NO_PROXY.
    this.#agent =
      httpProxy || httpsProxy
        ? new EnvHttpProxyAgent({
            ...pool,
            ...(httpProxy ? { httpProxy } : {}),
            ...(httpsProxy ? { httpsProxy } : {}),
            ...(noProxy ? { noProxy } : {}),
            requestTls: tls,
            proxyTls: defaultTrust(),
            connect: tls,
          })
        : new Agent({ ...pool, connect: tls });
    this.#redirecting = this.#agent.compose(interceptors.redirect({ maxRedirections: 5 }));
  }

  /** The retry policy in force (uploads use it for their own resume loop). */
  get retryPolicy(): RetryPolicy {
    return this.#policy;
  }

  /** True when plain HTTP / unverified TLS is allowed for this host. */
  get insecure(): boolean {
    return this.#insecure;
  }

  /** `https://host` or, for an insecure host that does not speak TLS, `http://host`. */
  baseUrl(signal?: AbortSignal): Promise<string> {
    this.#base ??= this.#probeScheme(signal);
    // A failed probe is forgotten so the next call probes again; this caller still sees it fail.
    this.#base.catch(() => {
      this.#base = undefined;
    });
    return this.#base;
  }

  async #probeScheme(signal?: AbortSignal): Promise<string> {
    const https = `https://${this.host}`;
    if (!this.#insecure) return https;
    // Docker's rule for insecure registries: try HTTPS without verification, fall back to HTTP.
    try {
      const res = await request(`${https}/v2/`, {
        dispatcher: this.#agent,
        method: 'GET',
        headersTimeout: 5000,
        ...(signal ? { signal } : {}),
      });
      await res.body.dump();
      return https;
    } catch (error) {
      if (signal?.aborted) throw new AbortedError();
      void error; // a TLS or connection failure here means "speaks plain HTTP"; the real request reports reachability
      return `http://${this.host}`;
    }
  }

  /** Resolves a registry path or an absolute URL (upload Locations may be relative or absolute). */
  async resolveUrl(url: string, signal?: AbortSignal): Promise<string> {
    const base = await this.baseUrl(signal);
    return new URL(url, `${base}/`).toString();
  }

  #getCredentials(): Promise<RegistryCredentials | undefined> {
    this.#credentials ??= this.#options.credentials?.get(this.host) ?? Promise.resolve(undefined);
    return this.#credentials;
  }

  /** True when credentials are known for this host (for hints). */
  async hasCredentials(): Promise<boolean> {
    return (await this.#getCredentials()) !== undefined;
  }

  /** The Authorization header for `scopes`, and the token cache entry it came from (to drop on a 401). */
  async #authorization(
    scopes: readonly string[],
    signal?: AbortSignal,
  ): Promise<{ header: string; token?: Promise<Token> } | undefined> {
    const challenge = this.#challenge;
    if (!challenge) return undefined;
    const credentials = await this.#getCredentials();
    if (challenge.scheme === 'basic') {
      if (!credentials?.username || credentials.password === undefined) return undefined;
      return {
        header: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`,
      };
    }
    if (challenge.scheme !== 'bearer') return undefined;
    if (credentials?.registryToken) return { header: `Bearer ${credentials.registryToken}` };
    const wanted = [
      ...new Set([...scopes, ...(challenge.params.scope ? [challenge.params.scope] : [])]),
    ].sort();
    const key = wanted.join(' ');
    let pending = this.#tokens.get(key);
    if (pending) {
      const cached = await pending.catch(() => undefined); // a failed token request: fetch anew
      if (!cached || cached.expiresAt <= Date.now()) pending = undefined;
    }
    if (!pending) {
      // Concurrent requests for the same scopes share one token request.
      pending = this.#fetchToken(challenge, wanted, credentials, signal);
      this.#tokens.set(key, pending);
      pending.catch(() => this.#tokens.delete(key));
    }
    return { header: `Bearer ${(await pending).value}`, token: pending };
  }

  async #fetchToken(
    challenge: AuthChallenge,
    scopes: readonly string[],
    credentials: RegistryCredentials | undefined,
    signal?: AbortSignal,
  ): Promise<Token> {
    const realm = challenge.params.realm;
    if (!realm) throw new RegistryError(`${this.host}: bearer challenge without a realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch (error) {
      throw new RegistryError(`${this.host}: invalid token realm`, { cause: error });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new RegistryError(`${this.host}: token realm must be http(s)`);
    // Credentials go over plain HTTP only to hosts allowed to be insecure.
    const mayUseCredentials =
      url.protocol === 'https:' || isInsecureHost(url.host, this.#options.insecureRegistries ?? []);
    const service = challenge.params.service;
    let res: Dispatcher.ResponseData;
    const common = { dispatcher: this.#agent, ...(signal ? { signal } : {}) };
    try {
      if (credentials?.identityToken && mayUseCredentials) {
        // OAuth2 refresh-token grant (distribution's token spec, "oauth.md").
        const form = new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: credentials.identityToken,
          client_id: 'strata',
          ...(service ? { service } : {}),
        });
        if (scopes.length > 0) form.set('scope', scopes.join(' '));
        res = await request(url, {
          ...common,
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': this.#userAgent() },
          body: form.toString(),
        });
      } else {
        if (service) url.searchParams.set('service', service);
        for (const scope of scopes) url.searchParams.append('scope', scope);
        const headers: Record<string, string> = { 'user-agent': this.#userAgent() };
        if (credentials?.username && credentials.password !== undefined && mayUseCredentials) {
          url.searchParams.set('account', credentials.username);
          headers.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
        }
        res = await request(url, { ...common, method: 'GET', headers });
      }
    } catch (error) {
      if (signal?.aborted) throw new AbortedError();
      throw new RegistryError(`${this.host}: requesting a token from ${redactUrl(url)}`, {
        cause: error,
        temporary: true,
      });
    }
    const body = await readLimited(res.body, TOKEN_BODY_LIMIT, `${this.host}: token response`);
    if (res.statusCode !== 200) {
      const diagnostics = parseDiagnostics(body.toString('utf8'));
      throw new RegistryError(
        `${this.host}: token request for ${scopes.join(' ') || 'no scope'}: ${describeDiagnostics(res.statusCode, diagnostics)}`,
        {
          status: res.statusCode,
          diagnostics,
          ...(res.statusCode === 401 || res.statusCode === 403
            ? {
                hint: credentials
                  ? `check the credentials for ${this.host} (strata login ${this.host})`
                  : `log in first: strata login ${this.host}`,
              }
            : {}),
        },
      );
    }
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch (error) {
      throw new RegistryError(`${this.host}: token response is not JSON`, { cause: error });
    }
    const value =
      typeof parsed.token === 'string' && parsed.token
        ? parsed.token
        : typeof parsed.access_token === 'string'
          ? parsed.access_token
          : '';
    if (!value) throw new RegistryError(`${this.host}: token response has no token`);
    // The spec's default lifetime is 60 s; refresh a little early.
    const lifetime = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : 60;
    const issued =
      typeof parsed.issued_at === 'string' && Number.isFinite(Date.parse(parsed.issued_at))
        ? Math.min(Date.now(), Date.parse(parsed.issued_at))
        : Date.now();
    return { value, expiresAt: issued + Math.max(1, lifetime - 10) * 1000 };
  }

  #userAgent(): string {
    return this.#options.userAgent ?? 'strata/0.1';
  }

  /**
   * Sends `req`, authenticating and retrying as described on the class, and resolves with a
   * response whose status is in `req.expect`. Any other status becomes a {@link RegistryError}
   * carrying the registry's diagnostics.
   */
  async send(req: RegistryRequest): Promise<RegistryResponse> {
    const { signal } = req;
    const retries = req.retry === false ? 1 : this.#policy.attempts;
    let authRetries = 0;
    let attempt = 0;
    for (;;) {
      attempt++;
      if (signal?.aborted) throw new AbortedError();
      const url = await this.resolveUrl(req.url, signal);
      const authorization = await this.#authorization(req.scopes, signal);
      const headers: Record<string, string> = { 'user-agent': this.#userAgent(), ...req.headers };
      if (authorization && sameOrigin(url, await this.baseUrl(signal)))
        headers.authorization = authorization.header;
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, {
          dispatcher: req.followRedirects ? this.#redirecting : this.#agent,
          method: req.method,
          headers,
          ...(req.body ? { body: await req.body() } : {}),
          ...(signal ? { signal } : {}),
          // An upload's answer comes after its whole body: allow slow links time to send it.
          headersTimeout: req.body ? 600_000 : 60_000,
          bodyTimeout: 120_000,
        });
      } catch (error) {
        if (signal?.aborted) throw new AbortedError();
        const network = isNetworkError(error);
        if (network && attempt < retries) {
          await this.#wait(req, attempt, undefined, describeCause(error));
          continue;
        }
        throw new RegistryError(`${req.what}: ${req.method} ${redactUrl(url)}`, {
          cause: error,
          temporary: network,
        });
      }
      const status = res.statusCode;
      if (status === 401 && authRetries < 2) {
        const header = res.headers['www-authenticate'];
        const challenges = parseWwwAuthenticate(Array.isArray(header) ? header.join(', ') : (header ?? ''));
        const chosen =
          challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
        await res.body.dump();
        if (chosen) {
          authRetries++;
          this.#challenge = chosen;
          // A 401 despite a token: it expired or lacks a scope. Drop that token (once, even when
          // several concurrent requests used it) so the retry fetches a fresh one.
          if (authorization?.token)
            for (const [key, value] of this.#tokens)
              if (value === authorization.token) this.#tokens.delete(key);
          const canAnswer = chosen.scheme === 'bearer' || (await this.hasCredentials());
          // Retry after first contact (nothing was sent), or once to refresh an expired token.
          if (canAnswer && (authorization === undefined || authRetries === 1)) {
            attempt--; // an auth round trip is not a failure
            continue;
          }
        }
        return this.#fail(req, url, status, '');
      }
      if (req.expect.includes(status)) {
        return { status, headers: res.headers, body: res.body, url };
      }
      // An unreadable or oversized error body leaves the status to speak for itself.
      const text = (
        await readLimited(res.body, ERROR_BODY_LIMIT, req.what).catch(() => Buffer.alloc(0))
      ).toString('utf8');
      if (req.retry !== false && isTemporaryStatus(status) && attempt < retries) {
        const after = retryAfterMs(headerValue({ headers: res.headers }, 'retry-after'), this.#policy);
        await this.#wait(req, attempt, after, `${status}`);
        continue;
      }
      return this.#fail(req, url, status, text);
    }
  }

  async #wait(
    req: RegistryRequest,
    attempt: number,
    after: number | undefined,
    reason: string,
  ): Promise<void> {
    const delayMs = after ?? backoffDelay(this.#policy, attempt);
    req.onRetry?.({ attempt, delayMs, reason });
    await sleep(delayMs, req.signal);
  }

  async #fail(req: RegistryRequest, url: string, status: number, text: string): Promise<never> {
    const diagnostics = parseDiagnostics(text);
    let hint: string | undefined;
    if (status === 401 || status === 403) {
      hint = (await this.hasCredentials())
        ? `check that your account may access this repository (strata login ${this.host})`
        : `log in first: strata login ${this.host}`;
    }
    throw new RegistryError(
      `${req.what}: ${req.method} ${redactUrl(url)}: ${describeDiagnostics(status, diagnostics)}`,
      {
        status,
        diagnostics,
        ...(hint ? { hint } : {}),
      },
    );
  }

  /** Closes the connections. */
  async close(): Promise<void> {
    await this.#agent.close();
  }
}

function sameOrigin(url: string, base: string): boolean {
  try {
    return new URL(url).origin === new URL(base).origin;
  } catch {
    return false; // an unparsable URL is never the registry's origin: no credentials for it
  }
}

/** A short, credential-free description of a network error: its code, or its message. */
export function describeCause(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? code : error.message;
  }
  return String(error);
}

/**
 * One {@link RegistryClient} per registry host, sharing options (credentials, insecure hosts,
 * retry policy). Create one per command; `close()` releases every connection.
 */
export class RegistryPool {
  readonly options: RegistryClientOptions;
  readonly #clients = new Map<string, RegistryClient>();

  constructor(options: RegistryClientOptions = {}) {
    this.options = options;
  }

  /** The client for `host` (`registry-1.docker.io`, `localhost:5000`). */
  client(host: string): RegistryClient {
    let client = this.#clients.get(host);
    if (!client) {
      client = new RegistryClient(host, this.options);
      this.#clients.set(host, client);
    }
    return client;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#clients.values()].map((c) => c.close()));
    this.#clients.clear();
  }
}
