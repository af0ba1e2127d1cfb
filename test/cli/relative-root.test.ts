import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { runStrata } from '../support/cli.ts';
import { leftovers, NOTHING_LEFT } from '../support/leftovers.ts';

describe('a store named by a relative path', () => {
  let fx: BuildFixture;
  before(async () => {
    fx = await buildFixture('strata-relative-root-');
  });
  after(() => fx.cleanup());

  it('runs RUN steps (--root and STRATA_ROOT are taken from the working directory)', async () => {
    const ctx = fx.context('app', { Dockerfile: 'FROM busybox:local\nRUN echo ran > /ran\n' });
    for (const how of ['flag', 'env'] as const) {
      const args = ['build', '--no-cache', '-q', ctx];
      const r = await runStrata(how === 'flag' ? ['--root', 'store', ...args] : args, {
        cwd: fx.work,
        env: how === 'env' ? { STRATA_ROOT: 'store' } : {},
      });
      assert.equal(r.code, 0, `${how}: ${r.stderr}`);
    }
    assert.deepEqual(leftovers(fx.root), NOTHING_LEFT);
  });

  it("forgets a runtime probe that failed for that reason (an older strata's cache)", async () => {
    // What such a build left: every runtime recorded as unable to run containers here.
    const probe = join(fx.root, 'runtime', 'runtime-probe.json');
    const cache = JSON.parse(readFileSync(probe, 'utf8')) as {
      entries: Record<string, { cgroups: string }>;
    };
    const cgroups = Object.values(cache.entries)[0]!.cgroups;
    const entries: Record<string, unknown> = {};
    for (const dir of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'])
      for (const name of ['runc', 'crun']) {
        const path = join(dir, name);
        if (!existsSync(path)) continue;
        const { mtimeMs, size } = statSync(path);
        entries[path] = {
          mtimeMs,
          size,
          cgroups,
          result: { ok: false, error: 'invalid rootfs: stat store/runtime/probe-1/rootfs: no such file' },
        };
      }
    writeFileSync(probe, JSON.stringify({ version: 1, entries }));
    const ctx = fx.context('again', { Dockerfile: 'FROM busybox:local\nRUN echo again > /again\n' });
    const r = await runStrata(['build', '--no-cache', '-q', ctx], { root: fx.root });
    assert.equal(r.code, 0, r.stderr);
  });
});
