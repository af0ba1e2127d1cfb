import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { applyLayer, packDirectory, type TarHeader, TarParser } from '../../src/archive/index.ts';
import {
  CAP_SETUID_BIND,
  collect,
  diffSnapshots,
  finishNode,
  makeRandomTree,
  run,
  scratchDirs,
  snapshotTree,
} from './helpers.ts';

const fresh = scratchDirs('strata-archive-gnu-');
const base = fresh('files');

/** A tree with one of everything GNU tar should list back. */
function specialTree(): string {
  const src = fresh('special');
  mkdirSync(join(src, 'tmp'));
  finishNode(join(src, 'tmp'), { uid: 0, gid: 0, mode: 0o1777, mtime: 1_600_000_000 });
  writeFileSync(join(src, 'ping'), 'binary');
  finishNode(join(src, 'ping'), {
    uid: 3_000_000,
    gid: 3_000_001,
    mode: 0o4755,
    mtime: 1_600_000_000,
    xattrs: { 'security.capability': CAP_SETUID_BIND, 'user.blob': Buffer.from([0, 0x80, 0x0a, 0xff]) },
  });
  run('ln', [join(src, 'ping'), join(src, 'ping-hard')]);
  symlinkSync('/etc/passwd', join(src, 'abs-link'));
  const longDir = `${'d'.repeat(120)}/${'e'.repeat(120)}`;
  mkdirSync(join(src, longDir), { recursive: true });
  writeFileSync(join(src, longDir, 'f'.repeat(100)), 'deep');
  symlinkSync('t'.repeat(200), join(src, 'long-target'));
  run('mknod', ['-m', '0620', join(src, 'tty9'), 'c', '4', '9']);
  run('mknod', ['-m', '0660', join(src, 'loop7'), 'b', '7', '7']);
  run('mknod', ['-m', '0600', join(src, 'pipe'), 'p']);
  writeFileSync(join(src, 'ünï-🙂'), 'utf8');
  return src;
}

describe('GNU tar as the oracle for our tars', () => {
  it('lists our entries with the expected names, types, modes, owners and link targets', async () => {
    const src = specialTree();
    const listing = run('tar', ['-tvv', '--numeric-owner', '-f', '-'], {
      input: await collect(packDirectory(src)),
    });
    const expect = [
      /^lrwxrwxrwx 0\/0 +0 .* abs-link -> \/etc\/passwd$/m,
      new RegExp(`^-rw-r--r-- 0/0 +4 .* ${'d'.repeat(120)}/${'e'.repeat(120)}/${'f'.repeat(100)}$`, 'm'),
      /^lrwxrwxrwx 0\/0 +0 .* long-target -> t{200}$/m,
      /^brw-rw---- 0\/0 +7,7 .* loop7$/m,
      /^-rwsr-xr-x 3000000\/3000001 +6 .* ping$/m,
      /^hrwsr-xr-x 3000000\/3000001 +0 .* ping-hard link to ping$/m,
      /^prw------- 0\/0 +0 .* pipe$/m,
      /^drwxrwxrwt 0\/0 +0 .* tmp\/$/m,
      /^crw--w---- 0\/0 +4,9 .* tty9$/m,
      /^-rw-r--r-- 0\/0 +4 .* ünï-🙂$/m,
    ];
    for (const pattern of expect) assert.match(listing, pattern);
    assert.doesNotMatch(listing, /root|nobody/, 'uname/gname are empty');
  });

  it('extracts our tars with xattrs intact: getcap sees the capability, the tree compares equal', async () => {
    const src = specialTree();
    const out = fresh('gnu-x');
    run('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-xpf', '-', '-C', out], {
      input: await collect(packDirectory(src)),
    });
    assert.match(run('getcap', [join(out, 'ping')]), /cap_setuid,cap_net_bind_service,cap_net_raw=ep/);
    assert.deepEqual(diffSnapshots(snapshotTree(src), snapshotTree(out)), []);
  });

  it('extracts random trees written by us identically to the source', async () => {
    for (const seed of [11, 12]) {
      const src = fresh('rand');
      makeRandomTree(src, seed);
      const out = fresh('rand-x');
      run('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-xpf', '-', '-C', out], {
        input: await collect(packDirectory(src)),
      });
      assert.deepEqual(diffSnapshots(snapshotTree(src), snapshotTree(out)), [], `seed ${seed}`);
    }
  });
});

