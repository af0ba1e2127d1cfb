import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { analyzeImage, attributeBytes, measureAttribution } from '../../src/analyze/index.ts';
import { imageNameOf } from '../../src/api/images.ts';
import { formatAttribution } from '../../src/cli/analyze.ts';
import { parseDockerfile } from '../../src/dockerfile/index.ts';
import { validateImage } from '../../src/oci/index.ts';
import { planBuild } from '../../src/plan/index.ts';
import { destroyStore, Store } from '../../src/store/index.ts';
import { type BuildResult, buildImage, importImage } from '../../src/strata.ts';
import { tempDir } from '../support/cli.ts';
import { makeBusyboxTarball } from '../support/rootfs.ts';

const DOCKERFILE = `FROM busybox:local AS build
RUN head -c 300000 /dev/urandom > /artifact && head -c 100000 /dev/urandom > /junk
RUN rm /junk

FROM busybox:local
ENV APP=1
COPY --from=build /artifact /app/artifact
COPY hello.txt /app/
RUN head -c 50000 /dev/urandom > /tmp/big && echo ok
RUN rm /tmp/big
`;

describe('attributeBytes on a real multi-stage build', () => {
  const dir = tempDir('strata-attrib-');
  const root = join(dir.path, 'store');
  let store: Store;
  let result: BuildResult;
  before(async () => {
    store = await Store.open(root);
    const tarball = makeBusyboxTarball(dir.path);
    const imported = await importImage(store, { source: tarball });
    await store.tag(imageNameOf('busybox:local'), imported.manifest);
    const context = join(dir.path, 'ctx');
    mkdirSync(context);
    writeFileSync(join(context, 'Dockerfile'), DOCKERFILE);
    writeFileSync(join(context, 'hello.txt'), 'hello\n');
    result = await buildImage(store, { context, tags: ['app:1'] });
    assert.deepEqual(validateImage(result.image), []);
  });
  after(async () => {
    await store.close();
    await destroyStore(root);
    dir.cleanup();
  });

  it('names the stage each COPY --from took its bytes from, which BuildKit history does not', () => {
    const a = attributeBytes(result);
    assert.equal(a.aligned, true);
    assert.deepEqual(
      a.steps.map((s) => [s.layer, s.step?.line ?? null, s.stage?.name ?? null, s.source]),
      [
        [0, null, null, { kind: 'base-image', ref: 'busybox:local' }],
        [1, 7, 'stage-1', { kind: 'stage', stage: 0, name: 'build' }],
        [2, 8, 'stage-1', { kind: 'context' }],
        [3, 9, 'stage-1', { kind: 'stage', stage: 1, name: 'stage-1' }],
        [4, 10, 'stage-1', { kind: 'stage', stage: 1, name: 'stage-1' }],
      ],
    );
    assert.doesNotMatch(a.steps[1]!.createdBy ?? '', /--from/);
    const total = result.image.layers.reduce((n, l) => n + l.descriptor.size, 0);
    assert.equal(a.compressedBytes, total);
    assert.equal(
      a.bySource.reduce((n, s) => n + s.compressedBytes, 0),
      total,
    );
    assert.deepEqual(a.bySource.map((s) => s.label).sort(), [
      'base image busybox:local',
      'context',
      'stage build',
      'stage stage-1',
    ]);
    // 300000 random bytes do not compress: the build stage is the largest source after the base.
    const build = a.bySource.find((s) => s.label === 'stage build')!;
    assert.ok(
      build.compressedBytes > 300000 && build.compressedBytes < 310000,
      String(build.compressedBytes),
    );
  });

  it('formats the end-of-build summary by source and by step', () => {
    const text = formatAttribution(attributeBytes(result));
    assert.match(text, /^Image size by source \(\S+ compressed\):$/m);
    assert.match(text, /^ +3\d\d(\.\d)?kB {2}stage build \(1 layer\)$/m);
    // Layers numbered from 1, as `strata inspect` numbers them.
    assert.match(text, /^ {2}#1 +\S+ {4}\[base image busybox:local\]$/m);
    assert.match(
      text,
      /^ {2}#2 +3\d\d(\.\d)?kB {2}line 7: COPY --from=build \/artifact \/app\/artifact {2}\[stage build\]$/m,
    );
    assert.match(text, /^ {2}#3 +\d+B {2}line 8: COPY hello\.txt \/app\/ {2}\[context\]$/m);
    // With the graph, each step as the progress labelled it (BuildKit's `[stage i/n]`).
    const labelled = formatAttribution(attributeBytes(result), result.graph);
    assert.match(
      labelled,
      /^ {2}#2 +3\d\d(\.\d)?kB {2}\[stage-1 2\/5\] COPY --from=build \/artifact \/app\/artifact \(line 7\) {2}\[stage build\]$/m,
    );
  });

  it('measures uncompressed sizes too', async () => {
    const a = await measureAttribution(result);
    assert.ok(a.steps.every((s) => s.uncompressedBytes !== undefined && s.uncompressedBytes % 512 === 0));
    assert.equal(
      a.uncompressedBytes,
      a.steps.reduce((n, s) => n + (s.uncompressedBytes ?? 0), 0),
    );
  });

  it('says when the image does not come from the graph', () => {
    const other = planBuild(
      parseDockerfile('FROM busybox:local\nRUN a\nRUN b\nRUN c\nRUN d\nRUN e\nRUN f\nRUN g\n'),
    );
    const a = attributeBytes({ image: result.image, graph: other });
    assert.equal(a.aligned, false);
    assert.equal(a.steps.length, result.image.layers.length);
  });

  it('finds the temp file removed in a later RUN of the built image', async () => {
    const a = await analyzeImage(result.image);
    assert.deepEqual(
      a.wastedPaths.map((w) => [w.path, w.bytes, w.addedBy.layer, w.hiddenBy.layer]),
      [['/tmp/big', 50000, 3, 4]],
    );
    assert.equal(a.wastedBytes, 50000);
    assert.equal(a.reclaimableBytes, 50000);
    // The builder's /junk never reaches the final image: COPY --from took only /artifact.
    assert.ok(a.inefficientFiles.every((f) => f.path !== '/junk'));
    assert.equal(a.efficiency, (a.sizeBytes - 50000) / a.sizeBytes);
  });
});
