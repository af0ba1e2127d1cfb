// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile text is full of ${VAR} written in plain strings on purpose.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { lintPlanned } from '../../src/analyze/lint/lint-dockerfile.ts';
import { envFrom, parseDockerfile, ShellLexer } from '../../src/dockerfile/index.ts';
import { planBuild, runInvocation } from '../../src/plan/index.ts';
import { formatErrorChain } from '../../src/util/index.ts';
import { FUZZ_SEED, fuzz, type Random } from '../support/fuzz.ts';

// Seeded fuzzing of the Dockerfile frontend: a grammar-aware generator (directives, every
// instruction and flag, heredocs, quotes, escapes, `${…}` forms, continuations, very long lines)
// and a mutator of real Dockerfiles. Parsing, planning, linting and the history text may only
// ever fail with a DockerfileError (or another StrataError), never crash or hang. A failure
// prints STRATA_FUZZ_SEED to replay it.

const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'dockerfile');

/** Inputs that once crashed or hung, kept as regression cases. */
const REGRESSIONS: readonly string[] = [
  // 5,000 nested ${a:-…}: a stack overflow in the lexer
  `FROM a\nENV x=${'${a:-'.repeat(5000)}y${'}'.repeat(5000)}\n`,
  // ARGs doubling through 40 levels: 18 s, 700 MB, then "Invalid string length"
  [
    'ARG a0=xx',
    ...Array.from({ length: 40 }, (_, i) => `ARG a${i + 1}=\${a${i}}\${a${i}}`),
    'FROM a',
    '',
  ].join('\n'),
  // a backtracking pattern: 32 s in a JavaScript RegExp
  `FROM a\nENV a=${'a'.repeat(60)}\nENV b=\${a#*a*a*a*a*a*a*a*b} c=\${a%%a*a*a*a*a*a*a*a*b}\n`,
  // 1,000 full port ranges: 65 million entries
  `FROM a\nEXPOSE ${'0-65535 '.repeat(1000)}\n`,
];

const EXTRA_CORPUS = [
  'FROM a\nRUN <<EOF\nx\nEOF\n',
  'ARG X=${Y:-z}\nFROM ${X}\nENV A=${X#*/} B="${X%%:*}"\n',
  '# escape=`\nFROM a\nRUN a `\n b\n',
  'FROM a AS b\nCOPY --from=b x y\nFROM b\nRUN --mount=from=b,target=/x true\n',
  'FROM a\nHEALTHCHECK --interval=1s CMD ["x"]\nONBUILD RUN <<-E\n\tx\n\tE\n',
  'FROM scratch\nEXPOSE 80 8000-8001/udp\nSTOPSIGNAL 9\nVOLUME ["/a"]\nUSER 1:1\nWORKDIR /w\n',
  ...REGRESSIONS,
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
  '\ud800',
  'AS ',
  'scratch',
  '0',
];

function mutate(text: string, corpus: readonly string[], random: Random): string {
  let out = text;
  const edits = 1 + random.int(6);
  for (let e = 0; e < edits; e++) {
    const at = random.int(out.length + 1);
    const op = random.int(6);
    if (op === 0) out = out.slice(0, at) + random.pick(TOKENS) + out.slice(at);
    else if (op === 1) out = out.slice(0, at) + out.slice(at + 1 + random.int(8));
    else if (op === 2) {
      const len = random.int(40);
      out = out.slice(0, at) + out.slice(at, at + len) + out.slice(at);
    } else if (op === 3) {
      const other = random.pick(corpus);
      const from = random.int(other.length);
      out = out.slice(0, at) + other.slice(from, from + random.int(60)) + out.slice(at);
    } else if (op === 4) {
      // a piece repeated many times: long lines, deep nesting, many continuations
      const len = 1 + random.int(8);
      out = out.slice(0, at) + out.slice(at, at + len).repeat(random.int(3000)) + out.slice(at);
    } else {
      out = out.slice(0, at) + String.fromCharCode(random.int(128)) + out.slice(at);
    }
  }
  return out;
}