describe('applying archives made by GNU tar', () => {
  for (const format of ['pax', 'gnu'] as const) {
    it(`applies a --format=${format} archive of a random tree exactly`, async () => {
      const src = fresh(`gnu-${format}`);
      makeRandomTree(src, 21);
      const args =
        format === 'gnu'
          ? ['--format=gnu']
          : ['--format=posix', '--xattrs', '--xattrs-include=*', '--pax-option=delete=atime,delete=ctime'];
      const file = join(base, `gnu-${format}.tar`);
      run('tar', [...args, '--numeric-owner', '--sort=name', '-cf', file, '-C', src, '.']);
      const dst = fresh(`gnu-${format}-dst`);
      const { createReadStream } = await import('node:fs');
      await applyLayer(createReadStream(file, { highWaterMark: 3000 }), dst);
      const want = snapshotTree(src);
      if (format === 'gnu') for (const info of want.values()) info.xattrs = {}; // GNU format has no xattrs
      assert.deepEqual(diffSnapshots(want, snapshotTree(dst)), []);
    });
  }

  it('reads GNU long names (L/K), base-256 ids and global PAX headers', async () => {
    const src = fresh('long');
    const deep = `${'x'.repeat(150)}/${'y'.repeat(150)}`;
    mkdirSync(join(src, deep), { recursive: true });
    writeFileSync(join(src, deep, 'z'.repeat(200)), 'long');
    symlinkSync('q'.repeat(300), join(src, 'l'));
    finishNode(join(src, deep, 'z'.repeat(200)), {
      uid: 9_000_000,
      gid: 8_000_000,
      mode: 0o640,
      mtime: 1_234_567_890,
    });
    const file = join(base, 'long.tar');
    run('tar', ['--format=gnu', '--numeric-owner', '-cf', file, '-C', src, '.']);
    const headers: TarHeader[] = [];
    const parser = new TarParser({ entry: (h) => headers.push(h), data: () => {}, entryEnd: () => {} });
    const { readFileSync } = await import('node:fs');
    parser.write(readFileSync(file));
    parser.end();
    const z = headers.find((h) => h.path.endsWith('z'.repeat(200)))!;
    assert.equal(z.path, `./${deep}/${'z'.repeat(200)}`);
    assert.equal(z.uid, 9_000_000);
    assert.equal(z.gid, 8_000_000);
    assert.equal(z.mtime, 1_234_567_890);
    assert.equal(headers.find((h) => h.path === './l')!.linkpath, 'q'.repeat(300));

    // A global header (typeflag g) applies to every later entry until overridden.
    const pax = join(base, 'global.tar');
    run('tar', ['--format=posix', '--pax-option=uid=4242', '-cf', pax, '-C', src, 'l']);
    const globals: TarHeader[] = [];
    const p2 = new TarParser({ entry: (h) => globals.push(h), data: () => {}, entryEnd: () => {} });
    p2.write(readFileSync(pax));
    p2.end();
    assert.equal(globals[0]!.uid, 4242);
  });
});

describe('apply reads streams of any chunking', () => {
  it('gives the same tree when the tar arrives one byte at a time', async () => {
    const src = fresh('chunks');
    makeRandomTree(src, 31, { files: 8 });
    const tar = await collect(packDirectory(src));
    const one = fresh('chunks-1');
    await applyLayer(
      Readable.from(
        (function* () {
          for (let i = 0; i < tar.length; i++) yield tar.subarray(i, i + 1);
        })(),
      ),
      one,
    );
    assert.deepEqual(diffSnapshots(snapshotTree(src), snapshotTree(one)), []);
  });
});
