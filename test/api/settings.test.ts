import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { settingsFromEnv } from '../../src/api/settings.ts';

describe('settings from the environment, read at the composition root', () => {
  it('takes STRATA_SNAPSHOTTER, STRATA_RUNTIME and STRATA_DEBUG_CACHE; empty values are unset', () => {
    assert.deepEqual(settingsFromEnv({}), { debugCache: false });
    assert.deepEqual(
      settingsFromEnv({
        STRATA_SNAPSHOTTER: 'native',
        STRATA_RUNTIME: '/usr/bin/crun',
        STRATA_DEBUG_CACHE: '1',
      }),
      { snapshotter: 'native', runtime: '/usr/bin/crun', debugCache: true },
    );
    assert.deepEqual(
      settingsFromEnv({ STRATA_SNAPSHOTTER: '', STRATA_RUNTIME: '', STRATA_DEBUG_CACHE: '' }),
      {
        debugCache: false,
      },
    );
    assert.equal(settingsFromEnv({ STRATA_DEBUG_CACHE: '0' }).debugCache, false);
  });
});