// ---- the grammar-aware generator ----------------------------------------------------------------

const NAMES = ['a', 'A', 'HOME', 'PATH', 'x1', 'EMPTY', 'TARGETARCH', 'BUILDPLATFORM', 'V', '_'];

/** A word with the lexer's every feature: `${…}` forms (nested), quotes, escapes, plain text. */
function word(random: Random, depth = 0): string {
  const parts: string[] = [];
  const count = 1 + random.int(4);
  for (let i = 0; i < count; i++) {
    const r = random.int(13);
    const name = random.pick(NAMES);
    if (r === 0) parts.push(`$${name}`);
    else if (r === 1) parts.push(`\${${name}}`);
    else if (r === 2 && depth < 4) {
      const op = random.pick([
        ':-',
        '-',
        ':+',
        '+',
        ':?',
        '?',
        '#',
        '##',
        '%',
        '%%',
        '/',
        '//',
        ':#',
        '!',
        '',
      ]);
      const inner = word(random, depth + 1);
      parts.push(
        op.includes('/') ? `\${${name}${op}${inner}/${word(random, depth + 1)}}` : `\${${name}${op}${inner}}`,
      );
    } else if (r === 3) parts.push(`"${word(random, depth + 1).replaceAll('"', '')}"`);
    else if (r === 4) parts.push(`'${random.pick(['x y', '$a', '', '\\', '"'])}'`);
    else if (r === 5) parts.push(random.pick(['\\ ', '\\$', '\\"', '\\\\', '`', '\\']));
    else if (r === 6) parts.push(random.pick(['*', '?', '*.*', '**', 'a*b*c', '\\*']));
    else if (r === 7) parts.push(random.pick(['/usr/bin', 'x.tar.gz', 'é', '\u{1f600}', '8080/tcp', '1-3']));
    else if (r === 8)
      parts.push(random.pick(['${', '}', '$', '{', '${}', '${:}', '${a', '"unterminated', "'u"]));
    else if (r === 9 && random.chance(0.05)) parts.push('x'.repeat(random.int(70_000)));
    else parts.push(random.pick(['a', 'b', 'app', '.', '/', 'src', 'out', '=', ',', ':']));
  }
  return parts.join('');
}

const FLAGS: Record<string, readonly string[]> = {
  FROM: [
    '--platform=linux/amd64',
    '--platform=$BUILDPLATFORM',
    '--platform=${X:-linux/arm64}',
    '--platform=',
  ],
  RUN: [
    '--mount=type=cache,target=/root/.cache',
    '--mount=type=bind,from=build,source=/out,target=/in',
    '--mount=type=secret,id=tok,env=TOK',
    '--mount=type=tmpfs,target=/t,size=10m',
    '--mount="type=bind,target=/a,b"',
    '--mount=type=ssh',
    '--mount=type=cache,target=/x,sharing=locked,mode=0755,uid=1,gid=2',
    '--network=none',
    '--security=insecure',
    '--mount',
  ],
  COPY: [
    '--from=build',
    '--from=0',
    '--chown=1:2',
    '--chmod=755',
    '--chmod=u=rwX',
    '--link',
    '--parents',
    '--exclude=*.md',
    '--from=alpine:3',
  ],
  ADD: [
    '--checksum=sha256:' + '0'.repeat(64),
    '--keep-git-dir',
    '--unpack=true',
    '--chown=$U',
    '--link=false',
  ],
  HEALTHCHECK: ['--interval=5s', '--timeout=1m30s', '--retries=3', '--start-period=0s', '--interval=1'],
};

