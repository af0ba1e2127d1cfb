import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  chownSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import {
  type CacheMountIdentity,
  type CacheMountManifest,
  packCacheMount,
  parseCacheMountManifest,
  removeCacheMounts,
  restoreCacheMount,
} from '../../src/cache/index.ts';
import { Store } from '../../src/store/index.ts';
import { processStartTime } from '../../src/util/index.ts';
import { listTree } from '../support/tree-listing.ts';

const identity: CacheMountIdentity = { id: 'go-build', platform: 'linux/amd64', uid: 0, gid: 0, mode: 0o755 };

async function manifestOf(store: Store, digest: string): Promise<CacheMountManifest> {
  const raw = await store.blobs.read(digest as never);
  return parseCacheMountManifest(JSON.parse(gunzipSync(raw).toString('utf8')));
}

describe('cache mount pieces: pack, restore, and what a manifest may say', () => {
  let work: string;
  let store: Store;
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'strata-cmpieces-'));
    store = await Store.open(join(work, 'store'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('restores a packed tree exactly: content, modes, owners, symlinks, times; hard links as copies', async () => {
    const src = join(work, 'src');
    mkdirSync(join(src, 'a/b'), { recursive: true });
    for (let i = 0; i < 60; i++) writeFileSync(join(src, 'a', `f${i}`), randomBytes(9000 + i));
    writeFileSync(join(src, 'a/b/big'), randomBytes(1_500_000));
    writeFileSync(join(src, 'empty'), '');
    writeFileSync(join(src, 'setuid'), 'x', { mode: 0o4755 });
    chownSync(join(src, 'a/f3'), 1234, 5678);
    linkSync(join(src, 'a/f1'), join(src, 'hard'));
    symlinkSync('a/b/big', join(src, 'link'));
    utimesSync(join(src, 'a/f2'), new Date('2021-02-03T04:05:06Z'), new Date('2020-01-02T03:04:05Z'));
    const packed = await packCacheMount(store, src, identity);
    assert.equal(packed.ref.files, 64);
    const manifest = await manifestOf(store, packed.ref.manifest.digest);
    const dest = join(work, 'dest');
    const placed = await restoreCacheMount(manifest, dest, (i) =>
      store.blobs.open(manifest.pieces[i]!.digest),
    );
    assert.equal(placed, true);
    // Times first: reading the files (listTree) moves their access times.
    assert.equal(statSync(join(dest, 'a/f2')).mtime.toISOString(), '2020-01-02T03:04:05.000Z');
    assert.equal(statSync(join(dest, 'a/f2')).atime.toISOString(), '2021-02-03T04:05:06.000Z');
    assert.equal(statSync(join(dest, 'hard')).nlink, 1);
    assert.deepEqual(listTree(dest), listTree(src));

    // Packing again makes no new piece; changing one small file makes exactly one.
    const again = await packCacheMount(store, src, identity);
    assert.equal(again.newPieces, 0);
    assert.deepEqual(again.pieces, packed.pieces);
    writeFileSync(join(src, 'a/f30'), randomBytes(9030));
    const changed = await packCacheMount(store, src, identity);
    assert.equal(changed.newPieces, 1);
    const kept = new Set(packed.pieces.map((p) => p.digest));
    assert.equal(changed.pieces.filter((p) => !kept.has(p.digest)).length, 1);

    // A directory that appeared meanwhile stays; the restore's copy is dropped.
    const again2 = await restoreCacheMount(manifest, dest, (i) =>
      store.blobs.open(manifest.pieces[i]!.digest),
    );
    assert.equal(again2, false);
  });

  it('prune removes what a killed restore left, and leaves a running one', async () => {
    const root = join(work, 'sweep');
    const mounts = join(root, 'cache-mounts');
    const killed = join(mounts, `${'a'.repeat(32)}.restore-999999999-1-abcd`);
    const running = join(
      mounts,
      `${'b'.repeat(32)}.restore-${process.pid}-${processStartTime(process.pid)}-abcd`,
    );
    mkdirSync(join(killed, 'x'), { recursive: true });
    mkdirSync(running, { recursive: true });
    assert.deepEqual(await removeCacheMounts(root, []), []);
    assert.equal(existsSync(killed), false);
    assert.equal(existsSync(running), true);
  });

  it('refuses manifests whose paths escape, repeat, or lie below a symlink, and ranges outside a piece', () => {
    const base = {
      version: 1,
      ...identity,
      pieces: [
        {
          mediaType: 'application/vnd.strata.cachemount.piece.v1+gzip',
          digest: `sha256:${'a'.repeat(64)}`,
          size: 10,
          contentDigest: `sha256:${'b'.repeat(64)}`,
          contentSize: 5,
        },
      ],
    };
    const entry = { mode: 0o644, uid: 0, gid: 0, mtime: 0, used: 0 };
    const cases: Array<[string, unknown[], RegExp]> = [
      ['dot-dot', [{ ...entry, path: '../etc/passwd', type: 'dir' }], /bad path "..\/etc\/passwd"/],
      ['absolute', [{ ...entry, path: '/etc', type: 'dir' }], /bad path "\/etc"/],
      ['unclean', [{ ...entry, path: 'a//b', type: 'dir' }], /bad path "a\/\/b"/],
      [
        'twice',
        [
          { ...entry, path: 'a', type: 'dir' },
          { ...entry, path: 'a', type: 'dir' },
        ],
        /a listed twice/,
      ],
      [
        'below a symlink',
        [
          { ...entry, path: 'l', type: 'symlink', target: '/etc' },
          { ...entry, path: 'l/passwd', type: 'file', piece: 0, offset: 0, size: 1 },
        ],
        /l\/passwd is below a symlink/,
      ],
      [
        'outside its piece',
        [{ ...entry, path: 'f', type: 'file', piece: 0, offset: 3, size: 3 }],
        /f is outside its piece/,
      ],
      [
        'no such piece',
        [{ ...entry, path: 'f', type: 'file', piece: 1, offset: 0, size: 1 }],
        /outside its piece/,
      ],
    ];
    for (const [name, entries, error] of cases)
      assert.throws(() => parseCacheMountManifest({ ...base, entries }), error, name);
  });
});
