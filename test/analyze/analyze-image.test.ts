import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  analyzeImage,
  analyzeImageWithFiles,
  largestDirectories,
  layerTable,
} from '../../src/analyze/index.ts';
import { destroyStore, Store } from '../../src/store/index.ts';
import { tempDir } from '../support/cli.ts';
import { WORKED_EXAMPLE, writeFixtureImage } from './fixture-image.ts';

describe('analyzeImage on the worked example (docs/analyze.md)', () => {
  const dir = tempDir('strata-analyze-');
  let store: Store;
  before(async () => {
    store = await Store.open(`${dir.path}/store`);
  });
  after(async () => {
    await destroyStore(`${dir.path}/store`);
    dir.cleanup();
  });

  it("computes dive's efficiency, wasted bytes and user wasted percent by hand-checked numbers", async () => {
    const { image } = await writeFixtureImage(store, dir.path, 'worked:1', WORKED_EXAMPLE);
    const a = await analyzeImage(image);
    // Σ min over paths: tool 1000 + conf 50 + a 500 + b 300 + x 700 + y 300 + big 0 + /cache 1000 + c 10.
    // Σ cumulative: 1000 + (100+200+50) + 500 + 300 + 700 + 300 + (4000+0) + 1000 + 10.
    assert.equal(a.efficiency, 3860 / 8160);
    assert.equal(a.wastedBytes, 350 + 4000);
    assert.equal(a.sizeBytes, 1900 + 5200 + 0 + 60);
    assert.equal(a.userSizeBytes, 5200 + 0 + 60);
    assert.equal(a.userWastedPercent, 4350 / 5260);
    assert.deepEqual(
      a.inefficientFiles.map((f) => [f.path, f.count, f.sizeBytes, f.layers]),
      [
        ['/tmp/big', 2, 4000, [1, 2]],
        ['/etc/conf', 3, 350, [0, 1, 3]],
      ],
    );
  });

  it('counts reclaimable bytes once each, with the steps that added and hid them', async () => {
    const { image } = await writeFixtureImage(store, dir.path, 'worked:2', WORKED_EXAMPLE);
    const { analysis: a, files } = await analyzeImageWithFiles(image);
    assert.equal(a.reclaimableBytes, 100 + 200 + 4000 + 1000 + 800);
    assert.equal(a.visibleBytes, 1060);
    assert.equal(a.sizeBytes - a.reclaimableBytes, a.visibleBytes);
    assert.deepEqual(
      a.wastedPaths.map((w) => [w.path, w.bytes, w.files, w.action, w.addedBy.layer, w.hiddenBy.layer]),
      [
        ['/tmp/big', 4000, 1, 'removed', 1, 2],
        ['/cache/', 1000, 2, 'removed', 1, 2],
        ['/data/', 800, 2, 'removed', 0, 3],
        ['/etc/conf', 200, 1, 'overwritten', 1, 3],
        ['/etc/conf', 100, 1, 'overwritten', 0, 1],
      ],
    );
    assert.equal(a.wastedPaths[0]!.addedBy.createdBy, 'RUN /bin/sh -c make-things # buildkit');
    assert.equal(a.wastedPaths[0]!.hiddenBy.createdBy, 'RUN /bin/sh -c rm -rf /tmp/big /cache # buildkit');
    assert.deepEqual(
      files.map((f) => [f.path, f.size, f.layer]),
      [
        ['/bin/tool', 1000, 0],
        ['/data/c', 10, 3],
        ['/etc/conf', 50, 3],
      ],
    );
  });

  it('lists the most specific directories holding most of what each layer adds', async () => {
    const { image } = await writeFixtureImage(store, dir.path, 'worked:3', WORKED_EXAMPLE);
    const a = await analyzeImage(image);
    assert.deepEqual(
      a.layers[1]!.largestDirectories.map((d) => [d.path, d.bytes, d.files]),
      [
        ['/tmp/', 4000, 1],
        ['/cache/', 1000, 2],
        ['/etc/', 200, 1],
      ],
    );
  });

  it('gives inspect its layer table: created_by, both sizes, file count', async () => {
    const { image } = await writeFixtureImage(store, dir.path, 'worked:4', WORKED_EXAMPLE, {
      emptyHistory: [{ before: 1, createdBy: 'ENV A=b' }],
    });
    const rows = await layerTable(image);
    assert.deepEqual(
      rows.map((r) => [r.createdBy, r.fileCount]),
      [
        ['/bin/sh -c #(nop) ADD file:base in /', 4],
        ['RUN /bin/sh -c make-things # buildkit', 4],
        ['RUN /bin/sh -c rm -rf /tmp/big /cache # buildkit', 0],
        ['COPY conf /etc/conf # buildkit', 2],
      ],
    );
    for (const [i, row] of rows.entries()) {
      assert.equal(row.compressedSize, image.layers[i]!.descriptor.size);
      assert.equal(row.uncompressedSize % 10240, 0, 'GNU tar pads archives to 10 KiB records');
    }
  });
});

describe('largestDirectories and grouped wasted paths', () => {
  it('names the deepest heavy directories, not their parents', () => {
    const files = [
      { path: '/usr/lib/gcc/x86_64-linux-gnu/12/cc1', size: 9000 },
      { path: '/usr/lib/gcc/x86_64-linux-gnu/12/lto1', size: 8000 },
      { path: '/var/cache/apt/archives/a.deb', size: 5000 },
      { path: '/var/cache/apt/archives/b.deb', size: 4000 },
      { path: '/etc/passwd', size: 10 },
    ];
    assert.deepEqual(largestDirectories(files), [
      { path: '/usr/lib/gcc/x86_64-linux-gnu/12/', bytes: 17000, files: 2 },
      { path: '/var/cache/apt/archives/', bytes: 9000, files: 2 },
    ]);
  });
});

describe('wasted paths group files one step removed from one directory', () => {
  const dir = tempDir('strata-analyze-group-');
  after(() => dir.cleanup());

  it('reports rm -rf dir/* as the directory, with its file count', async () => {
    const store = await Store.open(`${dir.path}/store`);
    const { image } = await writeFixtureImage(store, dir.path, 'apt:1', [
      { createdBy: 'base', files: { 'etc/os-release': 100 } },
      {
        createdBy: 'RUN apt-get install',
        files: {
          'var/cache/apt/archives/a.deb': 300,
          'var/cache/apt/archives/b.deb': 200,
          'var/lib/apt/lists/x': 100,
        },
      },
      {
        createdBy: 'RUN rm',
        files: {
          'var/cache/apt/archives/.wh.a.deb': 0,
          'var/cache/apt/archives/.wh.b.deb': 0,
          'var/lib/apt/lists/.wh.x': 0,
        },
      },
    ]);
    const a = await analyzeImage(image);
    assert.deepEqual(
      a.wastedPaths.map((w) => [w.path, w.bytes, w.files]),
      [
        ['/var/cache/apt/archives/', 500, 2],
        ['/var/lib/apt/lists/x', 100, 1],
      ],
    );
  });
});