function instruction(random: Random, stages: string[]): string {
  const keyword = random.pick([
    'FROM',
    'RUN',
    'RUN',
    'COPY',
    'COPY',
    'ADD',
    'ENV',
    'ARG',
    'ARG',
    'LABEL',
    'WORKDIR',
    'USER',
    'EXPOSE',
    'VOLUME',
    'CMD',
    'ENTRYPOINT',
    'SHELL',
    'HEALTHCHECK',
    'ONBUILD',
    'STOPSIGNAL',
    'MAINTAINER',
    'BOGUS',
  ]);
  const flags = random.chance(0.5)
    ? random.repeat(random.int(3), () => `${random.pick(FLAGS[keyword] ?? ['--bogus'])} `)
    : '';
  const cased = random.chance(0.1) ? keyword.toLowerCase() : keyword;
  const json = () => `[${random.repeat(1 + random.int(3), () => JSON.stringify(word(random)), ', ')}]`;
  const heredoc = () => {
    const delimiter = random.pick(['EOF', '"EOF"', "'E'", 'E"O"F', '-EOF']);
    return {
      marker: `<<${delimiter}`,
      body: `${random.repeat(random.int(3), () => `${word(random)}\n`)}${delimiter.replaceAll(/["'-]/g, '')}\n`,
    };
  };
  switch (keyword) {
    case 'FROM': {
      const name = `s${stages.length}`;
      stages.push(name);
      const base = random.pick([
        'alpine',
        'scratch',
        '${BASE:-busybox}',
        ...stages.slice(0, -1),
        'Bad Ref',
        word(random),
      ]);
      return `${cased} ${flags}${base}${random.chance(0.7) ? ` ${random.pick(['AS', 'as'])} ${name}` : ''}`;
    }
    case 'RUN':
    case 'COPY':
    case 'ADD': {
      if (random.chance(0.3)) {
        const docs = [heredoc(), ...(random.chance(0.3) ? [heredoc()] : [])];
        const dest = keyword === 'RUN' ? '' : ` /dst/${word(random)}`;
        return `${cased} ${flags}${docs.map((d) => d.marker).join(' ')}${dest}\n${docs.map((d) => d.body).join('')}`.replace(
          /\n$/,
          '',
        );
      }
      if (random.chance(0.3)) return `${cased} ${flags}${json()}`;
      return `${cased} ${flags}${random.repeat(1 + random.int(3), () => word(random), ' ')}`;
    }
    case 'ENV':
    case 'LABEL':
    case 'ARG':
      return `${cased} ${random.repeat(1 + random.int(3), () => `${random.pick(NAMES)}${random.chance(0.8) ? `=${word(random)}` : ''}`, ' ')}`;
    case 'CMD':
    case 'ENTRYPOINT':
    case 'SHELL':
      return `${cased} ${random.chance(0.6) ? json() : word(random)}`;
    case 'HEALTHCHECK':
      return `${cased} ${flags}${random.chance(0.2) ? 'NONE' : `CMD ${random.chance(0.5) ? json() : word(random)}`}`;
    case 'ONBUILD':
      return `${cased} ${instruction(random, stages).split('\n')[0]}`;
    default:
      return `${cased} ${flags}${word(random)}`;
  }
}

function generateDockerfile(random: Random): string {
  const lines: string[] = [];
  if (random.chance(0.2))
    lines.push(
      random.pick([
        '# syntax=docker/dockerfile:1',
        '# escape=`',
        '# escape=\\',
        '# check=skip=all;error=true',
        '# escape=x',
      ]),
    );
  if (random.chance(0.3)) lines.push(`ARG BASE=${word(random)}`);
  const stages: string[] = [];
  const count = 1 + random.int(12);
  for (let i = 0; i < count; i++) {
    let line =
      i === 0 && random.chance(0.9)
        ? instruction(random, stages).replace(/^\S+/, 'FROM')
        : instruction(random, stages);
    if (i === 0 && !line.startsWith('FROM')) line = `FROM alpine\n${line}`;
    if (random.chance(0.1))
      line = line.replace(' ', random.pick([' \\\n  ', ' \\\n# comment\n ', ' \\\n\n ', ' \\ \n']));
    if (random.chance(0.05)) lines.push(random.pick(['# a comment', '', '   ']));
    lines.push(line);
  }
  const text = lines.join(random.chance(0.05) ? '\r\n' : '\n');
  return random.chance(0.05) ? `\ufeff${text}` : text;
}

