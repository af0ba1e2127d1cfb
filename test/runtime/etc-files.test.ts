import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { hostsFileContent, resolvConfContent } from '../../src/runtime/index.ts';

describe('hostsFileContent', () => {
  it("writes BuildKit's hosts file for the default hostname", () => {
    assert.equal(
      hostsFileContent(),
      '127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n',
    );
  });
});

describe('resolvConfContent', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-resolv-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const fallback =
    'nameserver 8.8.8.8\nnameserver 8.8.4.4\nnameserver 2001:4860:4860::8888\nnameserver 2001:4860:4860::8844\n';

  it('copies the host file as is for host networking, localhost resolvers included', async () => {
    const path = write('a', 'search example.com\nnameserver 127.0.0.53\noptions edns0\n');
    assert.equal(
      await resolvConfContent('host', path),
      'search example.com\nnameserver 127.0.0.53\noptions edns0\n',
    );
  });

  it('drops localhost resolvers without host networking and keeps the others', async () => {
    const path = write('b', 'nameserver 127.0.0.1\nnameserver 10.0.0.2\nnameserver ::1\nsearch lan\n');
    assert.equal(await resolvConfContent('none', path), 'nameserver 10.0.0.2\nsearch lan\n');
  });

  it('falls back to public resolvers when none are left', async () => {
    const path = write('c', 'nameserver 127.0.0.1\n');
    assert.equal(await resolvConfContent('none', path), fallback);
    assert.equal(await resolvConfContent('host', join(dir, 'missing')), fallback);
  });
});
