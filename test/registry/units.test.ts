import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  configHostname,
  describeDiagnostics,
  isInsecureHost,
  isLoopbackHost,
  isTemporaryStatus,
  parseDiagnostics,
  parseWwwAuthenticate,
  RegistryClient,
  redactUrl,
  retryAfterMs,
  serverKey,
} from '../../src/registry/index.ts';
import { parseImageLocation } from '../../src/transport/index.ts';

describe('WWW-Authenticate parsing', () => {
  const cases: Array<[string, ReturnType<typeof parseWwwAuthenticate>]> = [
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://auth.docker.io/token',
            service: 'registry.docker.io',
            scope: 'repository:library/alpine:pull',
          },
        },
      ],
    ],
    ['Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    [
      'Bearer realm="https://x/token",scope="repository:a:pull,push repository:b:pull",error="insufficient_scope"',
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://x/token',
            scope: 'repository:a:pull,push repository:b:pull',
            error: 'insufficient_scope',
          },
        },
      ],
    ],
    [
      'Basic realm="a, \\"quoted\\"", Bearer realm=https://t/token, service=s',
      [
        { scheme: 'basic', params: { realm: 'a, "quoted"' } },
        { scheme: 'bearer', params: { realm: 'https://t/token', service: 's' } },
      ],
    ],
    ['', []],
  ];
  for (const [header, expected] of cases) {
    it(`parses ${JSON.stringify(header).slice(0, 60)}`, () =>
      assert.deepEqual(parseWwwAuthenticate(header), expected));
  }
});

describe('insecure hosts', () => {
  const table: Array<[string, readonly string[], boolean]> = [
    ['localhost:5000', [], true],
    ['127.0.0.1:5000', [], true],
    ['127.12.0.3', [], true],
    ['[::1]:5000', [], true],
    ['registry.local:5000', [], false],
    ['registry.local:5000', ['registry.local:5000'], true],
    ['registry.local:5000', ['registry.local'], true],
    ['registry.local:5000', ['http://registry.local:5000/'], true],
    ['10.1.2.3:5000', ['10.0.0.0/8'], true],
    ['11.1.2.3:5000', ['10.0.0.0/8'], false],
    ['ghcr.io', [], false],
  ];
  for (const [host, list, expected] of table) {
    it(`${host} with [${list.join(', ')}] is ${expected ? '' : 'not '}insecure`, () =>
      assert.equal(isInsecureHost(host, list), expected));
  }
  it('loopback detection ignores ports and case', () => {
    assert.ok(isLoopbackHost('LOCALHOST'));
    assert.ok(!isLoopbackHost('128.0.0.1'));
  });
  it('talks HTTPS (never plain HTTP) to a host that is neither loopback nor listed', async () => {
    const client = new RegistryClient('registry.example:5000');
    try {
      assert.equal(await client.baseUrl(), 'https://registry.example:5000');
      assert.equal(client.insecure, false);
    } finally {
      await client.close();
    }
  });
});

describe('redaction', () => {
  it('hides signed and stateful query values and user info', () => {
    assert.equal(
      redactUrl('https://user:pw@s3.example/bucket/blob?X-Amz-Signature=abc&X-Amz-Credential=key&part=1'),
      'https://s3.example/bucket/blob?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&part=1',
    );
    assert.equal(
      redactUrl('http://127.0.0.1:5000/v2/x/blobs/uploads/uuid?_state=secretstate&digest=sha256%3Aab'),
      'http://127.0.0.1:5000/v2/x/blobs/uploads/uuid?_state=REDACTED&digest=sha256%3Aab',
    );
    assert.equal(redactUrl('not a url'), '<url>');
  });
});

describe('registry errors and retry policy', () => {
  it('parses the distribution error list and describes it', () => {
    const diagnostics = parseDiagnostics(
      '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}',
    );
    assert.deepEqual(diagnostics, [
      { code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: 'x' } },
    ]);
    assert.equal(describeDiagnostics(404, diagnostics), '404 MANIFEST_UNKNOWN: manifest unknown');
    assert.deepEqual(parseDiagnostics('<html>bad gateway</html>'), []);
    assert.equal(describeDiagnostics(502, []), '502 bad gateway');
  });
  it('retries 5xx, 429 and 408 but not 4xx, 501 or 505', () => {
    for (const s of [500, 502, 503, 504, 429, 408]) assert.ok(isTemporaryStatus(s), String(s));
    for (const s of [400, 401, 403, 404, 501, 505]) assert.ok(!isTemporaryStatus(s), String(s));
  });
  it('reads Retry-After as seconds or a date, capped by the policy', () => {
    const policy = { attempts: 3, minDelayMs: 10, maxDelayMs: 5000 };
    assert.equal(retryAfterMs('2', policy), 2000);
    assert.equal(retryAfterMs('120', policy), 5000);
    assert.equal(retryAfterMs(undefined, policy), undefined);
    const date = new Date(Date.now() + 3000).toUTCString();
    const ms = retryAfterMs(date, policy)!;
    assert.ok(ms > 1000 && ms <= 3000, String(ms));
  });
});

describe('docker config keys', () => {
  it('normalises hosts the way docker does, Docker Hub aliases included', () => {
    assert.equal(configHostname('https://index.docker.io/v1/'), 'index.docker.io');
    assert.equal(configHostname('registry-1.docker.io'), 'index.docker.io');
    assert.equal(configHostname('docker.io'), 'index.docker.io');
    assert.equal(configHostname('https://ghcr.io/v2/'), 'ghcr.io');
    assert.equal(configHostname('localhost:5000'), 'localhost:5000');
    assert.equal(serverKey('registry-1.docker.io'), 'https://index.docker.io/v1/');
    assert.equal(serverKey('ghcr.io'), 'ghcr.io');
  });
});

describe('transport locations', () => {
  it('parses skopeo-style locations', () => {
    const docker = parseImageLocation('docker://alpine');
    assert.equal(
      docker.transport === 'docker' && docker.reference.toString(),
      'docker.io/library/alpine:latest',
    );
    assert.deepEqual(parseImageLocation('oci:/tmp/layout:v1'), {
      transport: 'oci',
      path: '/tmp/layout',
      tag: 'v1',
    });
    assert.deepEqual(parseImageLocation('oci:/tmp/layout'), { transport: 'oci', path: '/tmp/layout' });
    const archive = parseImageLocation('docker-archive:/tmp/a.tar:app:1');
    assert.equal(archive.transport === 'docker-archive' && archive.reference?.familiar(), 'app:1');
    assert.deepEqual(parseImageLocation('strata:alpine:3'), { transport: 'strata', name: 'alpine:3' });
    assert.throws(() => parseImageLocation('oci:'), /oci: needs a directory/);
  });
});
