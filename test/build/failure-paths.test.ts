import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { runStrata, tempDir } from '../support/cli.ts';
import { leftovers, NOTHING_LEFT } from '../support/leftovers.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

/** What a crash or an internal error looks like on stderr: none of it may appear. */
const CRASH = /Unhandled 'error' event|internal error|AbortError|node:internal/;

describe('a failed build shows its error and cleans up', () => {
  let fx: BuildFixture;
  let registry: TestRegistry;
  let remoteBase: string;
  before(async () => {
    fx = await buildFixture('strata-failure-paths-');
    registry = await startRegistry();
    remoteBase = `${registry.host}/base/busybox:1`;
    const pushed = await runStrata(['push', 'busybox:local', remoteBase], { root: fx.root });
    assert.equal(pushed.code, 0, pushed.stderr);
  });
  after(async () => {
    await registry.stop();
    fx.cleanup();
  });

  it('prints a missing COPY source with its Dockerfile line after a step made a layer (-q)', async () => {
    const ctx = fx.context('copy-missing', {
      Dockerfile: 'FROM busybox:local\nRUN echo a > /a\nCOPY missing /x\n',
    });
    const r = await runStrata(['build', '--no-cache', '-q', ctx], { root: fx.root });
    assert.equal(r.code, 1, r.stderr);
    assert.doesNotMatch(r.stderr, CRASH);
    assert.match(
      r.stderr,
      /^error: .*Dockerfile:3: .*COPY missing \/x: "\/missing" not found in the build context/m,
    );
    assert.equal(r.stdout, '');
    assert.deepEqual(leftovers(fx.root), NOTHING_LEFT);
  });

  it('names the line of a COPY source that .dockerignore excludes, and says so', async () => {
    const ctx = fx.context('copy-ignored', {
      Dockerfile: 'FROM busybox:local\nRUN echo a > /a\nCOPY secret.env /x\n',
      '.dockerignore': '*.env\n',
      'secret.env': 'TOKEN=1\n',
    });
    const r = await runStrata(['build', '--no-cache', '--progress', 'plain', ctx], { root: fx.root });
    assert.equal(r.code, 1, r.stderr);
    assert.doesNotMatch(r.stderr, CRASH);
    assert.match(
      r.stderr,
      /^error: .*Dockerfile:3: .*COPY secret\.env \/x: "\/secret\.env" not found in the build context .*excluded by \.dockerignore/m,
    );
    assert.deepEqual(leftovers(fx.root), NOTHING_LEFT);
  });

  it('names the FROM line of a base image the registry does not have, and what to check', async () => {
    const absent = `${registry.host}/base/absent:1`;
    const ctx = fx.context('absent-base', {
      Dockerfile: `FROM busybox:local AS tools\nRUN echo a > /a\n\nFROM ${absent}\nCOPY --from=tools /a /a\n`,
    });
    const r = await runStrata(['build', '-q', ctx], { root: fx.root });
    assert.equal(r.code, 1, r.stderr);
    assert.doesNotMatch(r.stderr, CRASH);
    const line = r.stderr.split('\n').find((l) => l.startsWith('error: '));
    assert.ok(line, r.stderr);
    assert.match(line, new RegExp(`Dockerfile:4: .*FROM ${absent}: .*404`));
    assert.match(
      line,
      new RegExp(`check the image name and tag, or log in with strata login ${registry.host}`),
    );
    assert.deepEqual(leftovers(fx.root), NOTHING_LEFT);
  });

  it("quotes a failed RUN's command and output only up to a stated limit, with the exit code", async () => {
    const long = `true ${'a'.repeat(10_000_000)}`;
    const ctx = fx.context('long-run', {
      Dockerfile: `FROM busybox:local\nRUN ${long}\n`,
    });
    const r = await runStrata(['build', '-q', ctx], { root: fx.root });
    assert.equal(r.code, 1, r.stderr.slice(0, 2000));
    assert.doesNotMatch(r.stderr, CRASH);
    assert.ok(r.stderr.length < 8000, `stderr is ${r.stderr.length} characters`);
    const error = r.stderr.split('\n').find((l) => l.startsWith('error: '));
    assert.ok(error, r.stderr.slice(0, 2000));
    assert.match(error, /Dockerfile:2: /);
    assert.match(
      error,
      /RUN failed with exit code 1: true a{194}… \(10000005 characters, cut to the first 200\)/,
    );
    // -q shows nothing else, so the error shows why: the runtime's word on the oversized argument.
    assert.match(r.stderr, /argument list too long/);
    assert.deepEqual(leftovers(fx.root), NOTHING_LEFT);
  });

  it("bounds the output lines a failed RUN's error quotes", async () => {
    const ctx = fx.context('long-output', {
      Dockerfile: 'FROM busybox:local\nRUN head -c 3000000 /dev/zero | tr "\\0" x; echo; exit 4\n',
    });
    const r = await runStrata(['build', '-q', ctx], { root: fx.root });
    assert.equal(r.code, 1, r.stderr.slice(0, 2000));
    assert.ok(r.stderr.length < 8000, `stderr is ${r.stderr.length} characters`);
    assert.match(r.stderr, /RUN failed with exit code 4/);
    assert.match(r.stderr, /x{100}… \(3000000 characters, cut to the first \d+\)/);
  });

  it('says which base layer is corrupt when -o type=docker cannot decompress it, and writes no file', async () => {
    const damaged = await buildFixture('strata-failure-corrupt-');
    try {
      // Damage the middle of the base image's one (gzip) layer, as a disk error would.
      const layers = readdirSync(join(damaged.root, 'blobs/sha256')).filter(
        (b) => statSync(join(damaged.root, 'blobs/sha256', b)).size > 500_000,
      );
      assert.equal(layers.length, 1);
      const layer = layers[0]!;
      const path = join(damaged.root, 'blobs/sha256', layer);
      const bytes = readFileSync(path);
      bytes.fill(0xff, 400_000, 400_016);
      writeFileSync(path, bytes);
      const ctx = damaged.context('export', { Dockerfile: 'FROM busybox:local\nENV A=b\n' });
      const dest = join(damaged.work, 'out', 'image.tar');
      mkdirSync(dirname(dest));
      const r = await runStrata(['build', '-q', '-o', `type=docker,dest=${dest}`, ctx], {
        root: damaged.root,
      });
      assert.equal(r.code, 1, r.stderr);
      assert.doesNotMatch(r.stderr, CRASH);
      const error = r.stderr.split('\n').find((l) => l.startsWith('error: '));
      assert.ok(error, r.stderr);
      assert.match(error, new RegExp(`layer sha256:${layer} .*is corrupt`));
      assert.match(error, /strata store verify/);
      assert.deepEqual(readdirSync(dirname(dest)), [], 'no archive, whole or partial');
      assert.deepEqual(leftovers(damaged.root), NOTHING_LEFT);
    } finally {
      damaged.cleanup();
    }
  });

  for (const snapshotter of ['overlay', 'native']) {
    it(`says which base layer is corrupt when a step needs it unpacked (${snapshotter})`, async () => {
      const damaged = await buildFixture('strata-failure-unpack-');
      try {
        const layer = readdirSync(join(damaged.root, 'blobs/sha256')).find(
          (b) => statSync(join(damaged.root, 'blobs/sha256', b)).size > 500_000,
        )!;
        const path = join(damaged.root, 'blobs/sha256', layer);
        const bytes = readFileSync(path);
        // Damage a compressible stretch (the zero blocks at the busybox binary's end decompress
        // before the store's digest check is reached): zlib fails first.
        bytes.fill(0x00, 200_000, 200_064);
        writeFileSync(path, bytes);
        const ctx = damaged.context('unpack', { Dockerfile: 'FROM busybox:local\nRUN true\n' });
        for (let attempt = 0; attempt < 2; attempt++) {
          const r = await runStrata(['build', '-q', '--no-cache', ctx], {
            root: damaged.root,
            env: { STRATA_SNAPSHOTTER: snapshotter },
          });
          assert.equal(r.code, 1, r.stderr);
          assert.doesNotMatch(r.stderr, CRASH);
          assert.match(r.stderr, new RegExp(`layer sha256:${layer} .*is corrupt`));
          assert.match(r.stderr, /strata store verify/);
        }
        assert.deepEqual(leftovers(damaged.root), NOTHING_LEFT);
      } finally {
        damaged.cleanup();
      }
    });
  }

  it('reports a failed step at once while another stage still waits on a registry that never answers', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const ctx = fx.context('hanging-image', {
        Dockerfile: [
          'FROM busybox:local AS broken',
          'RUN exit 3',
          'FROM busybox:local',
          `COPY --from=127.0.0.1:${port}/never/answers:1 /x /x`,
          'COPY --from=broken /etc/passwd /p',
          '',
        ].join('\n'),
      });
      const r = await runStrata(['build', '-q', ctx], { root: fx.root, timeoutMs: 60_000 });
      assert.equal(r.signal, null, 'not killed by the test timeout');
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /Dockerfile:2: .*RUN failed with exit code 3: exit 3/);
      assert.deepEqual(leftovers(fx.root), NOTHING_LEFT);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('fails cleanly while the base image is still downloading (-o type=docker, empty store)', async () => {
    const out = tempDir('strata-failure-out-');
    try {
      const root = join(out.path, 'store');
      const ctx = fx.context('pulling', {
        Dockerfile: `FROM ${remoteBase}\nRUN echo a > /a\nCOPY missing /x\n`,
      });
      const dest = join(out.path, 'image.tar');
      const r = await runStrata(['build', '--no-cache', '-q', '-o', `type=docker,dest=${dest}`, ctx], {
        root,
      });
      assert.equal(r.code, 1, r.stderr);
      assert.doesNotMatch(r.stderr, CRASH);
      assert.match(r.stderr, /Dockerfile:3: .*COPY missing \/x: "\/missing" not found/);
      assert.equal(existsSync(dest), false, 'no partial archive');
      assert.deepEqual(
        readdirSync(out.path).filter((n) => n !== 'store'),
        [],
        'nothing beside the destination either',
      );
      assert.deepEqual(leftovers(root), NOTHING_LEFT);
      const verify = await runStrata(['store', 'verify'], { root });
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    } finally {
      out.cleanup();
    }
  });
});

