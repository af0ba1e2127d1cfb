import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { getAttributeSync } from '@napi-rs/xattr';
import { applyLayer, type LayerChange, packChanges, packDirectory } from '../../src/archive/index.ts';
import {
  collect,
  diffSnapshots,
  finishNode,
  makeRandomTree,
  run,
  scratchDirs,
  snapshotTree,
} from './helpers.ts';

const fresh = scratchDirs('strata-archive-rt-');

describe('layer round trip: tree → tar → apply', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`reproduces random tree #${seed} exactly (types, modes, owners, xattrs, hardlinks, content, links)`, async () => {
      const src = fresh('src');
      makeRandomTree(src, seed);
      const tar = await collect(packDirectory(src));
      const dst = fresh('dst');
      // Feed the applier in odd-sized slices, as a network stream would.
      const slices: Buffer[] = [];
      for (let i = 0; i < tar.length; i += 1000 + (i % 7)) slices.push(tar.subarray(i, i + 1000 + (i % 7)));
      await applyLayer(Readable.from(slices), dst);
      assert.deepEqual(diffSnapshots(snapshotTree(src), snapshotTree(dst)), []);
    });
  }

  it('writes byte-identical tars for the same tree, whatever the creation order', async () => {
    const a = fresh('order-a');
    const b = fresh('order-b');
    for (const [dir, names] of [
      [a, ['z', 'a', 'é', 'B', 'a.b', 'a-b']],
      [b, ['a-b', 'é', 'a.b', 'B', 'a', 'z']],
    ] as const) {
      for (const name of names) {
        mkdirSync(join(dir, name));
        writeFileSync(join(dir, name, 'f'), name);
        finishNode(join(dir, name, 'f'), { uid: 0, gid: 0, mode: 0o644, mtime: 1_000_000 });
        finishNode(join(dir, name), { uid: 0, gid: 0, mode: 0o755, mtime: 1_000_000 });
      }
    }
    const ta = await collect(packDirectory(a));
    const tb = await collect(packDirectory(b));
    assert.ok(ta.equals(tb));
    const names = run('tar', ['-tf', '-'], { input: ta }).trim().split('\n');
    assert.deepEqual(names.slice(0, 6), ['B/', 'B/f', 'a/', 'a/f', 'a-b/', 'a-b/f']);
    assert.equal(names.at(-2), 'é/');
  });

  it('clamps mtimes to SOURCE_DATE_EPOCH and leaves older ones alone', async () => {
    const src = fresh('epoch');
    writeFileSync(join(src, 'new'), 'x');
    finishNode(join(src, 'new'), { uid: 0, gid: 0, mtime: 2_000_000_000 });
    writeFileSync(join(src, 'old'), 'y');
    finishNode(join(src, 'old'), { uid: 0, gid: 0, mtime: 1_000 });
    const listing = run('tar', ['--full-time', '--utc', '-tvf', '-'], {
      input: await collect(packDirectory(src, { sourceDateEpoch: 1_700_000_000 })),
    });
    assert.match(listing, /2023-11-14 22:13:20 new/);
    assert.match(listing, /1970-01-01 00:16:40 old/);
  });
});

