import { setMaxListeners } from 'node:events';
import { Agent, type Dispatcher, EnvHttpProxyAgent, interceptors, request } from 'undici';
import { AbortedError } from '../util/index.ts';
import { redactUrl } from './redact.ts';
import { defaultTrust } from './tls-trust.ts';
import type { RegistryRequest, RegistryResponse, RegistryTransport } from './transport.ts';

/** How {@link HttpTransport} connects. */
export interface HttpTransportOptions {
  /** Plain HTTP and unverified TLS allowed (a loopback or `--insecure-registry` host). */
  readonly insecure: boolean;
  /** Connections per origin (default 8). */
  readonly connections?: number;
  readonly userAgent?: string;
  /** Extra CA certificates (PEM) to trust; replaces the default trust, as it does for Node. */
  readonly ca?: string | Buffer;
  /** Where `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` are read (default: process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

/** What a plain request on the transport's connections takes (a token endpoint's). */
export interface PlainRequest {
  readonly method: 'GET' | 'POST';
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly signal?: AbortSignal;
}

/**
 * A request that got no response: the connection was refused, dropped or timed out, or the body
 * could not be made. `cause` is what undici (or the body's opener) threw; `url` is where it went.
 * The retry layer retries it or turns it into a {@link RegistryError} naming the request.
 */
export class NoResponseError extends Error {
  readonly url: string;

  constructor(url: string, cause: unknown) {
    super(`no response from ${redactUrl(url)}`, { cause });
    this.name = 'NoResponseError';
    this.url = url;
  }
}

/**
 * The bottom layer of the registry transport: undici's connection pool for one registry host,
 * with its TLS trust and proxy, the scheme choice (go-containerregistry's `schemer.go`: HTTPS, or
 * plain HTTP only for an insecure host that does not speak TLS), redirects when asked, the
 * User-Agent and the timeouts. It adds no credentials and retries nothing.
 */
export class HttpTransport implements RegistryTransport {
  readonly host: string;
  readonly insecure: boolean;
  readonly #userAgent: string;
  readonly #agent: Dispatcher;
  readonly #redirecting: Dispatcher;
  #base: Promise<string> | undefined;

  constructor(host: string, options: HttpTransportOptions) {
    this.host = host;
    this.insecure = options.insecure;
    this.#userAgent = options.userAgent ?? 'strata/0.1';
    this.#agent = connectionPool(options);
    this.#redirecting = this.#agent.compose(interceptors.redirect({ maxRedirections: 5 }));
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
    if (!this.insecure) return https;
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

  /**
   * Sends `req` (its `url` absolute) once, with the User-Agent and the caller's headers; rejects
   * with {@link NoResponseError} when no response comes, or AbortedError when `req.signal` fired.
   */
  async roundTrip(req: RegistryRequest): Promise<RegistryResponse> {
    const { signal } = req;
    try {
      const res = await untilAborted(
        request(req.url, {
          dispatcher: req.followRedirects ? this.#redirecting : this.#agent,
          method: req.method,
          headers: { 'user-agent': this.#userAgent, ...req.headers },
          ...(req.body ? { body: await req.body() } : {}),
          ...(signal ? { signal } : {}),
          // An upload's answer comes after its whole body: allow slow links time to send it.
          headersTimeout: req.body ? 600_000 : 60_000,
          bodyTimeout: 120_000,
        }),
        signal,
      );
      return { status: res.statusCode, headers: res.headers, body: res.body, url: req.url };
    } catch (error) {
      if (signal?.aborted) throw new AbortedError();
      throw new NoResponseError(req.url, error);
    }
  }

  /**
   * A plain request on the same connections, with undici's default timeouts and no redirects, for
   * a host other than the registry (a token endpoint). Errors are undici's, unwrapped.
   */
  request(url: URL, init: PlainRequest): Promise<Dispatcher.ResponseData> {
    return request(url, {
      dispatcher: this.#agent,
      method: init.method,
      headers: { 'user-agent': this.#userAgent, ...init.headers },
      ...(init.body !== undefined ? { body: init.body } : {}),
      ...(init.signal ? { signal: init.signal } : {}),
    });
  }

  /**
   * Closes the connections. A request still under way is one its caller gave up on (an abort
   * that undici had not noticed yet: a TLS handshake with a host that never answers waits for
   * the connect timeout); it is destroyed, not waited for, so the process can exit.
   */
  async close(): Promise<void> {
    await this.#agent.destroy();
  }
}

/**
 * `promise`, or AbortedError as soon as `signal` fires: undici takes an abort only at its next
 * step, and a connection stuck in a TLS handshake has none until the connect timeout (10 s).
 */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(new AbortedError());
  }
  // One build's signal is shared by every request it makes, dozens at once on a big pull: each
  // adds a listener here and one in undici until it ends. Not a leak, so no warning for it.
  setMaxListeners(0, signal);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => undefined); // settles later, with nobody waiting
      reject(new AbortedError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * undici's pool for one host: TLS verified with the default trust (or `ca`), not at all for an
 * insecure host; behind a proxy (`HTTPS_PROXY`/`HTTP_PROXY`), registries are reached through it
 * (CONNECT), honouring `NO_PROXY`.
 */
function connectionPool(options: HttpTransportOptions): Dispatcher {
  // An explicit `ca` replaces the default trust, as it does for Node; an insecure host is not verified.
  const trust = options.ca ? { ca: options.ca } : options.insecure ? {} : defaultTrust();
  const tls = { rejectUnauthorized: !options.insecure, ...trust };
  const env = options.env ?? process.env;
  const httpProxy = env.HTTP_PROXY || env.http_proxy;
  const httpsProxy = env.HTTPS_PROXY || env.https_proxy;
  const noProxy = env.NO_PROXY || env.no_proxy;
  const pool = { connections: options.connections ?? 8, keepAliveTimeout: 30_000 };
  if (!httpProxy && !httpsProxy) return new Agent({ ...pool, connect: tls });
  return new EnvHttpProxyAgent({
    ...pool,
    ...(httpProxy ? { httpProxy } : {}),
    ...(httpsProxy ? { httpsProxy } : {}),
    ...(noProxy ? { noProxy } : {}),
    requestTls: tls,
    proxyTls: defaultTrust(),
    connect: tls,
  });
}
