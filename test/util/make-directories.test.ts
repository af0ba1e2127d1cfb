import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeDirectories } from '../../src/util/index.ts';

describe('makeDirectories (mkdir -p that cannot hang)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-mkdirs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('creates missing parents, the last with the mode asked for, and accepts what exists', async () => {
    const path = join(dir, 'a', 'b', 'c');
    await makeDirectories(path, { mode: 0o700 });
    assert.equal(statSync(path).mode & 0o777, 0o700);
    assert.ok(statSync(join(dir, 'a')).isDirectory());
    await makeDirectories(path);
    await makeDirectories(dir);
  });

  it('rejects under /proc, where Node 20 mkdir -p loops forever', async () => {
    await assert.rejects(makeDirectories('/proc/strata-x/y'), { code: 'ENOENT' });
  });

  it('rejects ENOTDIR, naming the file in the way', async () => {
    const file = join(dir, 'file');
    writeFileSync(file, '');
    await assert.rejects(makeDirectories(join(file, 'x', 'y')), (error: NodeJS.ErrnoException) => {
      assert.equal(error.code, 'ENOTDIR');
      assert.equal(error.path, file);
      return true;
    });
    await assert.rejects(makeDirectories(file), { code: 'ENOTDIR' });
  });
});
