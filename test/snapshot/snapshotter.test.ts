import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  createReadStream,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { packChanges, packDirectory, writeLayerBlob } from '../../src/archive/index.ts';
import type { Layer } from '../../src/oci/index.ts';
import {
  chainIdOf,
  NativeSnapshotter,
  OverlaySnapshotter,
  type Snapshot,
  type Snapshotter,
} from '../../src/snapshot/index.ts';
import { tempDir } from '../support/cli.ts';
import { listTree } from '../support/tree-listing.ts';

let counter = 0;
async function layerFromDir(dir: string, work: string): Promise<Layer> {
  const file = join(work, `layer-${counter++}.tar.gz`);
  const blob = await writeLayerBlob(packDirectory(dir), { sink: file });
  return {
    descriptor: { mediaType: blob.mediaType, digest: blob.digest, size: blob.size },
    diffId: blob.diffId,
    open: async () => createReadStream(file),
  };
}

/** The same changes applied to a rootfs, as a RUN step might make them. */
function mutate(rootfs: string): void {
  writeFileSync(join(rootfs, 'etc/new.conf'), 'new\n');
  writeFileSync(join(rootfs, 'etc/motd'), 'changed\n');
  rmSync(join(rootfs, 'etc/remove-me'));
  const sub = statSync(join(rootfs, 'opaque/sub'));
  rmSync(join(rootfs, 'opaque'), { recursive: true });
  mkdirSync(join(rootfs, 'opaque'));
  writeFileSync(join(rootfs, 'opaque/only'), 'only\n');
  // Recreated inside the replaced directory with the lower one's very metadata: still an addition,
  // since the lower copy is hidden.
  mkdirSync(join(rootfs, 'opaque/sub'), { mode: sub.mode & 0o7777 });
  utimesSync(join(rootfs, 'opaque/sub'), sub.atime, sub.mtime);
  // A new subtree: everything in it is added.
  mkdirSync(join(rootfs, 'new/deep'), { recursive: true });
  writeFileSync(join(rootfs, 'new/deep/file'), 'deep\n');
  rmSync(join(rootfs, 'file-to-dir'));
  mkdirSync(join(rootfs, 'file-to-dir'));
  writeFileSync(join(rootfs, 'file-to-dir/inside'), 'x');
  rmSync(join(rootfs, 'dir-to-link'), { recursive: true });
  symlinkSync('/etc', join(rootfs, 'dir-to-link'));
  chmodSync(join(rootfs, 'bin/tool'), 0o4755);
}

function baseTree(dir: string): void {
  for (const d of ['etc', 'opaque/sub', 'dir-to-link/x', 'bin', 'untouched'])
    mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'etc/motd'), 'hello\n');
  writeFileSync(join(dir, 'etc/remove-me'), 'bye\n');
  writeFileSync(join(dir, 'opaque/a'), 'a');
  writeFileSync(join(dir, 'opaque/sub/b'), 'b');
  writeFileSync(join(dir, 'file-to-dir'), 'file');
  writeFileSync(join(dir, 'dir-to-link/x/y'), 'y');
  writeFileSync(join(dir, 'bin/tool'), '#!/bin/sh\n');
  chmodSync(join(dir, 'bin/tool'), 0o755);
  writeFileSync(join(dir, 'untouched/keep'), 'keep');
}

