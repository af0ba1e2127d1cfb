import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { analyzeImageWithFiles, categorizePath, compareImages } from '../../src/analyze/index.ts';
import { Store } from '../../src/store/index.ts';
import { tempDir } from '../support/cli.ts';
import { writeFixtureImage } from './fixture-image.ts';

describe('compareImages', () => {
  const dir = tempDir('strata-compare-');
  after(() => dir.cleanup());

  it('explains a single-stage vs multi-stage difference by directory and kind', async () => {
    const store = await Store.open(`${dir.path}/store`);
    const base = { 'bin/sh': 1000, 'etc/passwd': 50 };
    const single = await writeFixtureImage(store, dir.path, 'single:1', [
      { createdBy: 'base', files: base },
      {
        createdBy: 'RUN build',
        files: {
          'usr/local/go/bin/go': 60000,
          'usr/local/go/pkg/tool/compile': 30000,
          'root/.cache/go-build/00/obj': 20000,
          'app/node_modules/left-pad/index.js': 5000,
          'app/server': 8000,
        },
      },
    ]);
    const multi = await writeFixtureImage(store, dir.path, 'multi:1', [
      { createdBy: 'base', files: base },
      { createdBy: 'COPY --from=build /app/server /app/server', files: { 'app/server': 8000 } },
    ]);
    const c = compareImages(
      { name: 'single:1', ...(await analyzeImageWithFiles(single.image)) },
      { name: 'multi:1', ...(await analyzeImageWithFiles(multi.image)) },
    );
    assert.equal(c.old.sizeBytes, 124050);
    assert.equal(c.new.sizeBytes, 9050);
    assert.equal(c.ratio, 124050 / 9050);
    assert.deepEqual(
      c.dropped.map((d) => [d.path, d.oldBytes, d.newBytes, d.category]),
      [
        ['/usr/local/go/bin/', 60000, 0, 'toolchain'],
        ['/usr/local/go/pkg/', 30000, 0, 'toolchain'],
        ['/root/.cache/go-build/00/', 20000, 0, 'cache'],
        ['/app/node_modules/left-pad/', 5000, 0, 'dev-dependencies'],
      ],
    );
    assert.deepEqual(c.droppedByCategory, [
      { category: 'toolchain', bytes: 90000 },
      { category: 'cache', bytes: 20000 },
      { category: 'dev-dependencies', bytes: 5000 },
    ]);
    assert.deepEqual(c.added, []);
  });

  it('categorises well-known paths', () => {
    assert.deepEqual(
      [
        '/usr/lib/gcc/x86_64-linux-gnu/12/cc1',
        '/var/lib/apt/lists/x_Packages',
        '/srv/app/node_modules/a/b.js',
        '/usr/share/doc/bash/copyright',
        '/var/lib/dpkg/status',
        '/usr/bin/bash',
      ].map(categorizePath),
      ['toolchain', 'cache', 'dev-dependencies', 'docs', 'package-manager', 'other'],
    );
  });
});
