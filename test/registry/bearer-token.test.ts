import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTokenResponse, type Token, TokenCache } from '../../src/registry/bearer-token.ts';
import { RegistryError } from '../../src/registry/index.ts';

describe('bearer tokens: the token response', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  const cases: Array<[string, string, Token]> = [
    [
      'a `token` with the default 60 s lifetime, dropped 10 s early',
      '{"token":"t1"}',
      { value: 't1', expiresAt: now + 50_000 },
    ],
    [
      'an OAuth2 `access_token`',
      '{"access_token":"t2","expires_in":300}',
      { value: 't2', expiresAt: now + 290_000 },
    ],
    [
      '`token` before `access_token`',
      '{"token":"t3","access_token":"other"}',
      { value: 't3', expiresAt: now + 50_000 },
    ],
    [
      'the lifetime counted from `issued_at`',
      '{"token":"t4","expires_in":120,"issued_at":"2024-05-01T11:59:00Z"}',
      { value: 't4', expiresAt: now - 60_000 + 110_000 },
    ],
    [
      'an `issued_at` in the future counted from now',
      '{"token":"t5","expires_in":120,"issued_at":"2024-05-01T13:00:00Z"}',
      { value: 't5', expiresAt: now + 110_000 },
    ],
    [
      'a lifetime under 11 s kept for 1 s',
      '{"token":"t6","expires_in":5}',
      { value: 't6', expiresAt: now + 1000 },
    ],
  ];
  for (const [name, body, expected] of cases) {
    it(`reads ${name}`, () => assert.deepEqual(parseTokenResponse(body, 'r.example', now), expected));
  }
  it('refuses a body that is not JSON or holds no token', () => {
    assert.throws(() => parseTokenResponse('<html>', 'r.example'), {
      name: 'RegistryError',
      message: 'r.example: token response is not JSON',
    });
    assert.throws(() => parseTokenResponse('{"token":""}', 'r.example'), RegistryError);
  });
});

describe('bearer tokens: the cache', () => {
  const token = (value: string, ttlMs = 60_000): Token => ({ value, expiresAt: Date.now() + ttlMs });

  it('shares one fetch among concurrent callers of a scope set, and fetches per scope set', async () => {
    const cache = new TokenCache();
    let fetches = 0;
    const fetch = async () => token(`t${++fetches}`);
    const got = await Promise.all([1, 2, 3].map(() => cache.get(['repository:a:pull'], fetch)));
    assert.deepEqual(
      got.map((g) => g.token.value),
      ['t1', 't1', 't1'],
    );
    assert.equal((await cache.get(['repository:a:pull', 'repository:b:pull'], fetch)).token.value, 't2');
    assert.equal((await cache.get(['repository:a:pull'], fetch)).token.value, 't1');
  });

  it('fetches anew after an expired token, a failed fetch, or a drop', async () => {
    const cache = new TokenCache();
    assert.equal((await cache.get(['s'], async () => token('old', -1))).token.value, 'old');
    assert.equal((await cache.get(['s'], async () => token('fresh'))).token.value, 'fresh', 'expired');

    const failure = new RegistryError('token server down', { temporary: true });
    await assert.rejects(
      cache.get(['f'], () => Promise.reject(failure)),
      (e) => e === failure,
    );
    assert.equal((await cache.get(['f'], async () => token('retried'))).token.value, 'retried');

    const { entry } = await cache.get(['s'], async () => token('unused'));
    cache.drop(entry);
    assert.equal((await cache.get(['s'], async () => token('after-drop'))).token.value, 'after-drop');
  });
});
