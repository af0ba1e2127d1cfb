import {
  basicAuthorization,
  fetchToken,
  type Token,
  TokenCache,
  type TokenEndpoint,
} from './bearer-token.ts';
import type { CredentialProvider, RegistryCredentials } from './docker-config.ts';
import {
  type RegistryRequest,
  type RegistryResponse,
  type RegistryTransport,
  unexpectedStatus,
} from './transport.ts';
import { type AuthChallenge, parseWwwAuthenticate } from './www-authenticate.ts';

/** What {@link AuthTransport} needs besides the layer below it. */
export interface AuthTransportOptions {
  /** The registry host (`host[:port]`): whose credentials to use, and named in hints. */
  readonly host: string;
  /** Where credentials come from (default: none, anonymous). */
  readonly credentials?: CredentialProvider;
  /** Hosts to which credentials may go over plain HTTP, besides loopback ones. */
  readonly insecureRegistries?: readonly string[];
  /** The registry's own origin (`https://host`): Authorization is sent there and nowhere else. */
  readonly origin: (signal?: AbortSignal) => Promise<string>;
  /** Sends token requests (the HTTP layer's plain request). */
  readonly tokenEndpoint: TokenEndpoint;
}

/** An Authorization header and the cached token it carries (to drop when the registry refuses it). */
interface Authorization {
  readonly header: string;
  readonly token?: Promise<Token>;
}

/**
 * The auth layer of the registry transport (go-containerregistry's `bearer.go` and `basic.go` in
 * one, since the registry's first 401 decides which): a request goes out anonymously, or with the
 * answer to the challenge the registry gave before. A 401's `WWW-Authenticate` challenge says
 * Bearer (a token fetched from its realm for the request's scopes, {@link fetchToken}, cached per
 * scope set) or Basic; the request is sent again with the answer, and once more with a fresh token
 * when the registry refuses a cached one. Authorization goes only to the registry's own origin.
 */
export class AuthTransport implements RegistryTransport {
  readonly #inner: RegistryTransport;
  readonly #options: AuthTransportOptions;
  readonly #tokens = new TokenCache();
  #challenge: AuthChallenge | undefined;
  #credentials: Promise<RegistryCredentials | undefined> | undefined;

  constructor(inner: RegistryTransport, options: AuthTransportOptions) {
    this.#inner = inner;
    this.#options = options;
  }

  /** The host's credentials, asked of the provider once. */
  credentials(): Promise<RegistryCredentials | undefined> {
    this.#credentials ??= this.#options.credentials?.get(this.#options.host) ?? Promise.resolve(undefined);
    return this.#credentials;
  }

  /** True when credentials are known for this host (for hints). */
  async hasCredentials(): Promise<boolean> {
    return (await this.credentials()) !== undefined;
  }

  /**
   * Sends `req` with the authorization the last challenge asks for; answers at most two 401s with
   * a challenge (first contact, then one fresh token) and returns any later 401 as it came.
   */
  async roundTrip(req: RegistryRequest): Promise<RegistryResponse> {
    for (let answered = 0; ; ) {
      const authorization = await this.#authorization(req.scopes, req.signal);
      const res = await this.#inner.roundTrip(await this.#authorized(req, authorization));
      if (res.status !== 401 || answered >= 2) return res;
      const challenge = chooseChallenge(res);
      await res.body.dump();
      if (challenge) {
        answered++;
        this.#challenge = challenge;
        // A 401 despite a token: it expired or lacks a scope. Drop it so the retry fetches anew.
        if (authorization?.token) this.#tokens.drop(authorization.token);
        const canAnswer = challenge.scheme === 'bearer' || (await this.hasCredentials());
        // Retry after first contact (nothing was sent), or once to refresh an expired token.
        if (canAnswer && (authorization === undefined || answered === 1)) continue;
      }
      const { host } = this.#options;
      throw await unexpectedStatus(req, {
        status: 401,
        url: res.url,
        body: '',
        host,
        hasCredentials: () => this.hasCredentials(),
      });
    }
  }

  /** `req` with `authorization` when it goes to the registry's own origin. */
  async #authorized(
    req: RegistryRequest,
    authorization: Authorization | undefined,
  ): Promise<RegistryRequest> {
    if (!authorization || !sameOrigin(req.url, await this.#options.origin(req.signal))) return req;
    return { ...req, headers: { ...req.headers, authorization: authorization.header } };
  }

  /** The Authorization header the current challenge asks for `scopes`, if any can be made. */
  async #authorization(scopes: readonly string[], signal?: AbortSignal): Promise<Authorization | undefined> {
    const challenge = this.#challenge;
    if (!challenge) return undefined;
    const credentials = await this.credentials();
    if (challenge.scheme === 'basic') {
      if (!credentials?.username || credentials.password === undefined) return undefined;
      return { header: basicAuthorization(credentials.username, credentials.password) };
    }
    if (challenge.scheme !== 'bearer') return undefined;
    if (credentials?.registryToken) return { header: `Bearer ${credentials.registryToken}` };
    const wanted = [
      ...new Set([...scopes, ...(challenge.params.scope ? [challenge.params.scope] : [])]),
    ].sort();
    const { token, entry } = await this.#tokens.get(wanted, () =>
      fetchToken(challenge, wanted, {
        host: this.#options.host,
        credentials,
        insecureRegistries: this.#options.insecureRegistries ?? [],
        endpoint: this.#options.tokenEndpoint,
        ...(signal ? { signal } : {}),
      }),
    );
    return { header: `Bearer ${token.value}`, token: entry };
  }
}

/** The challenge of a 401 to answer: Bearer when offered, else Basic. */
function chooseChallenge(res: RegistryResponse): AuthChallenge | undefined {
  const header = res.headers['www-authenticate'];
  const challenges = parseWwwAuthenticate(Array.isArray(header) ? header.join(', ') : (header ?? ''));
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
}

function sameOrigin(url: string, base: string): boolean {
  try {
    return new URL(url).origin === new URL(base).origin;
  } catch {
    return false; // an unparsable URL is never the registry's origin: no credentials for it
  }
}
