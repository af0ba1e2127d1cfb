import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HttpTransport, NoResponseError } from '../../src/registry/http-transport.ts';
import { isNetworkError } from '../../src/registry/index.ts';
import type { RegistryRequest } from '../../src/registry/transport.ts';
import { AbortedError } from '../../src/util/index.ts';
import { answer, closedPort, type ScriptedServer, startScriptedServer } from './scripted-server.ts';

const get = (url: string, extra: Partial<RegistryRequest> = {}): RegistryRequest => ({
  method: 'GET',
  url,
  scopes: [],
  expect: [200],
  what: 'testing',
  ...extra,
});

describe('registry transport: the HTTP layer', () => {
  let storage: ScriptedServer;
  let registry: ScriptedServer;
  let http: HttpTransport;

  before(async () => {
    storage = await startScriptedServer((_req, res) => answer(res, 200, { body: 'from storage' }));
    registry = await startScriptedServer((req, res) => {
      if (req.url === '/redirect') answer(res, 307, { headers: { location: `${storage.origin}/blob` } });
      else answer(res, 418, { headers: { 'x-echo': String(req.headers['x-test'] ?? '') }, body: req.body });
    });
    http = new HttpTransport(registry.host, { insecure: true, userAgent: 'strata-test/1' });
  });
  after(async () => {
    await http?.close();
    await registry?.stop();
    await storage?.stop();
  });

  it('speaks plain HTTP to a loopback host that does not speak TLS', async () => {
    assert.equal(await http.baseUrl(), registry.origin);
    assert.equal(await http.resolveUrl('/v2/'), `${registry.origin}/v2/`);
    assert.equal(await http.resolveUrl('http://elsewhere/x?y=1'), 'http://elsewhere/x?y=1');
  });

  it('sends the User-Agent, the headers and a body made for this try, and hands back any status unread', async () => {
    let made = 0;
    const res = await http.roundTrip(
      get(`${registry.origin}/v2/echo`, {
        method: 'PUT',
        headers: { 'x-test': 'abc' },
        body: async () => `body ${++made}`,
      }),
    );
    assert.equal(res.status, 418);
    assert.equal(res.url, `${registry.origin}/v2/echo`);
    assert.equal(res.headers['x-echo'], 'abc');
    assert.equal(await res.body.text(), 'body 1');
    const seen = registry.requests.at(-1)!;
    assert.equal(seen.headers['user-agent'], 'strata-test/1');
    assert.equal(seen.headers.authorization, undefined, 'the HTTP layer adds no credentials');
  });

  it('follows a redirect only when the request asks for it', async () => {
    const followed = await http.roundTrip(get(`${registry.origin}/redirect`, { followRedirects: true }));
    assert.equal(followed.status, 200);
    assert.equal(await followed.body.text(), 'from storage');
    const notFollowed = await http.roundTrip(get(`${registry.origin}/redirect`));
    assert.equal(notFollowed.status, 307);
    await notFollowed.body.dump();
  });

  it('rejects with NoResponseError, carrying the network error, when nothing answers', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/v2/`;
    await assert.rejects(http.roundTrip(get(url)), (error: unknown) => {
      assert.ok(error instanceof NoResponseError);
      assert.equal(error.url, url);
      assert.equal((error.cause as { code?: string }).code, 'ECONNREFUSED');
      assert.ok(isNetworkError(error.cause));
      return true;
    });
  });

  it('rejects with NoResponseError when the body cannot be made, and AbortedError when aborted', async () => {
    const broken = new Error('cannot open the layer');
    await assert.rejects(
      http.roundTrip(get(`${registry.origin}/v2/x`, { method: 'PUT', body: () => Promise.reject(broken) })),
      (error: unknown) => error instanceof NoResponseError && error.cause === broken,
    );
    const silent = await startScriptedServer(() => controller.abort()); // answers nothing, aborts instead
    const controller = new AbortController();
    try {
      await assert.rejects(
        http.roundTrip(get(`${silent.origin}/v2/`, { signal: controller.signal })),
        AbortedError,
      );
    } finally {
      await silent.stop();
    }
  });
});
