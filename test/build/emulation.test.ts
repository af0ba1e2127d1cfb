import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { machine } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { strataWithBinfmt } from '../support/binfmt.ts';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { runStrata } from '../support/cli.ts';
import { makeForeignBusyboxTarball } from '../support/foreign-busybox.ts';
import { leftovers, NOTHING_LEFT } from '../support/leftovers.ts';

/** Issue 18: RUN steps of a foreign platform run under QEMU through binfmt_misc. */
describe('RUN on a foreign platform', () => {
  let fx: BuildFixture;
  let contexts = 0;
  before(async () => {
    fx = await buildFixture('strata-emulation-');
    for (const [arch, platform] of [
      ['arm64', 'linux/arm64'],
      ['armhf', 'linux/arm/v7'],
    ] as const) {
      const tarball = makeForeignBusyboxTarball(join(fx.work, `base-${arch}`), arch);
      const r = await runStrata(['import', '--platform', platform, tarball, `busybox-${arch}:local`], {
        root: fx.root,
        env: { SOURCE_DATE_EPOCH: '0' },
      });
      if (r.code !== 0) throw new Error(`import failed: ${r.stderr}`);
    }
    // The handlers the builds below need (idempotent: "registered already" when they are).
    const installed = await runStrata(['binfmt', '--install', 'arm64,arm']);
    if (installed.code !== 0) throw new Error(`strata binfmt --install failed: ${installed.stderr}`);
  });
  after(() => fx.cleanup());

  const context = (dockerfile: string) => fx.context(`ctx-${++contexts}`, { Dockerfile: dockerfile });

  it('runs an arm64 RUN step under QEMU: uname -m says aarch64, and the file it wrote is in the layer', async () => {
    const out = join(fx.work, 'out-arm64');
    const r = await runStrata(
      [
        'build',
        '--progress',
        'plain',
        '--platform',
        'linux/arm64',
        '-t',
        'emulated:arm64',
        '-o',
        `type=local,dest=${out}`,
        context('FROM busybox-arm64:local\nRUN uname -m > /arch && cat /arch\n'),
      ],
      { root: fx.root },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^#\d+ [\d.]+ aarch64$/m);
    assert.equal(readFileSync(join(out, 'arch'), 'utf8'), 'aarch64\n');
    const inspected = await runStrata(['inspect', 'emulated:arm64'], { root: fx.root });
    assert.equal(inspected.code, 0, inspected.stderr);
    assert.match(inspected.stdout, /^Platform: +linux\/arm64$/m);
  });

  it('runs an arm/v7 step under QEMU (armv7l), and sees the image platform, not the host, in its environment', async () => {
    const out = join(fx.work, 'out-armv7');
    const r = await runStrata(
      [
        'build',
        '--progress',
        'plain',
        '--platform',
        'linux/arm/v7',
        '-o',
        `type=local,dest=${out}`,
        context(
          'FROM busybox-armhf:local\nARG TARGETPLATFORM\nRUN echo "$(uname -m) $TARGETPLATFORM" > /arch\n',
        ),
      ],
      { root: fx.root },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(out, 'arch'), 'utf8'), 'armv7l linux/arm/v7\n');
  });

  it('fails before running, naming the platform and the fix, when no handler is registered', async () => {
    const r = await strataWithBinfmt(
      {},
      [
        'build',
        '--no-cache',
        '--progress',
        'plain',
        '--platform',
        'linux/arm64',
        context('FROM busybox-arm64:local\nRUN echo ran > /ran\n'),
      ],
      fx.root,
    );
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /Dockerfile:2: .*cannot run linux\/arm64 programs on this linux\/\w+ machine: no binfmt_misc handler for arm64 programs is registered/,
    );
    assert.match(r.stderr, /strata binfmt --install arm64/);
    assert.doesNotMatch(r.stderr, /exec format error|internal error|bug in strata/);
    assert.deepEqual(leftovers(fx.root), NOTHING_LEFT);
  });

  it('fails before running when the handler lacks the F flag (its emulator is not in the image)', async () => {
    const entry = [
      'enabled',
      'interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P',
      'flags: OP',
      'offset 0',
      'magic 7f454c460201010000000000000000000200b700',
      'mask ffffffffffffff00fffffffffffffffffeffffff',
      '',
    ].join('\n');
    const r = await strataWithBinfmt(
      { 'qemu-aarch64': entry },
      [
        'build',
        '--no-cache',
        '--progress',
        'plain',
        '--platform',
        'linux/arm64',
        context('FROM busybox-arm64:local\nRUN echo ran > /ran\n'),
      ],
      fx.root,
    );
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /binfmt_misc handler qemu-aarch64 has no F flag \(flags OP\), so the kernel looks for \/usr\/libexec\/qemu-binfmt\/aarch64-binfmt-P inside each image's root filesystem/,
    );
    assert.match(r.stderr, /re-register it with the F flag \(as root\): strata binfmt --install arm64/);
  });

  it("checks the base image's platform, not the one asked for: an amd64 base in an arm64 build runs natively (BuildKit's InvalidBaseImagePlatform warning)", async () => {
    const r = await strataWithBinfmt(
      {},
      [
        'build',
        '--no-cache',
        '--progress',
        'plain',
        '--platform',
        'linux/arm64',
        context('FROM busybox:local\nRUN uname -m\n'),
      ],
      fx.root,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^#\\d+ [\\d.]+ ${machine()}$`, 'm'));
    assert.match(r.stderr, /\[InvalidBaseImagePlatform\]/);
  });

  it('builds a host-platform stage without consulting binfmt_misc at all', async () => {
    const r = await strataWithBinfmt(
      {},
      ['build', '--no-cache', '--progress', 'plain', context('FROM busybox:local\nRUN uname -m\n')],
      fx.root,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^#\\d+ [\\d.]+ ${machine()}$`, 'm'));
  });
});
