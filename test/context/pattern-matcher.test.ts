import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileGoRegexp } from '../../src/context/go-regexp.ts';
import { InvalidPatternError, PatternMatcher } from '../../src/context/index.ts';
import { invalidPatterns, multiPatternCases, singlePatternCases } from './pattern-cases.ts';

/** Runs `path` through matchesWithParent component by component, as a directory walk does. */
function walkMatch(matcher: PatternMatcher, path: string): boolean {
  const parts = path.split('/');
  let info: readonly boolean[] | undefined = [];
  let matched = false;
  for (let i = 0; i < parts.length; i++) {
    const result = matcher.matchesWithParent(parts.slice(0, i + 1).join('/'), info);
    matched = result.matched;
    info = result.info;
  }
  return matched;
}

describe('PatternMatcher: one pattern', () => {
  for (const [pattern, path, excluded] of singlePatternCases) {
    it(`${JSON.stringify(pattern)} ${excluded ? 'matches' : 'does not match'} ${JSON.stringify(path)}`, () => {
      const matcher = PatternMatcher.compile([pattern]);
      assert.equal(matcher.matches(path), excluded);
      // With one pattern the walk and the parent loop always agree.
      assert.equal(walkMatch(matcher, path), excluded);
      assert.equal(matcher.matchesWithParent(path, undefined).matched, excluded);
    });
  }
});

describe('PatternMatcher: several patterns, last match wins', () => {
  for (const [patterns, path, excluded, excludedInWalk] of multiPatternCases) {
    it(`${JSON.stringify(patterns)} on ${JSON.stringify(path)}: ${excluded}, in a walk ${excludedInWalk}`, () => {
      const matcher = PatternMatcher.compile(patterns);
      assert.equal(matcher.matches(path), excluded);
      assert.equal(walkMatch(matcher, path), excludedInWalk);
    });
  }
});

describe('PatternMatcher: malformed patterns are errors', () => {
  for (const [pattern, reason] of invalidPatterns) {
    it(`refuses ${JSON.stringify(pattern)}`, () => {
      assert.throws(
        () => PatternMatcher.compile(['ok', '', pattern]),
        (error: unknown) => {
          assert.ok(error instanceof InvalidPatternError);
          assert.equal(error.message, reason);
          assert.equal(error.index, 2, 'the index counts blank entries');
          assert.equal(error.pattern, pattern);
          return true;
        },
      );
    });
  }
});

describe('PatternMatcher: compile normalisation', () => {
  it('trims Go whitespace and skips blank patterns', () => {
    const matcher = PatternMatcher.compile(['  a  ', '', '\t']);
    assert.equal(matcher.patterns.length, 1);
    assert.equal(matcher.patterns[0]!.cleaned, 'a');
    assert.equal(matcher.matches('a'), true);
  });
  it('keeps a leading slash (only the ignore-file reader strips it)', () => {
    const matcher = PatternMatcher.compile(['/a']);
    assert.equal(matcher.matches('a'), false);
  });
  it('reports exceptions', () => {
    assert.equal(PatternMatcher.compile(['a']).hasExclusions, false);
    assert.equal(PatternMatcher.compile(['a', '!a/b']).hasExclusions, true);
    assert.equal(PatternMatcher.compile(['!a/b']).patterns[0]!.exclusion, true);
  });
});

describe('PatternMatcher.mustDescendExcluded (fsutil skip rule)', () => {
  const cases: Array<[string[], string, boolean]> = [
    [['docs'], 'docs', false], // no exceptions: never look inside
    [['docs', '!docs/keep.txt'], 'docs', true],
    [['docs', '!docs/keep.txt'], 'other', false],
    [['docs', '!docs/sub/**'], 'docs', true], // trailing /** dropped before comparing
    [['docs', '!docsx'], 'docs', false], // prefix compared with a trailing slash
    [['*', '!*.md'], 'anything', true], // a wildcard exception could match anywhere
    [['*', '!docs/[ab].md'], 'src', true],
  ];
  for (const [patterns, dir, want] of cases) {
    it(`${JSON.stringify(patterns)}: ${want ? 'enters' : 'skips'} excluded ${dir}/`, () => {
      assert.equal(PatternMatcher.compile(patterns).mustDescendExcluded(dir), want);
    });
  }
});

