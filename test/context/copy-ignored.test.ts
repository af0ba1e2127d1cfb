// The CopyIgnoredFile test as BuildKit's validateCopySourcePath makes it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileIgnoreFile, copyIgnoredTest } from '../../src/context/index.ts';

describe('copyIgnoredTest', () => {
  it('is off without patterns, and with any ! exception', () => {
    assert.equal(copyIgnoredTest(compileIgnoreFile('')), undefined);
    assert.equal(copyIgnoredTest(compileIgnoreFile('*.log\n!keep.log\n')), undefined);
  });

  it('matches a source or a parent directory the patterns exclude, cleaned', () => {
    const test = copyIgnoredTest(compileIgnoreFile('secrets\n*.log\n'))!;
    assert.equal(test('secrets'), true);
    assert.equal(test('./secrets/key.pem'), true);
    assert.equal(test('secrets/'), true);
    assert.equal(test('app.log'), true);
    assert.equal(test('src/app.log'), false);
    assert.equal(test('src'), false);
  });

  it('counts the context root as excluded only when a pattern excludes everything', () => {
    assert.equal(copyIgnoredTest(compileIgnoreFile('secrets\n'))!('.'), false);
    assert.equal(copyIgnoredTest(compileIgnoreFile('*\n'))!('.'), true);
    assert.equal(copyIgnoredTest(compileIgnoreFile('**\n'))!('/'), true);
  });
});
