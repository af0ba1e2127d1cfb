import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BadPatternError, goMatch, hasWildcards } from '../../src/context/index.ts';

// [pattern, name, result] — Go's filepath.Match on Unix; 'error' for ErrBadPattern. Checked
// against Go during development (the "rest of the pattern" errors need Go ≥ 1.20).
const cases: Array<[string, string, boolean | 'error']> = [
  ['abc', 'abc', true],
  ['*', 'abc', true],
  ['*c', 'abc', true],
  ['a*', 'a', true],
  ['a*', 'abc', true],
  ['a*', 'ab/c', false],
  ['a*/b', 'abc/b', true],
  ['a*/b', 'a/c/b', false],
  ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
  ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true],
  ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false],
  ['a*b?c*x', 'abxbbxdbxebxczzx', true],
  ['a*b?c*x', 'abxbbxdbxebxczzy', false],
  ['ab[c]', 'abc', true],
  ['ab[b-d]', 'abc', true],
  ['ab[e-g]', 'abc', false],
  ['ab[^c]', 'abc', false],
  ['ab[^b-d]', 'abc', false],
  ['ab[^e-g]', 'abc', true],
  ['a\\*b', 'a*b', true],
  ['a\\*b', 'ab', false],
  ['a?b', 'a☺b', true],
  ['a[^a]b', 'a☺b', true],
  ['a???b', 'a☺b', false],
  ['a[^a][^a][^a]b', 'a☺b', false],
  ['[a-ζ]*', 'α', true],
  ['*[a-ζ]', 'A', false],
  ['a?b', 'a/b', false],
  ['a*b', 'a/b', false],
  ['a[^x]b', 'a/b', true], // a class can match the separator
  ['[\\]a]', ']', true],
  ['[\\-]', '-', true],
  ['[x\\-]', 'x', true],
  ['[x\\-]', '-', true],
  ['[x\\-]', 'z', false],
  ['[\\-x]', 'x', true],
  ['[\\-x]', 'a', false],
  ['*x', 'xxx', true],
  ['', '', true],
  ['', 'a', false],
  ['[]a]', ']', 'error'],
  ['[-]', '-', 'error'],
  ['[x-]', 'x', 'error'],
  ['[x-]', '-', 'error'],
  ['[-x]', 'x', 'error'],
  ['\\', 'a', 'error'],
  ['[a-b-c]', 'a', 'error'],
  ['[', 'a', 'error'],
  ['[^', 'a', 'error'],
  ['[^bc', 'a', 'error'],
  ['a[', 'a', 'error'],
  ['a[', 'ab', 'error'],
  ['a[', 'x', 'error'],
  ['a/b[', 'x', 'error'],
  ['*x[', 'a', 'error'], // the name fails at the first chunk; the rest is still checked
];

describe("goMatch: Go's filepath.Match", () => {
  for (const [pattern, name, want] of cases) {
    it(`${JSON.stringify(pattern)} on ${JSON.stringify(name)} → ${want}`, () => {
      if (want === 'error') assert.throws(() => goMatch(pattern, name), BadPatternError);
      else assert.equal(goMatch(pattern, name), want);
    });
  }
});

describe('hasWildcards', () => {
  const cases: Array<[string, boolean]> = [
    ['a.txt', false],
    ['*.txt', true],
    ['a?', true],
    ['[ab]', true],
    ['a\\*', false],
    ['a\\\\*', true],
    ['a]', false],
  ];
  for (const [name, want] of cases)
    it(`${JSON.stringify(name)}: ${want}`, () => assert.equal(hasWildcards(name), want));
});