describe('applying a layer over a lower tree', () => {
  it('applies deletions, file↔dir↔symlink replacements and an opaque dir to reach the upper tree', async () => {
    // Lower tree A, and the expected upper tree B built from a copy of A by real mutations.
    const a = fresh('lower');
    makeRandomTree(a, 42, { files: 40 });
    for (const d of ['gone-dir', 'opaque', 'opaque/keep-not', 'to-file', 'to-link']) mkdirSync(join(a, d));
    for (const f of [
      'gone-file',
      'opaque/old',
      'opaque/keep-not/x',
      'to-file/child',
      'to-link/child',
      'file-to-dir',
      'file-to-link',
    ])
      writeFileSync(join(a, f), f);
    writeFileSync(join(a, 'gone-dir/inner'), 'x');
    symlinkSync('/etc', join(a, 'link-to-dir'));
    symlinkSync('gone-file', join(a, 'link-to-file'));
    const b = fresh('upper');
    run('cp', ['-a', `${a}/.`, b]);

    const changes: LayerChange[] = [];
    const add = (path: string): void => {
      changes.push({ kind: 'add', path, source: join(b, path) });
    };
    // deletions
    rmSync(join(b, 'gone-file'));
    changes.push({ kind: 'whiteout', path: 'gone-file' });
    rmSync(join(b, 'gone-dir'), { recursive: true });
    changes.push({ kind: 'whiteout', path: 'gone-dir' });
    // dir → file, dir → symlink, file → dir, file → symlink, symlink → dir, symlink → file
    rmSync(join(b, 'to-file'), { recursive: true });
    writeFileSync(join(b, 'to-file'), 'now a file');
    add('to-file');
    rmSync(join(b, 'to-link'), { recursive: true });
    symlinkSync('/usr', join(b, 'to-link'));
    add('to-link');
    rmSync(join(b, 'file-to-dir'));
    mkdirSync(join(b, 'file-to-dir'));
    writeFileSync(join(b, 'file-to-dir/inside'), 'in');
    add('file-to-dir');
    add('file-to-dir/inside');
    rmSync(join(b, 'file-to-link'));
    symlinkSync('to-file', join(b, 'file-to-link'));
    add('file-to-link');
    rmSync(join(b, 'link-to-dir'));
    mkdirSync(join(b, 'link-to-dir'), { mode: 0o1777 });
    add('link-to-dir');
    rmSync(join(b, 'link-to-file'));
    writeFileSync(join(b, 'link-to-file'), 'was a link');
    add('link-to-file');
    // opaque dir: everything below replaced by one new file
    rmSync(join(b, 'opaque'), { recursive: true });
    mkdirSync(join(b, 'opaque'));
    writeFileSync(join(b, 'opaque/new'), 'new');
    add('opaque');
    changes.push({ kind: 'opaque', path: 'opaque' });
    add('opaque/new');
    // a new hardlinked pair and a changed mode
    writeFileSync(join(b, 'h1'), 'shared');
    run('ln', [join(b, 'h1'), join(b, 'h2')]);
    add('h2');
    add('h1');
    run('chmod', ['4711', join(b, 'to-file')]);
    const layer = await collect(packChanges(changes));
    const listing = run('tar', ['-tvf', '-'], { input: layer });
    assert.match(listing, /^h.* h2 link to h1$/m, 'the first hardlink in sorted order carries the content');
    assert.match(
      listing,
      /opaque\/\n.*opaque\/\.wh\.\.wh\.\.opq\n/,
      'the opaque marker follows its directory',
    );

    const x = fresh('applied');
    run('cp', ['-a', `${a}/.`, x]);
    const result = await applyLayer(Readable.from([layer]), x);
    assert.equal(result.whiteouts, 3);
    const problems = diffSnapshots(
      snapshotTree(b, { dirMtimes: false }),
      snapshotTree(x, { dirMtimes: false }),
    );
    assert.deepEqual(problems, []);
  });

  it('keeps entries the same layer wrote before a whiteout or opaque marker naming them', async () => {
    const lower = fresh('same-layer');
    mkdirSync(join(lower, 'd'));
    writeFileSync(join(lower, 'd/lower'), 'l');
    const upper = fresh('same-layer-src');
    mkdirSync(join(upper, 'd'));
    writeFileSync(join(upper, 'd/a-new'), 'n');
    // Marker sorted after a sibling, as some writers emit it.
    const tarBytes = await collect(
      packChanges([
        { kind: 'add', path: 'd', source: join(upper, 'd') },
        { kind: 'add', path: 'd/a-new', source: join(upper, 'd/a-new') },
      ]),
    );
    const { craftTar } = await import('./helpers.ts');
    const marker = craftTar([{ name: 'd/.wh..wh..opq' }, { name: 'd/.wh.a-new' }], { end: false });
    const combined = Buffer.concat([
      tarBytes.subarray(0, tarBytes.length - 1024),
      marker,
      Buffer.alloc(1024),
    ]);
    await applyLayer(Readable.from([combined]), lower);
    assert.deepEqual([...snapshotTree(lower).keys()], ['d', 'd/a-new']);
  });

  it('unpacks whiteouts and opaque dirs in overlay form (0:0 char devices, trusted.overlay.opaque=y)', async () => {
    const src = fresh('ovl-src');
    mkdirSync(join(src, 'o'));
    writeFileSync(join(src, 'o/f'), 'f');
    const layer = await collect(
      packChanges([
        { kind: 'add', path: 'o', source: join(src, 'o') },
        { kind: 'opaque', path: 'o' },
        { kind: 'add', path: 'o/f', source: join(src, 'o/f') },
        { kind: 'whiteout', path: 'deleted' },
        { kind: 'whiteout', path: 'o/sub/deep' },
      ]),
    );
    const dst = fresh('ovl-dst');
    await applyLayer(Readable.from([layer]), dst, { whiteouts: 'overlay' });
    const wh = lstatSync(join(dst, 'deleted'));
    assert.ok(wh.isCharacterDevice());
    assert.equal(wh.rdev, 0);
    assert.equal(wh.uid, 0);
    assert.ok(lstatSync(join(dst, 'o/sub/deep')).isCharacterDevice());
    assert.equal(getAttributeSync(join(dst, 'o'), 'trusted.overlay.opaque')?.toString(), 'y');

    // …and packing that upperdir again gives back the same layer.
    const again = await collect(packDirectory(dst, { overlayUpperdir: true }));
    const list = (t: Buffer): string[] => run('tar', ['-tf', '-'], { input: t }).trim().split('\n');
    assert.deepEqual(
      list(again).filter((p) => p !== 'o/sub/'),
      list(layer),
    );
  });

  it('copies metadata of parents the layer omits from the lower layers when unpacking alone', async () => {
    const lower = fresh('parents-lower');
    mkdirSync(join(lower, 'a/b'), { recursive: true });
    finishNode(join(lower, 'a/b'), { uid: 1000, gid: 1001, mode: 0o750, mtime: 1_111_111_111 });
    finishNode(join(lower, 'a'), { uid: 7, gid: 8, mode: 0o711, mtime: 1_222_222_222 });
    const { craftTar } = await import('./helpers.ts');
    const dst = fresh('parents-dst');
    await applyLayer(
      Readable.from([craftTar([{ name: 'a/b/.wh.c' }, { name: 'a/new/f', content: 'x' }])]),
      dst,
      {
        whiteouts: 'overlay',
        parentsFrom: [lower],
      },
    );
    const got = snapshotTree(dst);
    assert.deepEqual(
      { ...got.get('a/b'), xattrs: undefined },
      { type: 'dir', mode: 0o750, uid: 1000, gid: 1001, mtime: 1_111_111_111, xattrs: undefined },
    );
    assert.equal(got.get('a')!.mode, 0o711);
    assert.equal(got.get('a')!.uid, 7);
    assert.equal(got.get('a/new')!.mode, 0o755, 'a parent no lower layer has is made 0755');
    assert.ok(lstatSync(join(dst, 'a/b/c')).isCharacterDevice());
  });

  it('turns a whiteout followed by a new directory of the same name into an opaque directory (overlay form)', async () => {
    const { craftTar } = await import('./helpers.ts');
    const dst = fresh('wh-then-dir');
    await applyLayer(
      Readable.from([
        craftTar([{ name: '.wh.x' }, { name: 'x/', type: '5', mode: 0o755 }, { name: 'x/f', content: 'f' }]),
      ]),
      dst,
      { whiteouts: 'overlay' },
    );
    assert.ok(lstatSync(join(dst, 'x')).isDirectory());
    assert.equal(getAttributeSync(join(dst, 'x'), 'trusted.overlay.opaque')?.toString(), 'y');
    // applied over a lower tree instead, the lower x is simply gone
    const lower = fresh('wh-then-dir-lower');
    mkdirSync(join(lower, 'x'));
    writeFileSync(join(lower, 'x/old'), 'old');
    await applyLayer(
      Readable.from([
        craftTar([{ name: '.wh.x' }, { name: 'x/', type: '5', mode: 0o755 }, { name: 'x/f', content: 'f' }]),
      ]),
      lower,
    );
    assert.deepEqual([...snapshotTree(lower).keys()], ['x', 'x/f']);
  });

  it('packs an overlay upperdir and the equivalent change list into byte-identical layers', async () => {
    const upper = fresh('upper-equiv');
    mkdirSync(join(upper, 'etc/opq'), { recursive: true });
    writeFileSync(join(upper, 'etc/opq/new'), 'new');
    writeFileSync(join(upper, 'etc/conf'), 'conf');
    run('mknod', [join(upper, 'etc/deleted'), 'c', '0', '0']);
    run('mknod', [join(upper, 'gone'), 'c', '0', '0']);
    const { setAttributeSync } = await import('@napi-rs/xattr');
    setAttributeSync(join(upper, 'etc/opq'), 'trusted.overlay.opaque', 'y');
    for (const p of ['etc/opq/new', 'etc/conf', 'etc/opq', 'etc'])
      finishNode(join(upper, p), { uid: 0, gid: 0, mtime: 1_650_000_000 });
    const fromUpper = await collect(
      packDirectory(upper, { overlayUpperdir: true, sourceDateEpoch: 1_700_000_000 }),
    );
    const fromChanges = await collect(
      packChanges(
        [
          { kind: 'whiteout', path: 'gone' },
          { kind: 'add', path: 'etc/opq/new', source: join(upper, 'etc/opq/new') },
          { kind: 'whiteout', path: 'etc/deleted' },
          { kind: 'add', path: 'etc', source: join(upper, 'etc') },
          { kind: 'opaque', path: 'etc/opq' },
          { kind: 'add', path: 'etc/conf', source: join(upper, 'etc/conf') },
          { kind: 'add', path: 'etc/opq', source: join(upper, 'etc/opq') },
        ],
        { sourceDateEpoch: 1_700_000_000 },
      ),
    );
    assert.deepEqual(run('tar', ['-tf', '-'], { input: fromUpper }).trim().split('\n'), [
      '.wh.gone',
      'etc/',
      'etc/.wh.deleted',
      'etc/conf',
      'etc/opq/',
      'etc/opq/.wh..wh..opq',
      'etc/opq/new',
    ]);
    assert.ok(fromUpper.equals(fromChanges));
  });

  it('leaves ownership to the applying user when asked not to preserve it', async () => {
    const { craftTar } = await import('./helpers.ts');
    const dst = fresh('no-chown');
    const tar = craftTar([
      { name: 'd/', type: '5', uid: 1234, gid: 4321, mode: 0o750 },
      { name: 'd/f', uid: 1234, gid: 4321, mode: 0o4755, content: 'x' },
    ]);
    await applyLayer(Readable.from([tar]), dst, { preserveOwnership: false });
    const got = snapshotTree(dst);
    assert.equal(got.get('d/f')!.uid, process.getuid!());
    assert.equal(got.get('d/f')!.mode, 0o4755);
    assert.equal(got.get('d')!.mode, 0o750);
  });
});
