import { AuthTransport } from './auth-transport.ts';
import type { CredentialProvider } from './docker-config.ts';
import { HttpTransport } from './http-transport.ts';
import { isInsecureHost } from './insecure-hosts.ts';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry-policy.ts';
import { RetryTransport } from './retry-transport.ts';
import {
  type RegistryRequest,
  type RegistryResponse,
  type RegistryTransport,
  readLimited,
  unexpectedStatus,
} from './transport.ts';

export {
  describeCause,
  headerValue,
  type RegistryRequest,
  type RegistryResponse,
  type RetryListener,
  readLimited,
} from './transport.ts';

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

const ERROR_BODY_LIMIT = 64 << 10;

/**
 * The HTTP side of one registry host, composed as go-containerregistry's transport is:
 * `retry(auth(http))`. {@link HttpTransport} owns the connections (TLS trust, proxy, scheme:
 * HTTPS, or plain HTTP only for loopback and `--insecure-registry` hosts, redirects);
 * {@link AuthTransport} answers the registry's `WWW-Authenticate` challenges (bearer tokens per
 * scope set from the distribution token spec, or Basic); {@link RetryTransport} retries temporary
 * failures (5xx, 429, dropped connections) with jittered exponential back-off, honouring
 * `Retry-After`. The client resolves the URL, sends the request down the layers and judges the
 * final status. Nothing here ever puts a credential into a message: URLs are redacted and
 * Authorization values never leave the auth layer.
 */
export class RegistryClient {
  readonly host: string;
  readonly #policy: RetryPolicy;
  readonly #http: HttpTransport;
  readonly #auth: AuthTransport;
  readonly #transport: RegistryTransport;

  constructor(host: string, options: RegistryClientOptions = {}) {
    this.host = host;
    this.#policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    const insecureRegistries = options.insecureRegistries ?? [];
    this.#http = new HttpTransport(host, {
      insecure: isInsecureHost(host, insecureRegistries),
      ...(options.connections !== undefined ? { connections: options.connections } : {}),
      ...(options.userAgent !== undefined ? { userAgent: options.userAgent } : {}),
      ...(options.ca ? { ca: options.ca } : {}),
      ...(options.env ? { env: options.env } : {}),
    });
    this.#auth = new AuthTransport(this.#http, {
      host,
      ...(options.credentials ? { credentials: options.credentials } : {}),
      insecureRegistries,
      origin: (signal) => this.#http.baseUrl(signal),
      tokenEndpoint: (url, init) => this.#http.request(url, init),
    });
    this.#transport = new RetryTransport(this.#auth, this.#policy);
  }

  /** The retry policy in force (uploads use it for their own resume loop). */
  get retryPolicy(): RetryPolicy {
    return this.#policy;
  }

  /** True when plain HTTP / unverified TLS is allowed for this host. */
  get insecure(): boolean {
    return this.#http.insecure;
  }

  /** `https://host` or, for an insecure host that does not speak TLS, `http://host`. */
  baseUrl(signal?: AbortSignal): Promise<string> {
    return this.#http.baseUrl(signal);
  }

  /** Resolves a registry path or an absolute URL (upload Locations may be relative or absolute). */
  resolveUrl(url: string, signal?: AbortSignal): Promise<string> {
    return this.#http.resolveUrl(url, signal);
  }

  /** True when credentials are known for this host (for hints). */
  hasCredentials(): Promise<boolean> {
    return this.#auth.hasCredentials();
  }

  /**
   * Sends `req`, authenticating and retrying as described on the class, and resolves with a
   * response whose status is in `req.expect`. Any other status becomes a {@link RegistryError}
   * carrying the registry's diagnostics.
   */
  async send(req: RegistryRequest): Promise<RegistryResponse> {
    const url = await this.resolveUrl(req.url, req.signal);
    const res = await this.#transport.roundTrip({ ...req, url });
    if (req.expect.includes(res.status)) return res;
    // An unreadable or oversized error body leaves the status to speak for itself.
    const body = (
      await readLimited(res.body, ERROR_BODY_LIMIT, req.what).catch(() => Buffer.alloc(0))
    ).toString('utf8');
    const { host } = this;
    throw await unexpectedStatus(req, {
      status: res.status,
      url,
      body,
      host,
      hasCredentials: () => this.hasCredentials(),
    });
  }

  /** Closes the connections. */
  async close(): Promise<void> {
    await this.#http.close();
  }
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
