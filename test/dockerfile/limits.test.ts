// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile text is full of ${VAR} written in plain strings on purpose.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  DockerfileError,
  envFrom,
  MAX_EXPANDED_LENGTH,
  MAX_EXPANSION_DEPTH,
  parseDockerfile,
  ShellLexer,
} from '../../src/dockerfile/index.ts';
import { planBuild } from '../../src/plan/index.ts';
import { formatErrorChain } from '../../src/util/index.ts';
import { runStrata, tempDir } from '../support/cli.ts';

// Input no real Dockerfile contains, each of which once ended in an internal error (exit 70): each
// is now a located DockerfileError that names the limit, and fails at once.

/** `ARG a0=xx`, then `ARG aN=${aN-1}${aN-1}` up to a40: 2^41 characters if nothing stopped it. */
function doubling(options: { inStage: boolean }): string {
  const args = ['ARG a0=xx'];
  for (let i = 1; i <= 40; i++) args.push(`ARG a${i}=\${a${i - 1}}\${a${i - 1}}`);
  return options.inStage
    ? ['FROM alpine', ...args, 'RUN true', ''].join('\n')
    : [...args, 'FROM alpine', ''].join('\n');
}

/** `ENV x=${a:-${a:-…y…}}`, `depth` levels deep. */
function nested(depth: number): string {
  return `FROM alpine\nENV x=${'${a:-'.repeat(depth)}y${'}'.repeat(depth)}\n`;
}

function planError(text: string): DockerfileError {
  try {
    planBuild(parseDockerfile(text), {});
  } catch (error) {
    assert.ok(error instanceof DockerfileError, `not a DockerfileError: ${String(error)}`);
    return error;
  }
  assert.fail('planning succeeded');
}

const LENGTH_MESSAGE = `failed to process "\${a19}\${a19}": expanded value is longer than ${MAX_EXPANDED_LENGTH} characters, the limit (variables that repeat one another, like ARG b=$a$a, double at each step)`;

describe('limits on expansion', () => {
  it('global ARGs that double each other stop at 1 MiB, at the ARG that passes it', () => {
    const error = planError(doubling({ inStage: false }));
    assert.equal(formatErrorChain(error), `Dockerfile:21:1: ${LENGTH_MESSAGE}`);
    assert.equal(error.instruction, 'ARG');
  });

  it('stage ARGs that double each other stop at 1 MiB too', () => {
    const error = planError(doubling({ inStage: true }));
    assert.equal(formatErrorChain(error), `Dockerfile:22:1: ${LENGTH_MESSAGE}`);
  });

  it('a value of exactly 1 MiB is allowed', () => {
    const lexer = new ShellLexer();
    const env = envFrom([['h', 'x'.repeat(MAX_EXPANDED_LENGTH / 2)]]);
    assert.equal(lexer.processWord('${h}$h', env).length, MAX_EXPANDED_LENGTH);
    assert.throws(
      () => lexer.processWord('${h}$h.', env),
      /expanded value is longer than 1048576 characters/,
    );
    assert.throws(
      () => lexer.processWord('"${h}$h."', env),
      /expanded value is longer than 1048576 characters/,
    );
  });

  it('a word written longer than 1 MiB may stay that long, but expansion may not grow it', () => {
    const lexer = new ShellLexer();
    const long = `${'y'.repeat(MAX_EXPANDED_LENGTH)}$v`;
    assert.equal(lexer.processWord(long, envFrom([['v', 'z']])).length, MAX_EXPANDED_LENGTH + 1);
    assert.throws(() => lexer.processWord(long, envFrom([['v', 'zzz']])), DockerfileError);
  });

  it('a replacement cannot grow a value past the limit', () => {
    const lexer = new ShellLexer();
    const env = envFrom([['v', 'x'.repeat(100_000)]]);
    assert.throws(
      () => lexer.processWord('${v//x/0123456789ABCDEF}', env),
      /expanded value is longer than 1048576 characters/,
    );
    assert.equal(lexer.processWord('${v//x/0123456789}', env).length, 1_000_000);
  });

  it(`\${…} nests ${MAX_EXPANSION_DEPTH} deep, not deeper`, () => {
    const lexer = new ShellLexer();
    const word = (depth: number) => `${'${a:-'.repeat(depth)}y${'}'.repeat(depth)}`;
    assert.equal(lexer.processWord(word(MAX_EXPANSION_DEPTH), envFrom([])), 'y');
    assert.throws(
      () => lexer.processWord(word(MAX_EXPANSION_DEPTH + 1), envFrom([])),
      /nested more than 100 deep/,
    );
    // through double quotes and replacement patterns as well
    const quoted = `${'"${a:-'.repeat(MAX_EXPANSION_DEPTH + 1)}y${'}"'.repeat(MAX_EXPANSION_DEPTH + 1)}`;
    assert.throws(() => lexer.processWord(quoted, envFrom([])), /nested more than 100 deep/);
    const patterns = `${'${a/'.repeat(MAX_EXPANSION_DEPTH + 1)}y${'/}'.repeat(MAX_EXPANSION_DEPTH + 1)}`;
    assert.throws(() => lexer.processWord(patterns, envFrom([])), /nested more than 100 deep/);
  });

  it('5,000 nested ${a:-…} is a located error, not a stack overflow', () => {
    const error = planError(nested(5000));
    assert.equal(
      formatErrorChain(error),
      `Dockerfile:2:1: failed to process "${'${a:-'.repeat(16)}"…: \${…} nested more than 100 deep (split the expression over several ARG or ENV instructions)`,
    );
    assert.equal(error.instruction, 'ENV');
  });

  it('a heredoc line nested past the limit is refused when parsed, not read as one without heredocs', () => {
    const text = `FROM a\nRUN <<${'${a:-'.repeat(200)}E${'}'.repeat(200)}\nx\nE\n`;
    assert.throws(
      () => parseDockerfile(text),
      (error: unknown) =>
        error instanceof DockerfileError &&
        /^Dockerfile:2:1: failed to process .*: \$\{…\} nested more than 100 deep/.test(
          formatErrorChain(error),
        ),
    );
  });

  it('a pattern too costly for its value is an error, not a hang', () => {
    const lexer = new ShellLexer();
    const env = envFrom([['v', 'a'.repeat(MAX_EXPANDED_LENGTH)]]);
    const pattern = `*${'a*'.repeat(40)}b`;
    assert.throws(
      () => lexer.processWord(`\${v#${pattern}}`, env),
      (error: unknown) =>
        error instanceof DockerfileError &&
        /pattern "\*a\*a\*.*"… in substitution needs more than 16777216 matching steps for this value$/.test(
          error.message,
        ),
    );
  });
});

