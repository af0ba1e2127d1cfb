/**
 * Bearer tokens for the distribution token spec (distribution's `docs/spec/auth/token.md` and
 * `oauth.md`): fetched from the realm a `WWW-Authenticate: Bearer` challenge names, for a set of
 * scopes, and cached per scope set until they expire.
 */
import type { Readable } from 'node:stream';
import { AbortedError } from '../util/index.ts';
import type { RegistryCredentials } from './docker-config.ts';
import type { PlainRequest } from './http-transport.ts';
import { isInsecureHost } from './insecure-hosts.ts';
import { redactUrl } from './redact.ts';
import { describeDiagnostics, parseDiagnostics, RegistryError } from './registry-error.ts';
import { readLimited } from './transport.ts';
import type { AuthChallenge } from './www-authenticate.ts';

/** A bearer token and when to stop using it (ms since the epoch). */
export interface Token {
  readonly value: string;
  readonly expiresAt: number;
}

/** Sends a plain request to the token endpoint ({@link HttpTransport.request}). */
export type TokenEndpoint = (
  url: URL,
  init: PlainRequest,
) => Promise<{ readonly statusCode: number; readonly body: Readable }>;

/** Where and how {@link fetchToken} asks. */
export interface TokenRequestContext {
  /** The registry host, for messages and hints. */
  readonly host: string;
  readonly credentials: RegistryCredentials | undefined;
  /** Hosts to which credentials may go over plain HTTP, besides loopback ones. */
  readonly insecureRegistries: readonly string[];
  readonly endpoint: TokenEndpoint;
  readonly signal?: AbortSignal;
}

const TOKEN_BODY_LIMIT = 1 << 20;

/** `Basic base64(username:password)`. */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/**
 * Fetches a token for `scopes` from the realm of `challenge`: with an identity token, by the
 * OAuth2 refresh-token grant (POST); otherwise by GET, with Basic credentials when known. A
 * refusal becomes a RegistryError with the token server's diagnostics and a login hint.
 */
export async function fetchToken(
  challenge: AuthChallenge,
  scopes: readonly string[],
  context: TokenRequestContext,
): Promise<Token> {
  const { host } = context;
  const url = realmUrl(challenge, host);
  const res = await requestToken(url, { service: challenge.params.service, scopes }, context);
  const body = await readLimited(res.body, TOKEN_BODY_LIMIT, `${host}: token response`);
  if (res.statusCode !== 200) {
    const diagnostics = parseDiagnostics(body.toString('utf8'));
    const refused = res.statusCode === 401 || res.statusCode === 403;
    throw new RegistryError(
      `${host}: token request for ${scopes.join(' ') || 'no scope'}: ${describeDiagnostics(res.statusCode, diagnostics)}`,
      {
        status: res.statusCode,
        diagnostics,
        ...(refused
          ? {
              hint: context.credentials
                ? `check the credentials for ${host} (strata login ${host})`
                : `log in first: strata login ${host}`,
            }
          : {}),
      },
    );
  }
  return parseTokenResponse(body.toString('utf8'), host);
}

/** The challenge's realm as an http(s) URL. */
function realmUrl(challenge: AuthChallenge, host: string): URL {
  const realm = challenge.params.realm;
  if (!realm) throw new RegistryError(`${host}: bearer challenge without a realm`);
  let url: URL;
  try {
    url = new URL(realm);
  } catch (error) {
    throw new RegistryError(`${host}: invalid token realm`, { cause: error });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new RegistryError(`${host}: token realm must be http(s)`);
  return url;
}

/** Sends the token request; a network failure becomes a temporary RegistryError. */
async function requestToken(
  url: URL,
  wanted: { service: string | undefined; scopes: readonly string[] },
  context: TokenRequestContext,
): Promise<{ readonly statusCode: number; readonly body: Readable }> {
  const { credentials, signal } = context;
  // Credentials go over plain HTTP only to hosts allowed to be insecure.
  const mayUseCredentials = url.protocol === 'https:' || isInsecureHost(url.host, context.insecureRegistries);
  const { service, scopes } = wanted;
  let init: PlainRequest;
  if (credentials?.identityToken && mayUseCredentials) {
    // OAuth2 refresh-token grant (distribution's token spec, "oauth.md").
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: credentials.identityToken,
      client_id: 'strata',
      ...(service ? { service } : {}),
    });
    if (scopes.length > 0) form.set('scope', scopes.join(' '));
    init = {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    };
  } else {
    if (service) url.searchParams.set('service', service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const headers: Record<string, string> = {};
    if (credentials?.username && credentials.password !== undefined && mayUseCredentials) {
      url.searchParams.set('account', credentials.username);
      headers.authorization = basicAuthorization(credentials.username, credentials.password);
    }
    init = { method: 'GET', headers };
  }
  try {
    return await context.endpoint(url, { ...init, ...(signal ? { signal } : {}) });
  } catch (error) {
    if (signal?.aborted) throw new AbortedError();
    throw new RegistryError(`${context.host}: requesting a token from ${redactUrl(url)}`, {
      cause: error,
      temporary: true,
    });
  }
}

/**
 * A token server's answer (`{"token"|"access_token", "expires_in", "issued_at"}`) as a
 * {@link Token}. The spec's default lifetime is 60 s; the token is dropped 10 s early.
 */
export function parseTokenResponse(text: string, host: string, now = Date.now()): Token {
  let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch (error) {
    throw new RegistryError(`${host}: token response is not JSON`, { cause: error });
  }
  const value =
    typeof parsed.token === 'string' && parsed.token
      ? parsed.token
      : typeof parsed.access_token === 'string'
        ? parsed.access_token
        : '';
  if (!value) throw new RegistryError(`${host}: token response has no token`);
  const lifetime = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : 60;
  const issued =
    typeof parsed.issued_at === 'string' && Number.isFinite(Date.parse(parsed.issued_at))
      ? Math.min(now, Date.parse(parsed.issued_at))
      : now;
  return { value, expiresAt: issued + Math.max(1, lifetime - 10) * 1000 };
}

/**
 * Tokens by scope set. Concurrent requests for the same scopes share one token request; a failed
 * request or an expired token is fetched anew; a token the registry refused is dropped once, even
 * when several requests used it.
 */
export class TokenCache {
  readonly #tokens = new Map<string, Promise<Token>>();

  /**
   * The token for `scopes`, cached or fetched with `fetch`, and its cache entry (to
   * {@link TokenCache.drop} when the registry refuses it).
   */
  async get(
    scopes: readonly string[],
    fetch: () => Promise<Token>,
  ): Promise<{ readonly token: Token; readonly entry: Promise<Token> }> {
    const key = scopes.join(' ');
    let pending = this.#tokens.get(key);
    if (pending) {
      const cached = await pending.catch(() => undefined); // a failed token request: fetch anew
      if (!cached || cached.expiresAt <= Date.now()) pending = undefined;
    }
    if (!pending) {
      pending = fetch();
      this.#tokens.set(key, pending);
      pending.catch(() => this.#tokens.delete(key));
    }
    return { token: await pending, entry: pending };
  }

  /** Forgets `entry` wherever it is cached. */
  drop(entry: Promise<Token>): void {
    for (const [key, value] of this.#tokens) if (value === entry) this.#tokens.delete(key);
  }
}
