import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runStrata, tempDir } from '../support/cli.ts';

describe('strata info', () => {
  const dir = tempDir('strata-info-');
  after(() => dir.cleanup());

  it('says which snapshotter and runtime builds use, and why', async () => {
    const root = join(dir.path, 'store');
    const auto = JSON.parse((await runStrata(['info', '--json'], { root })).stdout);
    assert.equal(auto.snapshotter.kind, 'overlay', 'overlay mounts work for root here');
    assert.equal(auto.snapshotter.reason, 'overlay mounts work here');
    assert.equal(auto.runtime.name, 'runc');
    assert.equal(auto.root, root);
    const forced = JSON.parse(
      (await runStrata(['info', '--json'], { root, env: { STRATA_SNAPSHOTTER: 'native' } })).stdout,
    );
    assert.equal(forced.snapshotter.kind, 'native');
    assert.equal(forced.snapshotter.reason, 'forced by STRATA_SNAPSHOTTER=native');
    const human = await runStrata(['info'], { root });
    assert.match(human.stdout, /^snapshotter: {2}overlay — overlay mounts work here$/m);
  });
});
