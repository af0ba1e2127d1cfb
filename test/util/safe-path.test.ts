import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanPath, resolveInRoot } from '../../src/util/index.ts';

describe('cleanPath', () => {
  const cases: Array<[string, string]> = [
    ['', '.'],
    ['a//b/./c/..', 'a/b'],
    ['/..', '/'],
    ['../a', '../a'],
    ['a/../..', '..'],
    ['/a/b/../../..', '/'],
    ['./', '.'],
  ];
  for (const [input, want] of cases) {
    it(`cleans ${JSON.stringify(input)} to ${JSON.stringify(want)} like Go's filepath.Clean`, () => {
      assert.equal(cleanPath(input), want);
    });
  }
});

describe('resolveInRoot', () => {
  const root = mkdtempSync(join(tmpdir(), 'strata-safe-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'bin'));
  mkdirSync(join(root, 'usr'));
  symlinkSync('/bin', join(root, 'usr/bin'));
  symlinkSync('../../../../etc', join(root, 'escape'));
  symlinkSync('/etc/passwd', join(root, 'abs'));
  symlinkSync('loop2', join(root, 'loop1'));
  symlinkSync('loop1', join(root, 'loop2'));

  it('follows an absolute symlink relative to the root, not the host', () => {
    assert.equal(resolveInRoot(root, '/usr/bin/sh'), join(root, 'bin/sh'));
  });
  it('clamps .. in a symlink target at the root', () => {
    assert.equal(resolveInRoot(root, 'escape/shadow'), join(root, 'etc/shadow'));
  });
  it('clamps .. in the path itself at the root', () => {
    assert.equal(resolveInRoot(root, '../../x'), join(root, 'x'));
  });
  it('does not follow the final symlink when asked not to', () => {
    assert.equal(resolveInRoot(root, 'abs', { followFinal: false }), join(root, 'abs'));
    assert.equal(resolveInRoot(root, 'abs'), join(root, 'etc/passwd'));
  });
  it('reports a symlink loop instead of hanging', () => {
    assert.throws(() => resolveInRoot(root, 'loop1/x'), { code: 'SYMLINK_LOOP' });
  });
});
