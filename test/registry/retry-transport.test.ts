import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HttpTransport } from '../../src/registry/http-transport.ts';
import { RegistryError } from '../../src/registry/index.ts';
import { RetryTransport } from '../../src/registry/retry-transport.ts';
import type { RegistryRequest, RegistryTransport } from '../../src/registry/transport.ts';
import { freePort } from '../support/registry.ts';
import { answer, type ScriptedServer, startScriptedServer } from './scripted-server.ts';

const POLICY = { attempts: 4, minDelayMs: 1, maxDelayMs: 10 };

describe('registry transport: the retry layer', () => {
  /** Answers each path's statuses in turn (the last one repeats); `/drop` cuts every connection. */
  const scripts = new Map<string, number[]>();
  let server: ScriptedServer;
  let http: HttpTransport;
  let retry: RetryTransport;

  before(async () => {
    server = await startScriptedServer((req, res) => {
      if (req.url === '/drop') {
        res.socket?.destroy();
        return;
      }
      const statuses = scripts.get(req.url) ?? [200];
      const status = statuses.length > 1 ? statuses.shift()! : statuses[0]!;
      answer(res, status, {
        ...(status === 429 ? { headers: { 'retry-after': '0' } } : {}),
        body: { errors: [{ code: 'X', message: `status ${status}` }] },
      });
    });
    http = new HttpTransport(server.host, { insecure: true });
    retry = new RetryTransport(http, POLICY);
  });
  after(async () => {
    await http?.close();
    await server?.stop();
  });

  const seen = (path: string) => server.requests.filter((r) => r.url === path).length;
  const request = (path: string, extra: Partial<RegistryRequest> = {}): RegistryRequest => ({
    method: 'GET',
    url: `${server.origin}${path}`,
    scopes: [],
    expect: [200],
    what: 'testing',
    ...extra,
  });

  it('retries 503 and 429 until the expected status, telling onRetry why and how long it waits', async () => {
    scripts.set('/flaky', [503, 429, 200]);
    const retries: Array<{ attempt: number; delayMs: number; reason: string }> = [];
    const res = await retry.roundTrip(request('/flaky', { onRetry: (info) => retries.push(info) }));
    assert.equal(res.status, 200);
    await res.body.dump();
    assert.equal(seen('/flaky'), 3);
    assert.deepEqual(
      retries.map((r) => [r.attempt, r.reason]),
      [
        [1, '503'],
        [2, '429'],
      ],
    );
    assert.equal(retries[1]!.delayMs, 0, "429's Retry-After: 0 is honoured");
  });

  it('hands back a permanent status at once, and a temporary one after the last attempt', async () => {
    scripts.set('/missing', [404]);
    const missing = await retry.roundTrip(request('/missing'));
    assert.equal(missing.status, 404);
    await missing.body.dump();
    assert.equal(seen('/missing'), 1);

    scripts.set('/down', [500]);
    const down = await retry.roundTrip(request('/down'));
    assert.equal(down.status, 500);
    assert.match(await down.body.text(), /status 500/, 'the last answer keeps its body for the error');
    assert.equal(seen('/down'), POLICY.attempts);
  });

  it('tries once a request that says retry: false, and one that expects the status', async () => {
    scripts.set('/once', [503, 200]);
    const res = await retry.roundTrip(request('/once', { retry: false }));
    assert.equal(res.status, 503);
    await res.body.dump();
    assert.equal(seen('/once'), 1);

    scripts.set('/expected', [502, 200]);
    const expected = await retry.roundTrip(request('/expected', { expect: [200, 502] }));
    assert.equal(expected.status, 502);
    await expected.body.dump();
    assert.equal(seen('/expected'), 1);
  });

  it('retries a dropped connection, then names the request in a temporary RegistryError', async () => {
    const reasons: string[] = [];
    await assert.rejects(
      retry.roundTrip(request('/drop', { what: 'pinging', onRetry: (i) => reasons.push(i.reason) })),
      (error: unknown) => {
        assert.ok(error instanceof RegistryError);
        assert.equal(error.message, `pinging: GET ${server.origin}/drop`);
        assert.equal(error.status, undefined);
        assert.equal(error.code, 'REGISTRY_UNREACHABLE');
        assert.ok(error.temporary);
        assert.ok(error.cause instanceof Error, 'the cause is the network error itself');
        return true;
      },
    );
    assert.equal(seen('/drop'), POLICY.attempts);
    assert.equal(reasons.length, POLICY.attempts - 1);
  });

  it('does not retry a refused connection: it fails at once, naming the host', async () => {
    const port = await freePort(); // nothing listens there now
    const closed = new HttpTransport(`127.0.0.1:${port}`, { insecure: true });
    const reasons: string[] = [];
    try {
      await assert.rejects(
        new RetryTransport(closed, POLICY).roundTrip({
          ...request('/v2/'),
          url: `http://127.0.0.1:${port}/v2/`,
          what: 'pinging',
          onRetry: (i) => reasons.push(i.reason),
        }),
        (error: unknown) => {
          assert.ok(error instanceof RegistryError);
          assert.equal(error.code, 'REGISTRY_UNREACHABLE');
          assert.equal(error.temporary, false);
          assert.match(error.hint ?? '', new RegExp(`^cannot reach the registry 127\\.0\\.0\\.1:${port}: `));
          return true;
        },
      );
    } finally {
      await closed.close();
    }
    assert.deepEqual(reasons, [], 'no retries');
  });

  it('passes on what the layers below throw on purpose, without trying again', async () => {
    let calls = 0;
    // A fake inner layer injecting the fault an auth layer raises when its token server is down:
    // temporary, yet not the retry layer's to repeat.
    const refused = new RegistryError('requesting a token', { temporary: true });
    const failing: RegistryTransport = {
      roundTrip: () => {
        calls++;
        return Promise.reject(refused);
      },
    };
    await assert.rejects(
      new RetryTransport(failing, POLICY).roundTrip(request('/any')),
      (e) => e === refused,
    );
    assert.equal(calls, 1);
  });
});
