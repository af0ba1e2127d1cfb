import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extractBuilderFlags } from '../../src/dockerfile/index.ts';

/** [arguments, escape token, expected flags, expected rest] */
const cases: readonly [string, '\\' | '`', readonly string[], string][] = [
  ['--a=1 --b rest of line', '\\', ['--a=1', '--b'], 'rest of line'],
  ['no flags here', '\\', [], 'no flags here'],
  ['  --a=1   spaced  ', '\\', ['--a=1'], 'spaced'],
  ['-x single dash is not a flag', '\\', [], '-x single dash is not a flag'],
  ['--a="two words" rest', '\\', ['--a=two words'], 'rest'],
  ["--a='x y'z rest", '\\', ['--a=x yz'], 'rest'],
  ['--a=b\\ c rest', '\\', ['--a=b c'], 'rest'],
  ['--a="q\\"q" rest', '\\', ['--a=q"q'], 'rest'],
  ["--a='q\\'q' rest", '\\', ["--a=q'q"], 'rest'],
  ['--a=b` c rest', '`', ['--a=b c'], 'rest'],
  ['--a=b\\ c rest', '`', ['--a=b\\'], 'c rest'],
  ['--a -- --not-a-flag', '\\', ['--a'], '--not-a-flag'],
  ['-- --x', '\\', [], '--x'],
  ['--only', '\\', ['--only'], ''],
  ['--', '\\', [], ''],
  ['--a="unterminated rest', '\\', ['--a=unterminated rest'], ''],
  ['--a=x\\', '\\', ['--a=x'], ''],
  ['--chown=jürgen ünïcode', '\\', ['--chown=jürgen'], 'ünïcode'],
  ['--a=[1] ["json"]', '\\', ['--a=[1]'], '["json"]'],
];

describe('extractBuilderFlags: leading --flags, as BuildKit splits them', () => {
  for (const [line, escapeToken, flags, rest] of cases) {
    it(`${JSON.stringify(line)} (escape ${escapeToken})`, () => {
      const split = extractBuilderFlags(line, { escapeToken });
      assert.deepEqual(
        split.flags.map((f) => f.text),
        flags,
      );
      assert.equal(split.rest, rest);
    });
  }

  it('records where each flag and the rest start', () => {
    const split = extractBuilderFlags('--a=1  --b rest', { escapeToken: '\\', baseOffset: 10 });
    assert.deepEqual(
      split.flags.map((f) => f.offset),
      [10, 17],
    );
    assert.equal(split.restOffset, 21);
  });
});