describe('regular expressions run in linear time where backtracking could explode', () => {
  const hostile: Array<[string, string]> = [
    ['**/a/**/a/**/a/**/a/**/b', `${'a/'.repeat(100)}c`],
    ['*a*a*a*a*a*b', `${'a'.repeat(250)}c`],
    ['a**a**a**b', 'a'.repeat(2000)],
  ];
  for (const [pattern, path] of hostile) {
    it(`${JSON.stringify(pattern)} on a ${path.length}-character path`, () => {
      const matcher = PatternMatcher.compile([pattern]);
      const started = performance.now();
      assert.equal(matcher.matches(path), false);
      // A backtracking engine needs seconds to minutes here; RE2 and our NFA need milliseconds.
      assert.ok(performance.now() - started < 1000, `took ${performance.now() - started} ms`);
    });
  }

  // The two engines must agree: both are run on expressions patternmatcher builds.
  const expressions = [
    '^(.*/)?[^/]*\\.go$',
    '^a|b[^/]*$',
    '^[[:digit:]]x$',
    '^a\\bb$',
    '^a{2}[^/]*$',
    '^[^/]*a[^/]*a[^/]*b$',
    '^/|$',
    '^(.*/)?a/(.*/)?b$',
    '^x\\d+y?$',
  ];
  const inputs = [
    '',
    'a',
    'aa',
    'ab',
    'a b',
    'x.go',
    'd/x.go',
    '5x',
    'zb',
    'aab',
    'a/b',
    'a/x/b',
    'x12',
    'x1y',
    'é😀',
  ];
  for (const expression of expressions) {
    it(`the NFA and V8 agree on ${expression}`, () => {
      const nfa = compileGoRegexp(expression, { engine: 'nfa' });
      const js = compileGoRegexp(expression, { engine: 'js' });
      for (const input of inputs) assert.equal(nfa(input), js(input), JSON.stringify(input));
    });
  }
});

describe('a path and its parents are matched in one pass', () => {
  it('matches a pattern of 2,000 `**/a/` against a path 4,000 directories deep, as per-parent matching would', () => {
    // Tried parent by parent this was cubic: about a minute here (0.5 s at 200 deep).
    const deep = `${'a/'.repeat(4000)}z`;
    const m = PatternMatcher.compile(['**/a/'.repeat(2000) + 'z', '!**/b/'.repeat(2000) + 'y']);
    assert.equal(m.matches(deep), true);
    assert.equal(m.matches(`${'a/'.repeat(1999)}z`), false);
    assert.equal(m.matches(`${'a/'.repeat(2000)}z/below/it`), true, 'a parent directory matched');
    assert.equal(m.matchesWithParent(`${'a/'.repeat(2000)}z/below`, undefined).matched, true);
  });

  it('gives the same answer as trying every parent, for patterns of each kind', () => {
    const patterns = ['a', 'a/b', 'a/**', '**/b', 'a/*/c', '*/b/**', 'a/**/c', '[ab]/?', 'b\\*'];
    const paths = ['a', 'a/b', 'a/b/c', 'a/x/c/d', 'b/b', 'c/a/b', 'a/b/c/d/e', 'b*/q', 'x'];
    for (const pattern of patterns) {
      const [compiled] = PatternMatcher.compile([pattern]).patterns;
      for (const path of paths) {
        const parts = path.split('/');
        const parents = parts.slice(1).map((_, i) => parts.slice(0, i + 1).join('/'));
        const expected = compiled!.match(path) || parents.some((p) => compiled!.match(p));
        assert.equal(compiled!.matchSelfOrParent(path), expected, `${pattern} on ${path}`);
      }
    }
  });
});
