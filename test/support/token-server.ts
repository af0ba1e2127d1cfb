/**
 * Test helper: a tiny token server for Distribution's `auth.token` (docs/spec/auth/token.md). It
 * makes a self-signed RSA certificate with openssl at start, and issues RS256 JWTs carrying the
 * certificate in `x5c`, granting requested actions to users with the right Basic credentials
 * (and `pull` to anonymous callers when allowed). It records every token request.
 */
import { execFileSync } from 'node:child_process';
import { createSign, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One request the token server saw. */
export interface TokenRequest {
  readonly account: string | undefined;
  readonly scopes: readonly string[];
  readonly service: string | undefined;
  readonly authenticated: boolean;
}

/** A running token server. */
export interface TokenServer {
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  readonly certificatePath: string;
  readonly requests: TokenRequest[];
  stop(): Promise<void>;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** Starts the token server on 127.0.0.1. `expiresIn` is the token lifetime in seconds. */
export async function startTokenServer(options: {
  users: Readonly<Record<string, string>>;
  anonymousPull?: boolean;
  expiresIn?: number;
  /** The `expires_in` the response claims (default: the real lifetime). */
  advertisedExpiresIn?: number;
  /** OAuth2 refresh tokens (docker's `identitytoken`) accepted by POST, mapped to user names. */
  refreshTokens?: Readonly<Record<string, string>>;
}): Promise<TokenServer> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-token-'));
  const keyPath = join(dir, 'key.pem');
  const certificatePath = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certificatePath,
      '-days',
      '1',
      '-subj',
      '/CN=strata-test-token',
    ],
    { stdio: 'ignore' },
  );
  const key = await readFile(keyPath, 'utf8');
  const pem = await readFile(certificatePath, 'utf8');
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const service = 'strata-test-registry';
  const issuer = 'strata-test-issuer';
  const requests: TokenRequest[] = [];
  const answer = (url: URL, user: string | undefined, authenticated: boolean, res: ServerResponse): void => {
    const scopes = url.searchParams
      .getAll('scope')
      .flatMap((s) => s.split(' '))
      .filter(Boolean);
    requests.push({
      account: url.searchParams.get('account') ?? undefined,
      scopes,
      service: url.searchParams.get('service') ?? undefined,
      authenticated,
    });
    const access = scopes.flatMap((scope) => {
      const [type, ...rest] = scope.split(':');
      const actions = (rest.pop() ?? '').split(',');
      const name = rest.join(':');
      const granted = authenticated
        ? actions
        : options.anonymousPull
          ? actions.filter((a) => a === 'pull')
          : [];
      return granted.length > 0 ? [{ type, name, actions: granted }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const expiresIn = options.expiresIn ?? 300;
    const headerJson = { alg: 'RS256', typ: 'JWT', x5c: [der.toString('base64')] };
    const claims = {
      iss: issuer,
      sub: user ?? '',
      aud: service,
      exp: now + expiresIn,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString('hex'),
      access,
    };
    const input = `${base64url(JSON.stringify(headerJson))}.${base64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(input).sign(key);
    const token = `${input}.${base64url(signature)}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        token,
        access_token: token,
        expires_in: options.advertisedExpiresIn ?? expiresIn,
        issued_at: new Date().toISOString(),
      }),
    );
  };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/token') {
      res.writeHead(404).end();
      return;
    }
    if (req.method === 'POST') {
      // OAuth2 refresh-token grant (distribution's token spec, oauth.md): the form carries it all.
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => {
        body += d;
      });
      req.on('end', () => {
        const form = new URLSearchParams(body);
        for (const key of ['service', 'scope'])
          for (const v of form.getAll(key)) url.searchParams.append(key, v);
        const user =
          form.get('grant_type') === 'refresh_token'
            ? options.refreshTokens?.[form.get('refresh_token') ?? '']
            : undefined;
        if (user === undefined) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_grant"}');
          return;
        }
        answer(url, user, true, res);
      });
      return;
    }
    const header = req.headers.authorization;
    if (header?.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const name = decoded.slice(0, colon);
      if (options.users[name] !== undefined && options.users[name] === decoded.slice(colon + 1)) {
        answer(url, name, true, res);
        return;
      }
      requests.push({
        account: url.searchParams.get('account') ?? undefined,
        scopes: url.searchParams.getAll('scope'),
        service: url.searchParams.get('service') ?? undefined,
        authenticated: false,
      });
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
      return;
    }
    answer(url, undefined, false, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certificatePath,
    requests,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
