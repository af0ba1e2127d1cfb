import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compileExcludePatterns,
  compileIgnoreFile,
  InvalidIgnorePatternError,
} from '../../src/context/index.ts';
import { FUZZ_SEED, fuzz, type Random } from '../support/fuzz.ts';

// Seeded fuzzing of the .dockerignore matcher: random ignore files (`**`, `!`, `[…]`, `\`, Go
// regexp characters patternmatcher lets through, very long patterns) against random paths. The
// only error allowed is the documented InvalidIgnorePatternError, when compiling; matching never
// throws, never hangs, and agrees with itself (the walk's variant with no parent information is
// `matches`, and a second call gives the same answer).

const PIECES = [
  '*',
  '**',
  '**/',
  '/**',
  '?',
  '!',
  '[',
  ']',
  '[a-z]',
  '[^/]',
  '[[:digit:]]',
  '[!x]',
  '\\',
  '\\*',
  '\\[',
  '\\d',
  '\\pL',
  '|',
  '{',
  '}',
  '{2}',
  '{1000}',
  '{1001}',
  '(',
  ')',
  '.',
  '+',
  '$',
  '^',
  '/',
  './',
  '../',
  'a',
  'b',
  'dir',
  'file.txt',
  'é',
  ' ',
  '#',
  '\r',
];

const SEGMENTS = [
  'a',
  'b',
  'dir',
  'file.txt',
  '.git',
  'node_modules',
  'é',
  'x y',
  '[a]',
  '*',
  '\\',
  'a\nb',
  '…',
];

function pattern(random: Random): string {
  if (random.chance(0.02)) return `${random.pick(['**/', '*a', 'a*'])}`.repeat(random.int(500));
  return random.repeat(1 + random.int(6), () => random.pick(PIECES));
}

function path(random: Random): string {
  if (random.chance(0.02)) return Array.from({ length: random.int(300) }, () => 'a').join('/');
  return random.repeat(1 + random.int(5), () => random.pick(SEGMENTS), '/');
}

describe('.dockerignore matcher fuzzing', () => {
  it(`only a bad pattern fails, with InvalidIgnorePatternError (seed ${FUZZ_SEED + 30})`, {
    timeout: 60_000,
  }, () => {
    const stats = fuzz({
      name: '.dockerignore matcher',
      seed: FUZZ_SEED + 30,
      generate: (random) => ({
        file: random.repeat(1 + random.int(6), () => pattern(random), '\n'),
        paths: Array.from({ length: 8 }, () => path(random)),
      }),
      target: ({ file, paths }) => {
        for (const matcher of [compileIgnoreFile(file), compileExcludePatterns(file.split('\n'))]) {
          for (const p of paths) {
            const matched = matcher.matches(p);
            assert.equal(matcher.matches(p), matched, `matches(${JSON.stringify(p)}) changed its answer`);
            assert.equal(
              matcher.matchesWithParent(p, undefined).matched,
              matched,
              `matchesWithParent(${JSON.stringify(p)}) without parent information disagrees with matches`,
            );
            matcher.mustDescendExcluded(p);
          }
        }
      },
      allowed: [InvalidIgnorePatternError],
      maxRuns: 5000,
    });
    assert.ok(
      stats.accepted > 0 && stats.accepted < stats.runs,
      `accepted ${stats.accepted} of ${stats.runs}`,
    );
  });
});
