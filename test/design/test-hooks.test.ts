/**
 * `npm test` imports every test file into one process (scripts/test.mjs: ~10× faster than a
 * process per file on 2 cores). A `before`, `beforeEach` or `afterEach` at the top level of a file
 * is then a hook of the whole run: a file's slow set-up runs before every other file's tests, its
 * failure fails them all, and a per-test hook runs for, and changes shared state under, tests of
 * other files. Hooks belong inside the file's `describe`.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';

const TEST_DIR = join(import.meta.dirname, '..');

describe('test files', () => {
  it('declare no top-level before/beforeEach/afterEach hooks (one process runs them all)', () => {
    const offenders: string[] = [];
    for (const name of readdirSync(TEST_DIR, { recursive: true }).map(String)) {
      if (!name.endsWith('.ts')) continue;
      const text = readFileSync(join(TEST_DIR, name), 'utf8');
      text.split('\n').forEach((line, index) => {
        if (/^(before|beforeEach|afterEach)\(/.test(line))
          offenders.push(`${relative(TEST_DIR, join(TEST_DIR, name))}:${index + 1}: ${line.trim()}`);
      });
    }
    assert.deepEqual(offenders, [], "move these hooks into the file's describe");
  });
});
