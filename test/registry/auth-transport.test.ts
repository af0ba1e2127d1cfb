import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { AuthTransport } from '../../src/registry/auth-transport.ts';
import { HttpTransport } from '../../src/registry/http-transport.ts';
import { type RegistryCredentials, RegistryError, staticCredentials } from '../../src/registry/index.ts';
import type { RegistryRequest } from '../../src/registry/transport.ts';
import { formatErrorChain } from '../../src/util/index.ts';
import { answer, type ScriptedServer, type SeenRequest, startScriptedServer } from './scripted-server.ts';

/**
 * A registry and its token server in one scripted server: `/token` issues `token-<n>`; `/v2/…`
 * accepts the Authorization `accepts` allows and otherwise answers 401 with `challenge`.
 */
interface Scene {
  challenge: string;
  accepts: (authorization: string | undefined) => boolean;
  token: (req: SeenRequest) => { status: number; body: unknown };
}

describe('registry transport: the auth layer', () => {
  let server: ScriptedServer;
  let storage: ScriptedServer;
  let scene: Scene;
  let issued = 0;
  const transports: HttpTransport[] = [];

  before(async () => {
    server = await startScriptedServer((req, res) => {
      if (req.url.startsWith('/token')) {
        const { status, body } = scene.token(req);
        answer(res, status, { body });
      } else if (scene.accepts(req.headers.authorization)) answer(res, 200);
      else answer(res, 401, { headers: { 'www-authenticate': scene.challenge } });
    });
    storage = await startScriptedServer((_req, res) => answer(res, 200));
  });
  afterEach(async () => {
    await Promise.all(transports.splice(0).map((t) => t.close()));
  });
  after(async () => {
    await server?.stop();
    await storage?.stop();
  });

  const bearer = (scope?: string) =>
    `Bearer realm="${server.origin}/token",service="test-registry"${scope ? `,scope="${scope}"` : ''}`;
  const issue = () => ({ status: 200, body: { token: `token-${++issued}`, expires_in: 300 } });
  const auth = (credentials?: Record<string, RegistryCredentials>) => {
    const http = new HttpTransport(server.host, { insecure: true });
    transports.push(http);
    return new AuthTransport(http, {
      host: server.host,
      ...(credentials ? { credentials: staticCredentials(credentials) } : {}),
      origin: (signal) => http.baseUrl(signal),
      tokenEndpoint: (url, init) => http.request(url, init),
    });
  };
  const get = (path: string, scopes: string[] = []): RegistryRequest => ({
    method: 'GET',
    url: path.startsWith('http') ? path : `${server.origin}${path}`,
    scopes,
    expect: [200],
    what: 'testing',
  });
  const tokenRequests = () =>
    server.requests.filter((r) => r.url.startsWith('/token')).map((r) => new URL(r.url, server.origin));
  const send = async (transport: AuthTransport, req: RegistryRequest) => {
    const res = await transport.roundTrip(req);
    await res.body.dump();
    return res.status;
  };

  it("answers a bearer challenge with a token for the request's scopes and the challenge's, cached per scope set", async () => {
    scene = {
      challenge: bearer('registry:catalog:*'),
      accepts: (a) => /^Bearer token-/.test(a ?? ''),
      token: issue,
    };
    const transport = auth({ [server.host]: { username: 'bob', password: 'pw' } });
    const before = tokenRequests().length;
    assert.equal(await send(transport, get('/v2/a/manifests/1', ['repository:a:pull'])), 200);
    const [first, ...rest] = tokenRequests().slice(before);
    assert.equal(rest.length, 0);
    assert.equal(first!.searchParams.get('service'), 'test-registry');
    assert.deepEqual(first!.searchParams.getAll('scope'), ['registry:catalog:*', 'repository:a:pull']);
    assert.equal(first!.searchParams.get('account'), 'bob');
    const tokenCall = server.requests.findLast((r) => r.url.startsWith('/token'))!;
    assert.equal(tokenCall.headers.authorization, `Basic ${Buffer.from('bob:pw').toString('base64')}`);

    assert.equal(await send(transport, get('/v2/a/blobs/x', ['repository:a:pull'])), 200);
    assert.equal(tokenRequests().length - before, 1, 'the same scopes reuse the token');
    // Concurrent requests for new scopes share one token request.
    const statuses = await Promise.all(
      [1, 2, 3].map(() => send(transport, get('/v2/b/x', ['repository:b:pull']))),
    );
    assert.deepEqual(statuses, [200, 200, 200]);
    assert.equal(tokenRequests().length - before, 2);
  });

  it('fetches a fresh token once when the registry refuses a cached one, then gives up with a login hint', async () => {
    let valid = '';
    scene = {
      challenge: bearer(),
      accepts: (a) => a === `Bearer ${valid}`,
      token: () => {
        const answer = issue();
        valid ||= answer.body.token; // only the first token issued in this scene is accepted
        return answer;
      },
    };
    const transport = auth();
    assert.equal(await send(transport, get('/v2/c/x', ['repository:c:pull'])), 200);
    valid = 'revoked';
    const before = tokenRequests().length;
    await assert.rejects(transport.roundTrip(get('/v2/c/x', ['repository:c:pull'])), (error: unknown) => {
      assert.ok(error instanceof RegistryError);
      assert.equal(error.status, 401);
      assert.equal(error.message, `testing: GET ${server.origin}/v2/c/x: 401 unauthorized`);
      assert.match(formatErrorChain(error), new RegExp(`log in first: strata login ${server.host}`));
      return true;
    });
    assert.equal(tokenRequests().length - before, 1, 'one fresh token, not a loop');
    valid = `token-${issued + 1}`;
    assert.equal(
      await send(transport, get('/v2/c/x', ['repository:c:pull'])),
      200,
      'the refused token was dropped',
    );
  });

  it('sends Basic credentials after a Basic challenge, and refuses without them', async () => {
    const basic = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;
    scene = { challenge: 'Basic realm="test"', accepts: (a) => a === basic, token: issue };
    assert.equal(
      await send(auth({ [server.host]: { username: 'alice', password: 's3cret' } }), get('/v2/')),
      200,
    );
    const before = server.requests.length;
    await assert.rejects(
      auth().roundTrip(get('/v2/')),
      (error: unknown) => error instanceof RegistryError && error.status === 401,
    );
    assert.equal(server.requests.length - before, 1, 'nothing to answer a Basic challenge with: no retry');
  });

  it("never sends the registry's Authorization to another origin", async () => {
    scene = { challenge: bearer(), accepts: (a) => /^Bearer token-/.test(a ?? ''), token: issue };
    const transport = auth();
    assert.equal(await send(transport, get('/v2/d/x', ['repository:d:pull'])), 200);
    assert.equal(await send(transport, get(`${storage.origin}/blob`, ['repository:d:pull'])), 200);
    assert.equal(storage.requests.at(-1)!.headers.authorization, undefined);
  });

  it('exchanges an identity token by the refresh-token grant, and reports a refusing token server', async () => {
    scene = {
      challenge: bearer(),
      accepts: (a) => a === 'Bearer granted',
      token: (req) =>
        req.method === 'POST' && new URLSearchParams(req.body).get('refresh_token') === 'refresh-abc'
          ? { status: 200, body: { access_token: 'granted' } }
          : { status: 401, body: { errors: [{ code: 'UNAUTHORIZED', message: 'bad grant' }] } },
    };
    assert.equal(
      await send(
        auth({ [server.host]: { identityToken: 'refresh-abc' } }),
        get('/v2/e/x', ['repository:e:pull']),
      ),
      200,
    );
    const grant = new URLSearchParams(server.requests.findLast((r) => r.url.startsWith('/token'))!.body);
    assert.equal(grant.get('grant_type'), 'refresh_token');
    assert.equal(grant.get('service'), 'test-registry');
    assert.equal(grant.get('scope'), 'repository:e:pull');

    await assert.rejects(
      send(auth({ [server.host]: { identityToken: 'stale' } }), get('/v2/e/x', ['repository:e:pull'])),
      (error: unknown) => {
        assert.ok(error instanceof RegistryError);
        assert.equal(
          error.message,
          `${server.host}: token request for repository:e:pull: 401 UNAUTHORIZED: bad grant`,
        );
        assert.match(formatErrorChain(error), /check the credentials for 127\.0\.0\.1:\d+/);
        assert.doesNotMatch(formatErrorChain(error), /stale/);
        return true;
      },
    );
  });
});