/** Everything `strata stages`, `lint` and `build` do with a Dockerfile before running a step. */
function frontEnd(text: string, random: Random): void {
  const dockerfile = parseDockerfile(text);
  const names = dockerfile.stages.flatMap((s) => (s.from.name === undefined ? [] : [s.from.name]));
  const graph = planBuild(dockerfile, {
    buildArgs: random.chance(0.5) ? { X: 'alpine', BASE: 'debian', a: 'a b', V: '${a}' } : {},
    ...(names.length > 0 && random.chance(0.3) ? { target: random.pick(names) } : {}),
  });
  lintPlanned(dockerfile, graph);
  for (const stage of graph.stages) {
    for (const step of stage.steps) {
      if (step.kind === 'run') runInvocation(step);
    }
  }
}

describe('Dockerfile frontend fuzzing', () => {
  it(`generated Dockerfiles only ever fail with a StrataError (seed ${FUZZ_SEED})`, {
    timeout: 60_000,
  }, () => {
    let current: Random | undefined;
    const stats = fuzz({
      name: 'generated Dockerfiles',
      seed: FUZZ_SEED,
      generate: (random) => {
        current = random;
        return generateDockerfile(random);
      },
      target: (text) => frontEnd(text, current!),
    });
    assert.ok(
      stats.accepted > 0 && stats.accepted < stats.runs,
      `accepted ${stats.accepted} of ${stats.runs}`,
    );
  });

  it(`mutated Dockerfiles only ever fail with a StrataError (seed ${FUZZ_SEED + 1})`, {
    timeout: 60_000,
  }, () => {
    const corpus = [
      ...readdirSync(FIXTURES).map((name) => readFileSync(join(FIXTURES, name, 'Dockerfile'), 'utf8')),
      ...EXTRA_CORPUS,
    ];
    let current: Random | undefined;
    const stats = fuzz({
      name: 'mutated Dockerfiles',
      seed: FUZZ_SEED + 1,
      generate: (random) => {
        current = random;
        return mutate(random.pick(corpus), corpus, random);
      },
      target: (text) => frontEnd(text, current!),
    });
    assert.ok(
      stats.accepted > 0 && stats.accepted < stats.runs,
      `accepted ${stats.accepted} of ${stats.runs}`,
    );
  });

  it('inputs that once crashed or hung now fail with a located error, or plan', () => {
    for (const text of REGRESSIONS.slice(0, 2)) {
      assert.throws(
        () => planBuild(parseDockerfile(text), {}),
        (error: unknown) => /^Dockerfile:\d+:1: failed to process /.test(formatErrorChain(error)),
      );
    }
    for (const text of REGRESSIONS.slice(2)) planBuild(parseDockerfile(text), {});
  });

  it(`the shell lexer only ever throws DockerfileError (seed ${FUZZ_SEED + 2})`, { timeout: 60_000 }, () => {
    const env = envFrom([
      ['A', 'a b'],
      ['EMPTY', ''],
      ['P', '/usr/bin:/bin'],
      ['LONG', 'ab'.repeat(50_000)],
      ['NL', 'a\r\nb\u2028c'],
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
      'LONG',
      'NL',
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
      '\ud83d',
    ];
    let failures = 0;
    const stats = fuzz({
      name: 'shell lexer',
      seed: FUZZ_SEED + 2,
      generate: (random) => random.repeat(random.int(24), () => random.pick(pieces)),
      target: (word) => {
        for (const lexer of lexers) {
          try {
            lexer.expand(word, env);
          } catch (error) {
            failures++;
            throw error;
          }
        }
      },
    });
    assert.ok(stats.runs > 0 && failures > 0, `${stats.runs} words, ${failures} errors`);
  });
});
