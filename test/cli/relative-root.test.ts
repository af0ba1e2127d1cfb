import assert from 'node:assert/strict';
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
});
