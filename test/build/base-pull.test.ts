import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { buildRun, progressEvents } from '../support/build-run.ts';
import { runStrata } from '../support/cli.ts';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

/** Sizes of the blobs in a store. */
function blobSizes(root: string): number[] {
  const dir = join(root, 'blobs/sha256');
  return readdirSync(dir).map((b) => statSync(join(dir, b)).size);
}

/** The ~300 kB of random data the toolchain image adds (incompressible, so its layer is that big). */
const isToolchainLayer = (n: number) => n > 290_000 && n < 400_000;

async function strata(root: string, args: string[]): Promise<string> {
  const r = await runStrata(args, { root });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

describe('base images pulled from a registry during a build', () => {
  let registry: TestRegistry;
  let origin: BuildFixture;
  let toolchain: string;
  let runtime: string;
  let dockerfile: string;
  before(async () => {
    registry = await startRegistry();
    origin = await buildFixture('strata-basepull-origin-');
    toolchain = `${registry.host}/base/toolchain:1`;
    runtime = `${registry.host}/base/runtime:1`;
    // A "toolchain" base: busybox plus 300 kB nobody's final image needs.
    const tctx = origin.context('toolchain', {
      Dockerfile: 'FROM busybox:local\nRUN head -c 300000 /dev/urandom > /toolchain.bin\n',
    });
    await strata(origin.root, ['build', '-q', '-t', toolchain, tctx]);
    await strata(origin.root, ['push', toolchain]);
    await strata(origin.root, ['push', 'busybox:local', runtime]);
    await strata(origin.root, ['rmi', toolchain]);
    await strata(origin.root, ['prune', '-f']);
    dockerfile = [
      `FROM ${toolchain} AS build`,
      'COPY src.txt /src/',
      'RUN wc -c /toolchain.bin /src/src.txt > /out',
      `FROM ${runtime}`,
      'COPY --from=build /out /app/out',
      '',
    ].join('\n');
  });
  after(async () => {
    await registry.stop();
    origin.cleanup();
  });

  it('come whole into the store, under their names, when their stages run', async () => {
    const fx = await buildFixture('strata-basepull-cold-');
    try {
      const ctx = fx.context('app', { Dockerfile: dockerfile, 'src.txt': 'hello\n' });
      const r = await buildRun(fx, ctx);
      assert.deepEqual(r.ran, [
        'COPY src.txt /src/',
        'RUN wc -c /toolchain.bin /src/src.txt > /out',
        'COPY --from=build /out /app/out',
      ]);
      const images = await strata(fx.root, ['images']);
      assert.match(images, /base\/toolchain\s+1/);
      assert.match(images, /base\/runtime\s+1/);
      assert.equal(blobSizes(fx.root).filter(isToolchainLayer).length, 1);
      const verify = await runStrata(['store', 'verify'], { root: fx.root });
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    } finally {
      fx.cleanup();
    }
  });

  it('are not downloaded when every step of their stage comes from an imported cache', async () => {
    const ref = `${registry.host}/cache/app:buildcache`;
    const first = await buildFixture('strata-basepull-a-');
    const second = await buildFixture('strata-basepull-b-');
    try {
      const ctx = first.context('app', { Dockerfile: dockerfile, 'src.txt': 'hello\n' });
      const built = await buildRun(first, ctx, ['--cache-to', `type=registry,ref=${ref},mode=max`]);
      const again = await buildRun(second, ctx, ['--cache-from', `type=registry,ref=${ref}`]);
      assert.deepEqual(again.ran, []);
      assert.equal(again.digest, built.digest);
      // The final image's base came (it is part of the image); the builder's toolchain never did.
      const images = await strata(second.root, ['images']);
      assert.match(images, /base\/runtime\s+1/);
      assert.doesNotMatch(images, /base\/toolchain/);
      assert.deepEqual(blobSizes(second.root).filter(isToolchainLayer), []);
      const verify = await runStrata(['store', 'verify'], { root: second.root });
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    } finally {
      first.cleanup();
      second.cleanup();
    }
  });

  it('stop downloading when the build fails, so it exits at once', async () => {
    let proxy: FaultProxy | undefined;
    const fx = await buildFixture('strata-basepull-fail-');
    try {
      proxy = await startFaultProxy(registry.host, {
        seed: 1,
        slowBlobs: { minBytes: 100_000, delayMs: 60_000 },
      });
      const ctx = fx.context('failing', {
        Dockerfile: [
          'FROM busybox:local AS broken',
          'RUN exit 3',
          // The final image's base: its layers start downloading at once (and take a minute).
          `FROM ${proxy.host}/base/toolchain:1`,
          'COPY --from=broken /etc/hostname /x',
          '',
        ].join('\n'),
      });
      const started = Date.now();
      const r = await runStrata(['build', '--progress', 'plain', ctx], { root: fx.root });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /RUN failed with exit code 3: exit 3/);
      assert.ok(Date.now() - started < 30_000, `the build took ${Date.now() - started} ms to give up`);
    } finally {
      await proxy?.stop();
      fx.cleanup();
    }
  });

  it('download while stages whose bases are here already run', async () => {
    let proxy: FaultProxy | undefined;
    const fx = await buildFixture('strata-basepull-slow-');
    try {
      // Every blob over 100 kB (the toolchain layer) is held back until the stage on the local base
      // has finished (seen in the progress as it streams), so the order the test asserts does not
      // depend on how fast a loaded machine runs a step. If that stage waited for the download (the
      // bug), the blob comes after 60 s and the assertions below say so.
      let hereFinished!: () => void;
      const released = new Promise<void>((resolve) => {
        hereFinished = resolve;
      });
      proxy = await startFaultProxy(registry.host, {
        seed: 1,
        slowBlobs: { minBytes: 100_000, delayMs: 60_000, until: released },
      });
      const slowRef = `${proxy.host}/base/toolchain:1`;
      const ctx = fx.context('overlap', {
        Dockerfile: [
          `FROM ${slowRef} AS slow`,
          'RUN wc -c /toolchain.bin > /size',
          'FROM busybox:local AS here',
          'RUN echo here > /here',
          'FROM busybox:local',
          'COPY --from=slow /size /size',
          'COPY --from=here /here /here',
          '',
        ].join('\n'),
      });
      let seen = '';
      let hereStep: string | undefined;
      const r = await runStrata(['build', '--progress', 'json', ctx], {
        root: fx.root,
        onStderr: (text) => {
          seen += text;
          const lines = seen.split('\n');
          seen = lines.pop()!;
          for (const line of lines) {
            if (!line.startsWith('{')) continue;
            const event = JSON.parse(line) as { type: string; step?: string; name?: string };
            if (event.type === 'step-started' && event.name === 'RUN echo here > /here')
              hereStep = event.step;
            if (event.type === 'step-finished' && event.step !== undefined && event.step === hereStep)
              hereFinished();
          }
        },
      });
      hereFinished();
      assert.equal(r.code, 0, r.stderr);
      const events = progressEvents(r.stderr) as Array<{
        type: string;
        step?: string;
        name?: string;
        at: number;
        status?: string;
        kind?: string;
        total?: number;
      }>;
      const started = new Map(events.filter((e) => e.type === 'step-started').map((e) => [e.step!, e]));
      const finished = (name: string) => {
        const step = [...started.values()].find((e) => e.name === name)!;
        return events.find((e) => e.type === 'step-finished' && e.step === step.step)!.at;
      };
      const layerDone = events.find(
        (e) => e.type === 'transfer' && e.kind === 'layer' && e.status === 'done' && (e.total ?? 0) > 100_000,
      );
      assert.ok(layerDone, 'the toolchain layer was downloaded');
      assert.ok(
        finished('RUN echo here > /here') < layerDone.at,
        'the stage on a local base finished before the other base had arrived',
      );
      assert.ok(finished('RUN wc -c /toolchain.bin > /size') > layerDone.at, 'its own stage waited for it');
    } finally {
      await proxy?.stop();
      fx.cleanup();
    }
  });
});
