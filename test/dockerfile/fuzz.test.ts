// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile text is full of ${VAR} written in plain strings on purpose.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { DockerfileError, envFrom, parseDockerfile, ShellLexer } from '../../src/dockerfile/index.ts';
import { planBuild } from '../../src/plan/index.ts';

// A bounded mutation fuzzer: it takes real Dockerfiles, damages them in ways that stress the lexer
// (quotes, escapes, `${`, heredoc markers, continuations, JSON brackets, flags), and checks that
// parsing, and planning what parses, only ever fails with a DockerfileError, and quickly.
const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'dockerfile');
const BUDGET_MS = Number(process.env.STRATA_FUZZ_MS ?? 4000);
const SEED = Number(process.env.STRATA_FUZZ_SEED ?? Date.now() % 1_000_000);

const EXTRA_CORPUS = [
  'FROM a\nRUN <<EOF\nx\nEOF\n',
  'ARG X=${Y:-z}\nFROM ${X}\nENV A=${X#*/} B="${X%%:*}"\n',
  '# escape=`\nFROM a\nRUN a `\n b\n',
  'FROM a AS b\nCOPY --from=b x y\nFROM b\nRUN --mount=from=b,target=/x true\n',
  'FROM a\nHEALTHCHECK --interval=1s CMD ["x"]\nONBUILD RUN <<-E\n\tx\n\tE\n',
  'FROM scratch\nEXPOSE 80 8000-8001/udp\nSTOPSIGNAL 9\nVOLUME ["/a"]\nUSER 1:1\nWORKDIR /w\n',
];

const TOKENS = [
  '\\',
  '`',
  '$',
  '${',
  '}',
  '{',
  '"',
  "'",
  '<<',
  '<<-',
  '\n',
  '\r\n',
  '[',
  ']',
  '--',
  '=',
  '#',
  ' ',
  '\t',
  ',',
  ':-',
  ':+',
  '#',
  '%%',
  '//',
  'RUN ',
  'FROM ',
  'COPY ',
  'ONBUILD ',
  'ENV ',
  'ARG ',
  'EOF',
  '--mount=',
  'type=cache',
  '--from=',
  '\\\n',
  '# escape=`\n',
  '\u00e9',
  '\ufeff',
  '\u0000',
  'AS ',
  'scratch',
  '0',
];

/** mulberry32: a small, seedable PRNG, so a failure can be replayed with STRATA_FUZZ_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(text: string, corpus: readonly string[], random: () => number): string {
  let out = text;
  const edits = 1 + Math.floor(random() * 6);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(random() * (out.length + 1));
    const op = Math.floor(random() * 5);
    if (op === 0) out = out.slice(0, at) + TOKENS[Math.floor(random() * TOKENS.length)] + out.slice(at);
    else if (op === 1) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(random() * 8));
    else if (op === 2) {
      const len = Math.floor(random() * 40);
      out = out.slice(0, at) + out.slice(at, at + len) + out.slice(at);
    } else if (op === 3) {
      const other = corpus[Math.floor(random() * corpus.length)]!;
      const from = Math.floor(random() * other.length);
      out = out.slice(0, at) + other.slice(from, from + Math.floor(random() * 60)) + out.slice(at);
    } else {
      out = out.slice(0, at) + String.fromCharCode(Math.floor(random() * 128)) + out.slice(at);
    }
  }
  return out;
}

describe('parser fuzzing', () => {
  it(`only ever throws DockerfileError and never hangs (seed ${SEED}, ${BUDGET_MS} ms)`, {
    timeout: 15_000,
  }, () => {
    const corpus = [
      ...readdirSync(FIXTURES).map((name) => readFileSync(join(FIXTURES, name, 'Dockerfile'), 'utf8')),
      ...EXTRA_CORPUS,
    ];
    const random = prng(SEED);
    const deadline = Date.now() + BUDGET_MS;
    let runs = 0;
    let parsed = 0;
    let slowest = 0;
    while (Date.now() < deadline) {
      const input = mutate(corpus[Math.floor(random() * corpus.length)]!, corpus, random);
      // CPU time, not wall time: a loaded machine may pause the process, which is no hang.
      const started = process.cpuUsage();
      try {
        const df = parseDockerfile(input);
        parsed++;
        planBuild(df, { buildArgs: { X: 'alpine' } });
      } catch (error) {
        if (!(error instanceof DockerfileError)) {
          assert.fail(
            `seed ${SEED}, run ${runs}: ${String(error)}\ninput: ${JSON.stringify(input)}\n${(error as Error).stack ?? ''}`,
          );
        }
      }
      const used = process.cpuUsage(started);
      slowest = Math.max(slowest, (used.user + used.system) / 1000);
      runs++;
    }
    assert.ok(runs > 100, `only ${runs} runs in ${BUDGET_MS} ms`);
    assert.ok(
      parsed > 0 && parsed < runs,
      `parsed ${parsed} of ${runs}: the mutations should produce both outcomes`,
    );
    assert.ok(slowest < 1000, `one input took ${slowest.toFixed(0)} ms of CPU`);
  });

  it(`the shell lexer only ever throws DockerfileError (seed ${SEED})`, { timeout: 10_000 }, () => {
    const random = prng(SEED + 1);
    const env = envFrom([
      ['A', 'a b'],
      ['EMPTY', ''],
      ['P', '/usr/bin:/bin'],
    ]);
    const lexers = [
      new ShellLexer(),
      new ShellLexer({ escapeToken: '`' }),
      new ShellLexer({ rawQuotes: true, rawEscapes: true, skipUnsetEnv: true }),
      new ShellLexer({ skipProcessQuotes: true }),
    ];
    const pieces = [
      '$',
      '{',
      '}',
      'A',
      'P',
      'EMPTY',
      ':',
      '-',
      '+',
      '?',
      '#',
      '%',
      '/',
      '*',
      '\\',
      '`',
      "'",
      '"',
      ' ',
      'x',
      '<<',
      '1',
      '@',
    ];
    const deadline = Date.now() + Math.min(1500, BUDGET_MS);
    let runs = 0;
    let failures = 0;
    while (Date.now() < deadline) {
      let word = '';
      const length = Math.floor(random() * 16);
      for (let i = 0; i < length; i++) word += pieces[Math.floor(random() * pieces.length)];
      for (const lexer of lexers) {
        try {
          lexer.expand(word, env);
        } catch (error) {
          failures++;
          if (!(error instanceof DockerfileError))
            assert.fail(`seed ${SEED}: ${JSON.stringify(word)}: ${String(error)}`);
        }
      }
      runs++;
    }
    assert.ok(runs > 100 && failures > 0, `${runs} words, ${failures} errors`);
  });
});
