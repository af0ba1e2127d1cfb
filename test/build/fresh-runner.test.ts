import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { buildRun } from '../support/build-run.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

/** Every path under `dir` (relative), recursively. */
function walk(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String);
}

/** The unpacked layers of a store (the overlay snapshotter's, which builds use on this machine). */
function unpackedLayers(root: string): string[] {
  return readdirSync(join(root, 'snapshots', 'overlay', 'layers'));
}

describe('a fresh runner importing a registry cache unpacks only what its missed steps run on', () => {
  let machineA: BuildFixture;
  let registry: TestRegistry;
  let ctx: string;
  const fresh: BuildFixture[] = [];
  const ref = () => `${registry.host}/ci/app:cache`;
  before(async () => {
    registry = await startRegistry();
    machineA = await buildFixture('strata-fresh-a-');
    ctx = machineA.context('app', {
      Dockerfile: [
        'FROM busybox:local AS build',
        'COPY src.txt /src/',
        'RUN head -c 100000 /dev/urandom > /src/builder-only-blob && cat /src/src.txt > /src/out',
        'FROM busybox:local',
        'COPY --from=build /src/out /app/out',
        'COPY app.txt /app/',
        'RUN cat /app/app.txt /app/out > /app/done',
        '',
      ].join('\n'),
      'src.txt': 'source\n',
      'app.txt': 'app 1\n',
    });
    const first = await buildRun(machineA, ctx, ['--cache-to', `type=registry,ref=${ref()},mode=max`]);
    assert.equal(first.cached.length, 0);
  });
  after(async () => {
    await registry.stop();
    machineA.cleanup();
    for (const f of fresh) f.cleanup();
  });

  it('every step a cache hit: nothing is unpacked at all', async () => {
    const runner = await buildFixture('strata-fresh-b-');
    fresh.push(runner);
    const r = await buildRun(runner, ctx, ['--cache-from', `type=registry,ref=${ref()}`]);
    assert.deepEqual(r.ran, []);
    assert.deepEqual(unpackedLayers(runner.root), []);
  });

  it('the last step missed: only the final stage’s chain is unpacked, never the builder stage’s layers', async () => {
    const runner = await buildFixture('strata-fresh-c-');
    fresh.push(runner);
    writeFileSync(join(ctx, 'app.txt'), 'app 2\n');
    try {
      const r = await buildRun(runner, ctx, ['--cache-from', `type=registry,ref=${ref()}`]);
      assert.deepEqual(r.ran, ['COPY app.txt /app/', 'RUN cat /app/app.txt /app/out > /app/done']);
    } finally {
      writeFileSync(join(ctx, 'app.txt'), 'app 1\n');
    }
    // busybox, the COPY --from layer, and the two layers the build made: no more.
    assert.ok(unpackedLayers(runner.root).length <= 4, unpackedLayers(runner.root).join(', '));
    const snapshots = walk(join(runner.root, 'snapshots'));
    assert.deepEqual(
      snapshots.filter((p) => p.endsWith('builder-only-blob')),
      [],
      'the builder stage was unpacked although all its steps hit',
    );
    assert.ok(
      snapshots.some((p) => p.endsWith('app/done')),
      'the final RUN layer is in the store',
    );
  });
});
