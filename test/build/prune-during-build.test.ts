import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { processStartTime } from '../../src/util/index.ts';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { progressEvents } from '../support/build-run.ts';
import { type CliResult, REPO, runStrata, STRATA_BIN } from '../support/cli.ts';
import { leftovers, NOTHING_LEFT, sweepLeftovers } from '../support/leftovers.ts';

for (const snapshotter of ['overlay', 'native'] as const) {
  describe(`strata prune while a multi-stage build runs (${snapshotter} snapshotter)`, () => {
    let fx: BuildFixture;
    before(async () => {
      fx = await buildFixture(`strata-prune-during-${snapshotter}-`);
    });
    after(() => {
      sweepLeftovers(fx.root);
      fx.cleanup();
    });

    it("keeps what the build holds: a finished stage's unpacked layers stay for its COPY --from", async () => {
      const env = { ...process.env, STRATA_ROOT: fx.root, STRATA_SNAPSHOTTER: snapshotter };
      const ctx = fx.context('app', {
        Dockerfile: [
          'FROM busybox:local AS build',
          'RUN echo built > /out',
          'FROM busybox:local',
          // Waits, with the build stage done, until the test has pruned: the context's `go` file.
          'RUN --mount=type=bind,target=/ctx echo waiting; while [ ! -e /ctx/go ]; do sleep 0.05; done',
          'COPY --from=build /out /out',
          '',
        ].join('\n'),
      });
      const out = join(fx.work, 'rootfs');
      const child = spawn(
        process.execPath,
        [STRATA_BIN, 'build', '--progress', 'plain', '-o', `type=local,dest=${out}`, ctx],
        { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      const done = new Promise<CliResult>((resolve, reject) => {
        child.on('error', reject);
        child.on('close', (code, signal) => resolve({ code, signal, stdout: '', stderr }));
      });
      // The build stage's RUN is done (its layer unpacked, no longer mounted) and the other waits.
      const ready = new Promise<void>((resolve) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          const run = /^#(\d+) \[build 2\/2\] RUN echo built/m.exec(stderr);
          if (run && new RegExp(`^#${run[1]} DONE`, 'm').test(stderr) && /waiting/.test(stderr)) resolve();
        });
      });
      await Promise.race([ready, done]);
      const pruned = await runStrata(['prune', '-f'], {
        root: fx.root,
        env: { STRATA_SNAPSHOTTER: snapshotter },
      });
      writeFileSync(join(ctx, 'go'), '');
      const r = await done;
      assert.equal(pruned.code, 0, pruned.stderr);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(readFileSync(join(out, 'out'), 'utf8'), 'built\n');
      assert.deepEqual(leftovers(fx.root), NOTHING_LEFT);
    });

    it('waits for a prune that is deleting unpacked layers before it uses any', async () => {
      const store = await buildFixture(`strata-prune-wait-${snapshotter}-`);
      try {
        // A prune "running": it holds the lock it takes from reading the leases until it has deleted.
        const lock = join(store.root, 'locks', 'snapshot-prune.lock');
        mkdirSync(join(store.root, 'locks'), { recursive: true });
        writeFileSync(
          lock,
          JSON.stringify({ pid: process.pid, host: hostname(), start: processStartTime(process.pid) }),
        );
        const ctx = store.context('app', { Dockerfile: 'FROM busybox:local\nRUN echo ran > /ran\n' });
        const child = spawn(process.execPath, [STRATA_BIN, 'build', '--progress', 'json', ctx], {
          cwd: REPO,
          env: { ...process.env, STRATA_ROOT: store.root, STRATA_SNAPSHOTTER: snapshotter },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stderr = '';
        const done = new Promise<number | null>((resolve) => child.on('close', resolve));
        const started = new Promise<void>((resolve) => {
          child.stderr.on('data', (d: Buffer) => {
            stderr += d.toString();
            if (/"type":"step-started"[^\n]*"name":"RUN echo ran/.test(stderr)) resolve();
          });
        });
        await Promise.race([started, done]);
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const released = Date.now();
        rmSync(lock);
        assert.equal(await done, 0, stderr);
        const events = progressEvents(stderr);
        const run = events.find((e) => e.type === 'step-started' && e.name === 'RUN echo ran > /ran')!;
        const finished = events.find((e) => e.type === 'step-finished' && e.step === run.step)!;
        assert.ok(finished.at >= released, 'the step ran only once the prune was done');
      } finally {
        sweepLeftovers(store.root);
        store.cleanup();
      }
    });
  });
}
