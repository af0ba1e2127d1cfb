import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { buildRun } from '../support/build-run.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

/** A build of `ctx` into `root`: which steps ran, which were cached, the image digest. */
function build(root: string, ctx: string, work: string, extra: string[]) {
  return buildRun({ root, work }, ctx, extra);
}

describe('build cache shared through an OCI registry and an OCI layout', () => {
  let fx: BuildFixture;
  let second: BuildFixture;
  let registry: TestRegistry;
  let ctx: string;
  before(async () => {
    registry = await startRegistry();
    fx = await buildFixture('strata-rcache-a-');
    second = await buildFixture('strata-rcache-b-'); // another machine: its own STRATA_ROOT
    ctx = fx.context('app', {
      Dockerfile: [
        'FROM busybox:local AS build',
        'COPY src.txt /src/',
        'RUN head -c 100000 /dev/urandom > /src/blob && cat /src/src.txt > /src/out',
        'FROM busybox:local',
        'COPY --from=build /src/out /app/out',
        'RUN echo done > /app/done',
        '',
      ].join('\n'),
      'src.txt': 'hello\n',
    });
  });
  after(async () => {
    await registry.stop();
    fx.cleanup();
    second.cleanup();
  });

  it('a second store that imports the registry cache (mode=max) re-runs nothing and builds the same digest', async () => {
    const ref = `${registry.host}/cache/app:buildcache`;
    const first = await build(fx.root, ctx, fx.work, ['--cache-to', `type=registry,ref=${ref},mode=max`]);
    assert.equal(first.cached.length, 0);
    const imported = await build(second.root, ctx, second.work, ['--cache-from', `type=registry,ref=${ref}`]);
    assert.deepEqual(imported.ran, []);
    assert.equal(imported.digest, first.digest);
    // Only the layers the final image needs were fetched: the builder's ~100 kB random-data layer
    // (between the small layers and the ~1 MB busybox base) never came over.
    const sizes = readdirSync(join(second.root, 'blobs/sha256')).map(
      (b) => statSync(join(second.root, 'blobs/sha256', b)).size,
    );
    assert.deepEqual(
      sizes.filter((n) => n > 90_000 && n < 500_000),
      [],
      `blob sizes in the second store: ${sizes.join(', ')}`,
    );
    const firstSizes = readdirSync(join(fx.root, 'blobs/sha256')).map(
      (b) => statSync(join(fx.root, 'blobs/sha256', b)).size,
    );
    assert.equal(
      firstSizes.filter((n) => n > 90_000 && n < 500_000).length,
      1,
      'the first store has the builder layer',
    );
  });

  it('mode=min exports only the final image layers, so builder steps run again elsewhere', async () => {
    const ref = `${registry.host}/cache/app:min`;
    await build(fx.root, ctx, fx.work, ['--cache-to', `type=registry,ref=${ref}`]);
    const third = await buildFixture('strata-rcache-c-');
    try {
      const r = await build(third.root, ctx, third.work, ['--cache-from', `type=registry,ref=${ref}`]);
      assert.deepEqual(r.ran, [
        'COPY src.txt /src/',
        'RUN head -c 100000 /dev/urandom > /src/blob && cat /src/src.txt > /src/out',
      ]);
    } finally {
      third.cleanup();
    }
  });

  it('round-trips through a local OCI layout (type=local)', async () => {
    const dir = join(fx.work, 'cache-layout');
    await build(fx.root, ctx, fx.work, ['--cache-to', `type=local,dest=${dir},mode=max`]);
    const fourth = await buildFixture('strata-rcache-d-');
    try {
      const r = await build(fourth.root, ctx, fourth.work, ['--cache-from', `type=local,src=${dir}`]);
      assert.deepEqual(r.ran, []);
    } finally {
      fourth.cleanup();
    }
  });
});