function describeSnapshotter(name: string, make: (dir: string) => Snapshotter) {
  describe(`${name} snapshotter`, () => {
    const work = tempDir(`strata-snap-${name}-`);
    after(() => work.cleanup());
    const snapshotter = make(join(work.path, 'snapshots'));
    let base: Snapshot;
    let expected: string[];

    it('unpacks layers into a snapshot whose view is the merged tree', async () => {
      const l1 = join(work.path, 'l1');
      baseTree(l1);
      const l2 = join(work.path, 'l2');
      mkdirSync(join(l2, 'etc'), { recursive: true });
      writeFileSync(join(l2, 'etc/second'), '2');
      const layers = [await layerFromDir(l1, work.path), await layerFromDir(l2, work.path)];
      base = await snapshotter.unpack(layers);
      assert.equal(base.chainId, chainIdOf(layers.map((l) => l.diffId)));
      const view = await snapshotter.view(base);
      try {
        assert.equal(readFileSync(join(view.path, 'etc/second'), 'utf8'), '2');
        assert.equal(readFileSync(join(view.path, 'etc/motd'), 'utf8'), 'hello\n');
      } finally {
        await view.release();
      }
      // A second unpack of the same layers reuses them.
      const again = await snapshotter.unpack(layers);
      assert.deepEqual(again.dirs, base.dirs);
    });

    it('reports exactly the changes a step made, and committing them reproduces the tree', async () => {
      const active = await snapshotter.prepare(base);
      mutate(active.rootfs);
      expected = listTree(active.rootfs);
      const changes = await active.changes();
      const summary = changes.map((c) => `${c.kind} ${c.path}`).sort();
      assert.deepEqual(
        summary,
        [
          'add bin/tool',
          'add dir-to-link',
          'add etc',
          'add etc/motd',
          'add etc/new.conf',
          'add file-to-dir',
          'add file-to-dir/inside',
          'add new',
          'add new/deep',
          'add new/deep/file',
          'add opaque',
          'add opaque/only',
          // The directory was removed and made again: opaque, on both snapshotters (overlayfs
          // marks it; the native differ sees a directory born during the step).
          'add opaque/sub',
          'opaque opaque',
          'whiteout etc/remove-me',
        ].sort(),
      );
      const tarFile = join(work.path, `step-${name}.tar`);
      const blob = await writeLayerBlob(packChanges(changes), { sink: tarFile, compression: 'none' });
      const listing = execFileSync('tar', ['-tf', tarFile], { encoding: 'utf8' });
      assert.match(listing, /^etc\/\.wh\.remove-me$/m);
      const next = await active.commit(blob.diffId);
      assert.equal(next.diffIds.length, 3);
      const view = await snapshotter.view(next);
      try {
        assert.deepEqual(listTree(view.path), expected);
      } finally {
        await view.release();
      }
    });

    it('mounts a chain that holds the same layers several times (empty, and one a later layer undid)', async () => {
      // A makes /dup/a; B deletes it and adds /dup/b; then A again, and an empty layer three times.
      const a = join(work.path, 'dup-a');
      mkdirSync(join(a, 'dup'), { recursive: true });
      writeFileSync(join(a, 'dup/a'), 'a');
      const b = join(work.path, 'dup-b');
      mkdirSync(join(b, 'dup'), { recursive: true });
      writeFileSync(join(b, 'dup/b'), 'b');
      const e = join(work.path, 'dup-empty');
      mkdirSync(e);
      const layerA = await layerFromDir(a, work.path);
      const layerE = await layerFromDir(e, work.path);
      const first = await snapshotter.unpack([layerE, layerA, layerE]);
      const active = await snapshotter.prepare(first);
      rmSync(join(active.rootfs, 'dup/a'));
      writeFileSync(join(active.rootfs, 'dup/b'), 'b');
      const tarFile = join(work.path, `dup-${name}.tar`);
      const blob = await writeLayerBlob(packChanges(await active.changes()), {
        sink: tarFile,
        compression: 'none',
      });
      await active.commit(blob.diffId);
      const layerB: Layer = {
        descriptor: { mediaType: blob.mediaType, digest: blob.digest, size: blob.size },
        diffId: blob.diffId,
        open: async () => createReadStream(tarFile),
      };
      // [E, A, E, B, A, E]: the upper A brings /dup/a back over B's whiteout.
      const chain = await snapshotter.unpack([layerE, layerA, layerE, layerB, layerA, layerE]);
      const next = await snapshotter.prepare(chain);
      try {
        assert.deepEqual(readdirSync(join(next.rootfs, 'dup')).sort(), ['a', 'b']);
        writeFileSync(join(next.rootfs, 'dup/c'), 'c');
      } finally {
        await next.discard();
      }
      // A read-only view of a chain of one layer repeated.
      const view = await snapshotter.view(await snapshotter.unpack([layerA, layerA, layerA]));
      try {
        assert.deepEqual(readdirSync(join(view.path, 'dup')), ['a']);
      } finally {
        await view.release();
      }
    });

    it('discards a step without a trace', async () => {
      const active = await snapshotter.prepare(base);
      writeFileSync(join(active.rootfs, 'junk'), 'junk');
      await active.discard();
      const view = await snapshotter.view(base);
      try {
        assert.throws(() => lstatSync(join(view.path, 'junk')), /ENOENT/);
      } finally {
        await view.release();
      }
    });

    it('sweeps what a build killed mid-step left (mounted rootfs, view) and keeps what lives', async () => {
      const dir = join(work.path, 'snapshots');
      // A build process killed with SIGKILL while a step's rootfs and a view of the base are open.
      const child = join(work.path, 'killed-build.mts');
      const src = join(import.meta.dirname, '..', '..', 'src', 'snapshot', 'index.ts');
      writeFileSync(
        child,
        [
          `import { NativeSnapshotter, OverlaySnapshotter } from ${JSON.stringify(src)};`,
          'const [dir, kind, base] = process.argv.slice(2);',
          "const s = kind === 'overlay' ? new OverlaySnapshotter(dir) : new NativeSnapshotter(dir);",
          'const snapshot = JSON.parse(base);',
          'await s.prepare(snapshot);',
          'await s.view(snapshot);',
          "process.kill(process.pid, 'SIGKILL');",
        ].join('\n'),
      );
      const killed = spawnSync(
        process.execPath,
        ['--import', 'tsx', child, dir, name, JSON.stringify(base)],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(killed.signal, 'SIGKILL', killed.stderr);
      const live = join(dir, 'active', `${process.pid}-0000live`);
      mkdirSync(live); // another build, still running
      const left = readdirSync(join(dir, 'active')).filter((n) => n !== `${process.pid}-0000live`);
      assert.ok(left.length > 0, 'the killed build left its rootfs behind');
      assert.ok((await snapshotter.sweepStale()) >= left.length);
      assert.deepEqual(readdirSync(join(dir, 'active')), [`${process.pid}-0000live`]);
      assert.ok(
        !readFileSync('/proc/self/mountinfo', 'utf8').includes(join(dir, 'active')),
        'nothing stays mounted',
      );
      rmSync(live, { recursive: true });
    });

    it('starts FROM scratch with an empty rootfs', async () => {
      const active = await snapshotter.prepare({
        kind: snapshotter.kind,
        chainId: '',
        diffIds: [],
        dirs: [],
      });
      assert.deepEqual(readdirSync(active.rootfs), []);
      writeFileSync(join(active.rootfs, 'app'), 'binary');
      const changes = await active.changes();
      assert.deepEqual(
        changes.map((c) => `${c.kind} ${c.path}`),
        ['add app'],
      );
      await active.discard();
    });
  });
}

describeSnapshotter('overlay', (dir) => new OverlaySnapshotter(dir));
describeSnapshotter('native', (dir) => new NativeSnapshotter(dir));

describe('overlay and native snapshotters', () => {
  it('produce the same layer for the same change: replaced directories opaque, rewritten files included', async () => {
    const work = tempDir('strata-snap-eq-');
    try {
      const l1 = join(work.path, 'l1');
      baseTree(l1);
      const layer = await layerFromDir(l1, work.path);
      const results: string[][] = [];
      for (const s of [
        new OverlaySnapshotter(join(work.path, 'o')),
        new NativeSnapshotter(join(work.path, 'n')),
      ]) {
        const base = await s.unpack([layer]);
        const active = await s.prepare(base);
        mutate(active.rootfs);
        // Written again with the same bytes and times, as a second identical COPY does: a change.
        const keep = statSync(join(active.rootfs, 'untouched/keep'));
        writeFileSync(join(active.rootfs, 'untouched/keep'), 'keep');
        utimesSync(join(active.rootfs, 'untouched/keep'), keep.atime, keep.mtime);
        const tarFile = join(work.path, `${s.kind}.tar`);
        await writeLayerBlob(packChanges(await active.changes()), { sink: tarFile, compression: 'none' });
        results.push(
          execFileSync('tar', ['-tvf', tarFile, '--numeric-owner'], { encoding: 'utf8' })
            .split('\n')
            .map((l) => l.replace(/\d{4}-\d\d-\d\d \d\d:\d\d/, 'TIME')),
        );
        await active.discard();
      }
      assert.deepEqual(results[0], results[1]);
      assert.ok(
        results[0]!.some((l) => l.endsWith(' untouched/keep')),
        'the rewritten file is in the layer',
      );
      assert.ok(
        results[0]!.some((l) => l.endsWith(' opaque/.wh..wh..opq')),
        'the replaced directory is opaque',
      );
    } finally {
      work.cleanup();
    }
  });
});
