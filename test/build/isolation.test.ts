import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, readlinkSync } from 'node:fs';
import { createServer as createHttpServer, request } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllow } from '../../src/cli/build-flags.ts';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { runStrata } from '../support/cli.ts';
import { leftovers, NOTHING_LEFT } from '../support/leftovers.ts';

/** The sources of the test's own attack programs. */
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'isolation');

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

  it("keeps the host's loopback traffic from an AF_PACKET sniffer in a step; with --network host it sees the Authorization header", async (t) => {
    // The attack of issue 16: while the host sends requests with a secret Authorization header to
    // a server on its 127.0.0.1 (as to a local registry), a step reads `lo` with a raw packet socket.
    const secret = `Basic ${randomBytes(12).toString('base64')}`;
    const server = createHttpServer((_req, res) => res.end('ok\n'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const sentAt: number[] = []; // when each request had its answer (ms since the epoch)
    let sending = true;
    const sendLoop = (async () => {
      while (sending) {
        await new Promise<void>((resolve) => {
          const req = request(
            { host: '127.0.0.1', port, agent: false, headers: { Authorization: secret } },
            (res) => {
              res.resume();
              res.on('end', resolve);
            },
          );
          req.on('error', () => resolve()); // the next one is sent all the same
          req.end();
        });
        sentAt.push(Date.now());
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    try {
      const ctx = fx.context(`ctx-${++contexts}`, {
        Dockerfile: `FROM busybox:local\nCOPY sniff /sniff\nRUN /sniff "Authorization: ${secret}" 4; echo "sniff exit $?"\n`,
      });
      try {
        execFileSync('gcc', ['-static', '-O1', '-o', join(ctx, 'sniff'), join(FIXTURES, 'sniff.c')], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (error) {
        const stderr = String((error as { stderr?: Buffer }).stderr ?? '');
        if (!/cannot find -lc\b/.test(stderr)) throw error;
        t.skip(
          `gcc -static cannot link the sniffer: no static libc (apt-get install libc6-dev): ${stderr.trim()}`,
        );
        return;
      }
      chmodSync(join(ctx, 'sniff'), 0o755);
      const flags = ['build', '--no-cache', '--progress', 'plain'];
      const sandboxed = await runStrata([...flags, ctx], { root: fx.root });
      assert.equal(sandboxed.code, 0, sandboxed.stderr);
      const window = /listening on lo at (\d+)[\s\S]*none with the needle, until (\d+)/.exec(
        sandboxed.stderr,
      );
      assert.ok(window, sandboxed.stderr);
      const [start, end] = [Number(window[1]), Number(window[2])];
      const duringSniff = sentAt.filter((at) => at >= start && at <= end).length;
      assert.ok(duringSniff > 0, `the host sent no request while the step sniffed (${start}–${end})`);
      assert.doesNotMatch(sandboxed.stderr, /sniffed:/);
      // The same step in the host's namespace sees the header: the sniffer works.
      const host = await runStrata([...flags, '--network', 'host', '--allow', 'network.host', ctx], {
        root: fx.root,
      });
      assert.equal(host.code, 0, host.stderr);
      assert.ok(host.stderr.includes(`sniffed: Authorization: ${secret}`), host.stderr);
    } finally {
      sending = false;
      await sendLoop;
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