describe('an export that cannot be written', () => {
  let fx: BuildFixture;
  let full: string;
  before(async () => {
    fx = await buildFixture('strata-failure-export-');
    // A destination with too little room for the image: every write beyond 256 kB fails (ENOSPC).
    full = join(fx.work, 'full');
    mkdirSync(full);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', full]);
  });
  after(() => {
    execFileSync('umount', [full]);
    fx.cleanup();
  });

  for (const type of ['tar', 'docker', 'oci'] as const) {
    it(`says where -o type=${type} failed to write, exits 1 and leaves no partial file`, async () => {
      const ctx = fx.context(`export-${type}`, { Dockerfile: 'FROM busybox:local\nENV A=b\n' });
      const dest = join(full, `image-${type}.tar`);
      const r = await runStrata(['build', '-q', '-o', `type=${type},dest=${dest}`, ctx], { root: fx.root });
      assert.equal(r.code, 1, r.stderr);
      assert.doesNotMatch(r.stderr, CRASH);
      assert.match(r.stderr, new RegExp(`^error: writing ${dest}: .*no space left on device`, 'mi'));
      assert.deepEqual(readdirSync(full), [], 'nothing written to the destination directory');
      assert.deepEqual(leftovers(fx.root), NOTHING_LEFT);
    });
  }
});
