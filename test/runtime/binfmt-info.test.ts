import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hostPlatform } from '../../src/oci/index.ts';
import { strataWithBinfmt } from '../support/binfmt.ts';
import { runStrata, tempDir } from '../support/cli.ts';

/** Debian's aarch64 handler as binfmt_misc shows it, with `flags`. */
function aarch64Entry(flags: string): string {
  return [
    'enabled',
    'interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P',
    `flags: ${flags}`,
    'offset 0',
    'magic 7f454c460201010000000000000000000200b700',
    'mask ffffffffffffff00fffffffffffffffffeffffff',
    '',
  ].join('\n');
}

interface PlatformReport {
  platform: string;
  how: string;
  reason: string;
  hint?: string;
  handler?: { name: string; interpreter: string; flags: string };
  verified?: boolean;
}

describe('strata info: the platforms RUN steps can run', () => {
  const dir = tempDir('strata-info-platforms-');
  after(() => dir.cleanup());
  const root = join(dir.path, 'store');
  const host = `linux/${hostPlatform().architecture}`;
  before(async () => {
    // The kernel's real handler, which the probe runs through (idempotent).
    const r = await runStrata(['binfmt', '--install', 'arm64']);
    if (r.code !== 0) throw new Error(`strata binfmt --install arm64 failed: ${r.stderr}`);
  });

  it('says emulated, through which interpreter with which flags, when a handler with F is registered (a test program ran)', async () => {
    const r = await strataWithBinfmt({ 'qemu-aarch64': aarch64Entry('POCF') }, ['info', '--json'], root);
    assert.equal(r.code, 0, r.stderr);
    const platforms = JSON.parse(r.stdout).platforms as PlatformReport[];
    assert.deepEqual(platforms[0], { platform: host, how: 'native', reason: "the host's own architecture" });
    const arm64 = platforms.find((p) => p.platform === 'linux/arm64');
    assert.equal(arm64?.how, 'emulated');
    assert.deepEqual(arm64?.handler, {
      name: 'qemu-aarch64',
      interpreter: '/usr/libexec/qemu-binfmt/aarch64-binfmt-P',
      flags: 'POCF',
    });
    // The probe ran through the kernel's real handler.
    assert.equal(arm64?.verified, true);
    const riscv = platforms.find((p) => p.platform === 'linux/riscv64');
    assert.equal(riscv?.how, 'unavailable');
    assert.equal(riscv?.reason, 'no binfmt_misc handler for riscv64 programs is registered');
    assert.equal(riscv?.hint, "register QEMU's emulator for it (as root): strata binfmt --install riscv64");
  });

  it('says unavailable, and why, for a handler without the F flag', async () => {
    const r = await strataWithBinfmt({ 'qemu-aarch64': aarch64Entry('OP') }, ['info'], root);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^ {2}linux\/arm64 +unavailable — binfmt_misc handler qemu-aarch64 has no F flag \(flags OP\), so the kernel looks for \/usr\/libexec\/qemu-binfmt\/aarch64-binfmt-P inside each image's root filesystem, where it is not \(re-register it with the F flag \(as root\): strata binfmt --install arm64\)$/m,
    );
    assert.match(
      r.stdout,
      new RegExp(`^ {2}${host.replace('/', '\\/')} +native — the host's own architecture$`, 'm'),
    );
  });

  it('says binfmt_misc is disabled when its status says so', async () => {
    const r = await strataWithBinfmt(
      { status: 'disabled\n', 'qemu-aarch64': aarch64Entry('POCF') },
      ['info', '--json'],
      root,
    );
    assert.equal(r.code, 0, r.stderr);
    const arm64 = (JSON.parse(r.stdout).platforms as PlatformReport[]).find(
      (p) => p.platform === 'linux/arm64',
    );
    assert.equal(arm64?.how, 'unavailable');
    assert.equal(arm64?.reason, 'binfmt_misc is disabled (its status file says so)');
  });
});
