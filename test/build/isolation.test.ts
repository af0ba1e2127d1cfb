import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readlinkSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parseAllow } from '../../src/cli/build-flags.ts';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { runStrata } from '../support/cli.ts';
import { leftovers, NOTHING_LEFT } from '../support/leftovers.ts';

/** Issue 16: what a RUN step is kept from, and the entitlements (`--allow`) that lift it. */
describe('RUN isolation', () => {
  let fx: BuildFixture;
  let contexts = 0;
  before(async () => {
    fx = await buildFixture('strata-isolation-');
  });
  after(() => fx.cleanup());

  const build = (dockerfile: string, flags: readonly string[] = []) =>
    runStrata(
      [
        'build',
        '--no-cache',
        '--progress',
        'plain',
        ...flags,
        fx.context(`ctx-${++contexts}`, { Dockerfile: dockerfile }),
      ],
      {
        root: fx.root,
      },
    );

  it('runs a step under the seccomp profile: no user namespace to mount a tmpfs in', async () => {
    const r = await build(
      'FROM busybox:local\nRUN grep ^Seccomp: /proc/self/status && ! unshare -U -r -m sh -c "mount -t tmpfs t /dev/shm"\n',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Seccomp:\s+2/);
    assert.match(r.stderr, /Operation not permitted/);
  });

  it("keeps a step off the host's loopback and network namespace by default; --network host --allow network.host shares them", async () => {
    const server = createServer((socket) => socket.end('host-secret\n'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    try {
      const dockerfile = `FROM busybox:local\nRUN readlink /proc/self/ns/net; nc 127.0.0.1 ${port} </dev/null; nc 10.0.2.2 ${port} </dev/null; true\n`;
      const sandboxed = await build(dockerfile);
      assert.equal(sandboxed.code, 0, sandboxed.stderr);
      assert.doesNotMatch(sandboxed.stderr, /host-secret/);
      assert.ok(!sandboxed.stderr.includes(readlinkSync('/proc/self/ns/net')), sandboxed.stderr);
      const host = await build(dockerfile, ['--network', 'host', '--allow', 'network.host']);
      assert.equal(host.code, 0, host.stderr);
      assert.match(host.stderr, /host-secret/);
      assert.ok(host.stderr.includes(readlinkSync('/proc/self/ns/net')), host.stderr);
    } finally {
      server.close();
    }
  });

  it('refuses RUN --network=host without --allow network.host, at its line, before any step runs', async () => {
    const r = await build('FROM busybox:local\nRUN echo first\nRUN --network=host true\n');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error: .*Dockerfile:3: RUN --network=host requires --allow network\.host/m);
    assert.doesNotMatch(r.stderr, /echo first/);
    assert.deepEqual(leftovers(fx.root), NOTHING_LEFT);
  });

  it('refuses --network host without --allow network.host', async () => {
    const r = await build('FROM busybox:local\nRUN true\n', ['--network', 'host']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error: --network host requires --allow network\.host/m);
  });

  it('runs RUN --network=host and --network host when granted network.host', async () => {
    const dockerfile = 'FROM busybox:local\nRUN --network=host true\n';
    const r = await build(dockerfile, ['--allow', 'network.host']);
    assert.equal(r.code, 0, r.stderr);
    const flag = await build('FROM busybox:local\nRUN true\n', ['--network', 'host', '--allow=network.host']);
    assert.equal(flag.code, 0, flag.stderr);
  });

  it('refuses RUN --security=insecure without --allow security.insecure', async () => {
    const r = await build('FROM busybox:local\nRUN --security=insecure true\n');
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /^error: .*Dockerfile:2: RUN --security=insecure requires --allow security\.insecure/m,
    );
  });

  it('runs RUN --security=insecure privileged when granted: no seccomp, mounts in a user namespace', async () => {
    const r = await build(
      'FROM busybox:local\nRUN --security=insecure grep ^Seccomp: /proc/self/status && unshare -U -r -m sh -c "mount -t tmpfs t /dev/shm && echo mounted"\n',
      ['--allow', 'network.host,security.insecure'],
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Seccomp:\s+0/);
    assert.match(r.stderr, /mounted/);
  });

  it('refuses RUN --device as not supported, at its line', async () => {
    const r = await build('FROM busybox:local\nRUN --device=vendor.com/gpu=all true\n', [
      '--allow',
      'security.insecure',
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error: .*Dockerfile:2: RUN --device=vendor\.com\/gpu=all is not supported/m);
  });
});

describe('parseAllow', () => {
  it('takes repeated flags and comma lists, once each', () => {
    assert.deepEqual(parseAllow(['network.host', 'security.insecure,network.host']), [
      'network.host',
      'security.insecure',
    ]);
  });
  it('refuses an unknown entitlement', () => {
    assert.throws(() => parseAllow(['network.hots']), {
      code: 'INVALID_INPUT',
      message: 'invalid --allow "network.hots"',
    });
  });
});
