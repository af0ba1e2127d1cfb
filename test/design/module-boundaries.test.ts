import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO } from '../support/cli.ts';

describe('module boundaries', () => {
  it('every import between src/ modules follows the one-way design table', () => {
    const result = spawnSync(process.execPath, [join(REPO, 'scripts/check-layers.mjs'), REPO], {
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stdout + result.stderr);
  });
});