describe('EXPOSE ranges', () => {
  it('lists each port once however often ranges repeat (1,000 full ranges took a minute)', () => {
    const text = `FROM alpine\nEXPOSE ${'1-65535 '.repeat(1000)}80/udp 80/UDP\n`;
    const step = planBuild(parseDockerfile(text), {}).stages[0]!.steps[0]!;
    assert.ok(step.kind === 'expose');
    assert.equal(step.ports.length, 65536);
    assert.deepEqual(step.ports.slice(0, 2), ['1/tcp', '2/tcp']);
    assert.equal(step.ports[65535], '80/udp');
  });
});

describe('limits on expansion (CLI)', () => {
  let dir: { path: string; cleanup: () => void };
  before(() => {
    dir = tempDir();
    for (const [name, text] of [
      ['doubling', doubling({ inStage: true })],
      ['nested', nested(5000)],
    ] as const) {
      mkdirSync(join(dir.path, name));
      writeFileSync(join(dir.path, name, 'Dockerfile'), text);
    }
  });
  after(() => dir.cleanup());

  for (const [name, line, message] of [
    ['doubling', 22, 'expanded value is longer than 1048576 characters, the limit'],
    ['nested', 2, '${…} nested more than 100 deep'],
  ] as const) {
    for (const command of ['stages', 'lint', 'build']) {
      // lint exits 2 when it cannot lint at all (1 is for findings).
      const status = command === 'lint' ? 2 : 1;
      it(`strata ${command} reports ${name} as a located error with exit status ${status}`, async () => {
        const context = join(dir.path, name);
        const args =
          command === 'build'
            ? ['build', '--root', join(dir.path, 'root'), context]
            : [command, join(context, 'Dockerfile')];
        const result = await runStrata(args);
        assert.equal(result.code, status, result.stderr);
        assert.ok(
          result.stderr.startsWith(`error: ${join(context, 'Dockerfile')}:${line}:1: failed to process `),
          result.stderr,
        );
        assert.ok(result.stderr.includes(message), result.stderr);
      });
    }
    it(`strata parse prints ${name} (parse does not expand variables)`, async () => {
      const result = await runStrata(['parse', join(dir.path, name)]);
      assert.equal(result.code, 0, result.stderr);
    });
  }
});
