// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile text is full of ${VAR} written in plain strings on purpose.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DockerfileError,
  formatDockerfileError,
  type Instruction,
  parseDockerfile,
} from '../../src/dockerfile/index.ts';

/** Asserts that every key in `expected` matches in `actual` (arrays must match in length). */
function assertPartial(actual: unknown, expected: unknown, path = '$'): void {
  if (expected === null || typeof expected !== 'object') {
    assert.deepEqual(actual, expected, `at ${path}`);
    return;
  }
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `at ${path}: expected an array, got ${JSON.stringify(actual)}`);
    assert.equal(actual.length, expected.length, `at ${path}: length of ${JSON.stringify(actual)}`);
    for (const [i, e] of expected.entries()) assertPartial(actual[i], e, `${path}[${i}]`);
    return;
  }
  assert.ok(
    actual !== null && typeof actual === 'object',
    `at ${path}: expected an object, got ${JSON.stringify(actual)}`,
  );
  for (const [key, value] of Object.entries(expected)) {
    assertPartial((actual as Record<string, unknown>)[key], value, `${path}.${key}`);
  }
}

/** The instructions after `FROM scratch` on line 1. */
function body(text: string): readonly Instruction[] {
  return parseDockerfile(`FROM scratch\n${text}`).instructions.slice(1);
}

/** [what it proves, Dockerfile text after `FROM scratch`, expected instructions (partial)] */
const cases: readonly [string, string, readonly object[]][] = [
  // keywords and whitespace
  [
    'keywords are case-insensitive and keep their spelling',
    'run echo a\nRuN echo b',
    [
      { kind: 'run', keyword: 'run', command: { form: 'shell', text: 'echo a' } },
      { kind: 'run', keyword: 'RuN', command: { form: 'shell', text: 'echo b' } },
    ],
  ],
  [
    'leading whitespace before an instruction is ignored',
    '   \tRUN x',
    [{ kind: 'run', range: { line: 2, column: 5 } }],
  ],
  [
    'CRLF line endings are accepted',
    'RUN a\r\nRUN b\r\n',
    [{ command: { text: 'a' } }, { command: { text: 'b' } }],
  ],
  // continuations
  [
    'a backslash at the end continues the line; the next line keeps its indentation',
    'RUN echo hello\\\n  world',
    [{ command: { text: 'echo hello  world' }, range: { line: 2, endLine: 3 } }],
  ],
  ['spaces after the continuation backslash are allowed', 'RUN a \\   \nb', [{ command: { text: 'a b' } }]],
  [
    'comment lines inside a continuation are dropped',
    'RUN apt-get install \\\n  # the editor\n  vim \\\n    # and curl\n  curl',
    [{ command: { text: 'apt-get install   vim   curl' }, range: { line: 2, endLine: 6 } }],
  ],
  [
    'empty lines inside a continuation are skipped',
    'RUN a \\\n\n   \nb',
    [{ command: { text: 'a b' }, range: { endLine: 5 } }],
  ],
  [
    'a continuation at end of file ends the instruction',
    'RUN something \\',
    [{ command: { text: 'something' } }],
  ],
  [
    'a double backslash at the end is a literal backslash, not a continuation',
    'ENV C trail\\\\\nENV D next',
    [
      { kind: 'env', pairs: [{ key: 'C', value: 'trail\\\\', legacy: true }] },
      { kind: 'env', pairs: [{ key: 'D', value: 'next' }] },
    ],
  ],
  [
    "three backslashes at the end are no continuation either (BuildKit's rule), and the last is dropped",
    'ENV A=x\\\\\\\nENV B=y',
    [{ pairs: [{ key: 'A', value: 'x\\\\' }] }, { pairs: [{ key: 'B', value: 'y' }] }],
  ],
  [
    'a lone backslash line continues the continuation',
    'ENV E hello\\\n\\\nworld',
    [{ pairs: [{ key: 'E', value: 'helloworld' }] }],
  ],
  [
    'a comment ending in a backslash does not continue onto the next line',
    '# note \\\nRUN ["ls"]',
    [{ kind: 'run', command: { form: 'exec', args: ['ls'] } }],
  ],
  [
    'ENV words keep quotes and escapes exactly (a single quote cannot be escaped)',
    `ENV a="x \\"y\\"" b='p\\'q c=r\\ s d="it's" e='say "hi"'`,
    [
      {
        pairs: [
          { key: 'a', value: '"x \\"y\\""' },
          { key: 'b', value: "'p\\'q" },
          { key: 'c', value: 'r\\ s' },
          { key: 'd', value: '"it\'s"' },
          { key: 'e', value: `'say "hi"'` },
        ],
      },
    ],
  ],
  [
    'a quoted ENV value may span a continuation',
    'ENV one=1 \\\n    two="2a \\\n         2b" \\\n    three=3',
    [
      {
        pairs: [
          { key: 'one', value: '1' },
          { key: 'two', value: '"2a          2b"' },
          { key: 'three', value: '3' },
        ],
      },
    ],
  ],
  [
    'legacy ENV keeps quotes in its value',
    'ENV SCUBA "1 DUBA 3"',
    [{ pairs: [{ key: 'SCUBA', value: '"1 DUBA 3"', legacy: true }] }],
  ],
  [
    'a comment directly above is attached to the instruction',
    '# build it\n# fast\nRUN make',
    [{ comments: ['build it', 'fast'] }],
  ],
  // JSON vs shell form
  [
    'a JSON array is exec form',
    'CMD ["echo", "hello world"]',
    [{ kind: 'cmd', command: { form: 'exec', args: ['echo', 'hello world'] } }],
  ],
  [
    'JSON escapes are decoded',
    'CMD ["\\u00e9", "a\\"b", "\\/"]',
    [{ command: { form: 'exec', args: ['é', 'a"b', '/'] } }],
  ],
  ['an empty JSON array is an empty exec form', 'CMD []', [{ command: { form: 'exec', args: [] } }]],
  [
    'whitespace inside and around the JSON array is fine',
    'CMD\t[\t"a",\t"b"\t]\t',
    [{ command: { form: 'exec', args: ['a', 'b'] } }],
  ],
  [
    'single-quoted "JSON" falls back to shell form',
    "CMD ['a', 'b']",
    [{ command: { form: 'shell', text: "['a', 'b']" } }],
  ],
  [
    'unquoted words in brackets fall back to shell form',
    'CMD [echo, "x"]',
    [{ command: { form: 'shell', text: '[echo, "x"]' } }],
  ],
  [
    'an unterminated array falls back to shell form',
    'RUN ["echo", "x"',
    [{ command: { form: 'shell', text: '["echo", "x"' } }],
  ],
  [
    'text after the array makes it shell form',
    'RUN ["a"] && b',
    [{ command: { form: 'shell', text: '["a"] && b' } }],
  ],
  [
    'ENTRYPOINT and RUN take the same forms',
    'ENTRYPOINT ["/bin/app"]\nRUN ["apk", "add", "x"]',
    [
      { kind: 'entrypoint', command: { form: 'exec', args: ['/bin/app'] } },
      { kind: 'run', command: { form: 'exec', args: ['apk', 'add', 'x'] } },
    ],
  ],
  // heredocs
  [
    'a heredoc body is attached to RUN, ending at its delimiter',
    'RUN <<EOF\necho a\necho b\nEOF\nRUN after',
    [
      {
        command: { text: '<<EOF' },
        heredocs: [{ name: 'EOF', content: 'echo a\necho b\n', expand: true, chomp: false }],
        range: { line: 2, endLine: 5 },
      },
      { command: { text: 'after' } },
    ],
  ],
  [
    '<<- strips leading tabs from the delimiter line (the body keeps them until used)',
    'RUN <<-EOT\n\techo a\n\tEOT',
    [{ heredocs: [{ name: 'EOT', content: '\techo a\n', chomp: true }] }],
  ],
  [
    'a quoted delimiter disables expansion',
    'RUN <<"EOF"\n$HOME\nEOF\nRUN <<\'X\'\n$HOME\nX',
    [{ heredocs: [{ name: 'EOF', expand: false }] }, { heredocs: [{ name: 'X', expand: false }] }],
  ],
  [
    'a partly quoted delimiter disables expansion too',
    'RUN <<E"O"F\nx\nEOF',
    [{ heredocs: [{ name: 'EOF', expand: false }] }],
  ],
  [
    'several heredocs in one instruction are read in order',
    'RUN <<A cat && <<B cat\na\nA\nb\nB',
    [
      {
        heredocs: [
          { name: 'A', content: 'a\n' },
          { name: 'B', content: 'b\n' },
        ],
      },
    ],
  ],
  [
    'a heredoc after a command word, with a file descriptor',
    'RUN python3 3<<PY\nprint(1)\nPY',
    [{ heredocs: [{ name: 'PY', fileDescriptor: 3, content: 'print(1)\n' }] }],
  ],
  [
    'space between << and the delimiter is allowed',
    'RUN cat << EOF\nx\nEOF',
    [{ heredocs: [{ name: 'EOF', content: 'x\n' }] }],
  ],
  [
    'COPY <<EOF /dst becomes an inline source',
    'COPY <<EOF /etc/motd\nhello\nEOF',
    [
      {
        kind: 'copy',
        sources: [],
        inline: [{ name: 'EOF', content: 'hello\n', expand: true }],
        dest: '/etc/motd',
      },
    ],
  ],
  [
    'COPY with a chomped heredoc strips the tabs',
    'COPY <<-EOF /x\n\t\tindented\nEOF',
    [{ inline: [{ content: 'indented\n', chomp: true }] }],
  ],
  [
    'JSON-form RUN has no heredocs',
    'RUN ["cat", "<<EOF"]\nRUN next',
    [{ heredocs: [], command: { form: 'exec' } }, { command: { text: 'next' } }],
  ],
  [
    'heredocs are not read for other instructions',
    'LABEL a=<<EOF\nRUN x',
    [{ kind: 'label' }, { kind: 'run' }],
  ],
  [
    'a heredoc attached to the word before it is not a heredoc',
    'RUN cat<<EOF\nRUN x',
    [{ heredocs: [] }, { kind: 'run' }],
  ],
  [
    'ONBUILD carries the heredoc of its trigger',
    'ONBUILD RUN <<EOF\necho hi\nEOF',
    [
      {
        kind: 'onbuild',
        expression: 'RUN <<EOF\necho hi\nEOF',
        trigger: { kind: 'run', heredocs: [{ name: 'EOF' }] },
      },
    ],
  ],
  // flags
  [
    'FROM --platform and AS name',
    'FROM --platform=$BUILDPLATFORM golang:1.22 AS Build',
    [
      {
        kind: 'from',
        platform: '$BUILDPLATFORM',
        image: 'golang:1.22',
        name: 'build',
        nameAsWritten: 'Build',
      },
    ],
  ],
  [
    'RUN mounts, network and security',
    'RUN --mount=type=cache,target=/root/.cache,sharing=locked --mount=type=secret,id=tok,env=TOKEN --network=none --security=insecure make',
    [
      {
        mounts: [
          { type: 'cache', target: '/root/.cache', sharing: 'locked' },
          { type: 'secret', id: 'tok', env: 'TOKEN' },
        ],
        network: 'none',
        security: 'insecure',
        command: { text: 'make' },
      },
    ],
  ],
  [
    'a mount without type is a bind mount; quoted CSV fields work',
    `RUN --mount='"source=a,b",target=/src',ro true`,
    [{ mounts: [{ type: 'bind', target: '/src', source: 'a,b', readOnly: true }] }],
  ],
  [
    'mount options: tmpfs size, cache mode/uid/gid, ssh required',
    'RUN --mount=type=tmpfs,target=/t,size=64m --mount=type=cache,target=/c,mode=0700,uid=1000,gid=1000 --mount=type=ssh,required x',
    [
      {
        mounts: [
          { type: 'tmpfs', size: 67108864 },
          { type: 'cache', mode: 0o700, uid: 1000, gid: 1000 },
          { type: 'ssh', required: true },
        ],
      },
    ],
  ],
  [
    'RUN --device takes a CDI name and required',
    'RUN --device=vendor.com/gpu=all,required --device=name=nvidia.com/gpu=0 x',
    [
      {
        devices: [
          { name: 'vendor.com/gpu=all', required: true },
          { name: 'nvidia.com/gpu=0', required: false },
        ],
      },
    ],
  ],
  [
    'COPY flags',
    'COPY --from=build --chown=app:app --chmod=0644 --link --parents --exclude=*.md --exclude=.git ./a ./b /dst/',
    [
      {
        kind: 'copy',
        from: 'build',
        chown: 'app:app',
        chmod: '0644',
        link: true,
        parents: true,
        exclude: ['*.md', '.git'],
        sources: ['./a', './b'],
        dest: '/dst/',
        form: 'shell',
      },
    ],
  ],
  [
    'ADD flags',
    'ADD --checksum=sha256:abc --keep-git-dir=true --unpack=false --link=false https://x/y.tgz /y',
    [{ kind: 'add', checksum: 'sha256:abc', keepGitDir: true, unpack: false, link: false }],
  ],
  ['symbolic chmod is accepted', 'COPY --chmod=u=rwX,go=rX a /b', [{ chmod: 'u=rwX,go=rX' }]],
  [
    'COPY in JSON form keeps spaces in names',
    'COPY ["my file", "/dst dir/"]',
    [{ sources: ['my file'], dest: '/dst dir/', form: 'exec' }],
  ],
  ['quoted flag values lose their quotes', 'COPY --chown="1000:1000" a b', [{ chown: '1000:1000' }]],
  ['-- ends the flags', 'COPY -- --weird /dst', [{ sources: ['--weird'], dest: '/dst' }]],
  [
    'HEALTHCHECK with every flag',
    'HEALTHCHECK --interval=1m30s --timeout=5s --start-period=2s --start-interval=500ms --retries=3 CMD curl -f http://localhost/',
    [
      {
        kind: 'healthcheck',
        test: { type: 'cmd', command: { form: 'shell', text: 'curl -f http://localhost/' } },
        intervalNs: 90e9,
        timeoutNs: 5e9,
        startPeriodNs: 2e9,
        startIntervalNs: 5e8,
        retries: 3,
      },
    ],
  ],
  [
    'HEALTHCHECK NONE and a lower-case cmd type',
    'HEALTHCHECK NONE\nHEALTHCHECK cmd ["true"]',
    [{ test: { type: 'none' } }, { test: { type: 'cmd', command: { form: 'exec', args: ['true'] } } }],
  ],
  // the other instructions
  [
    'ENV with several pairs and quotes kept for expansion',
    'ENV A=1 B="two words" C=\'x y\' D=a\\ b',
    [
      {
        pairs: [
          { key: 'A', value: '1' },
          { key: 'B', value: '"two words"' },
          { key: 'C', value: "'x y'" },
          { key: 'D', value: 'a\\ b' },
        ],
      },
    ],
  ],
  [
    'legacy ENV takes the rest of the line as value',
    'ENV GREETING hello   there world',
    [{ pairs: [{ key: 'GREETING', value: 'hello   there world', legacy: true }] }],
  ],
  [
    'multi-line LABEL',
    'LABEL a=1 \\\n      b="2 3"',
    [
      {
        kind: 'label',
        pairs: [
          { key: 'a', value: '1' },
          { key: 'b', value: '"2 3"' },
        ],
      },
    ],
  ],
  [
    'ARG with and without defaults',
    'ARG A B=2 C=',
    [{ kind: 'arg', args: [{ key: 'A' }, { key: 'B', defaultValue: '2' }, { key: 'C', defaultValue: '' }] }],
  ],
  [
    'EXPOSE keeps ports as written (sorted like BuildKit)',
    'EXPOSE 8080/udp 80 $PORT',
    [{ kind: 'expose', ports: ['$PORT', '80', '8080/udp'] }],
  ],
  [
    'USER, WORKDIR, STOPSIGNAL, MAINTAINER take the rest of the line',
    'USER app:app\nWORKDIR /my dir\nSTOPSIGNAL SIGINT\nMAINTAINER Jane Doe <j@d.e>',
    [
      { kind: 'user', user: 'app:app' },
      { kind: 'workdir', path: '/my dir' },
      { kind: 'stopsignal', signal: 'SIGINT' },
      { kind: 'maintainer', maintainer: 'Jane Doe <j@d.e>' },
    ],
  ],
  [
    'VOLUME in JSON and plain form',
    'VOLUME ["/a", "/b"]\nVOLUME /c /d',
    [
      { kind: 'volume', volumes: ['/a', '/b'], form: 'exec' },
      { kind: 'volume', volumes: ['/c', '/d'], form: 'shell' },
    ],
  ],
  [
    'SHELL takes a JSON array',
    'SHELL ["powershell", "-command"]',
    [{ kind: 'shell', shell: ['powershell', '-command'] }],
  ],
  [
    'ONBUILD wraps a typed trigger',
    'ONBUILD COPY --chown=1 . /app',
    [
      {
        kind: 'onbuild',
        expression: 'COPY --chown=1 . /app',
        trigger: { kind: 'copy', chown: '1', dest: '/app' },
      },
    ],
  ],
];

describe('parseDockerfile: syntax', () => {
  for (const [name, text, expected] of cases) {
    it(name, () => assertPartial(body(text), expected));
  }
});

describe('parseDockerfile: directives', () => {
  it('reads syntax, escape and check directives at the top', () => {
    const df = parseDockerfile('# syntax=docker/dockerfile:1.7\n#escape=`\n# check = skip=all\nFROM scratch');
    assert.deepEqual(df.directives, [
      { name: 'syntax', value: 'docker/dockerfile:1.7', line: 1 },
      { name: 'escape', value: '`', line: 2 },
      { name: 'check', value: 'skip=all', line: 3 },
    ]);
    assert.equal(df.escapeToken, '`');
  });

  it('uses the backtick for continuations and keeps backslashes literal', () => {
    const df = parseDockerfile(
      '# escape=`\nFROM mcr.microsoft.com/windows\nCOPY testfile.txt c:\\\nRUN dir c:\\ `\n  /s',
    );
    assertPartial(df.instructions.slice(1), [
      { kind: 'copy', sources: ['testfile.txt'], dest: 'c:\\' },
      { kind: 'run', command: { text: 'dir c:\\   /s' } },
    ]);
  });

  it('stops looking for directives after a comment that is not one', () => {
    const df = parseDockerfile('# a comment\n# escape=`\nFROM scratch\nENV A \\\n b');
    assert.deepEqual(df.directives, []);
    assert.equal(df.escapeToken, '\\');
    assertPartial(df.instructions[1], { pairs: [{ key: 'A', value: 'b' }] });
  });

  it('stops looking for directives after a blank line', () => {
    const df = parseDockerfile('\n# escape=`\nFROM scratch');
    assert.deepEqual(df.directives, []);
  });

  it('an unknown directive ends the directives', () => {
    const df = parseDockerfile('# foo=bar\n# escape=`\nFROM scratch');
    assert.deepEqual(df.directives, []);
  });

  it('directive names are case-insensitive', () => {
    assert.deepEqual(parseDockerfile('# ESCAPE=`\nFROM scratch').escapeToken, '`');
  });

  it('a byte order mark is ignored', () => {
    assert.equal(parseDockerfile('\ufeff# escape=`\nFROM scratch').escapeToken, '`');
  });
});

describe('parseDockerfile: the check directive', () => {
  it('skips the named rules, or all of them', () => {
    const text = 'FROM a as b\nMAINTAINER me\nCMD x';
    const some = parseDockerfile(`# check=skip=MaintainerDeprecated, FromAsCasing\n${text}`);
    assert.deepEqual(some.checks, {
      skip: ['MaintainerDeprecated', 'FromAsCasing'],
      error: false,
      experimental: [],
    });
    assert.deepEqual(
      some.warnings.map((w) => w.rule),
      ['JSONArgsRecommended'],
    );
    assert.deepEqual(parseDockerfile(`# check=skip=all;error=true\n${text}`).warnings, []);
  });

  it('reads error=true', () => {
    assert.deepEqual(parseDockerfile('# check=error=true\nFROM a').checks, {
      skip: [],
      error: true,
      experimental: [],
    });
  });

  it('rejects an unknown option at the directive', () => {
    assert.throws(
      () => parseDockerfile('# check=skip=x;loud=1\nFROM a'),
      (error: unknown) =>
        error instanceof DockerfileError &&
        formatDockerfileError(error) ===
          'Dockerfile:1:1: invalid check option "loud" (the options are skip, error and experimental)',
    );
  });
});

describe('parseDockerfile: stages and warnings', () => {
  it('groups instructions into stages and keeps global ARGs apart', () => {
    const df = parseDockerfile('ARG V=1\nFROM a AS one\nRUN x\nFROM one\nRUN y\nRUN z');
    assert.equal(df.globalArgs.length, 1);
    assert.deepEqual(
      df.stages.map((s) => [s.from.image, s.from.name, s.instructions.length]),
      [
        ['a', 'one', 1],
        ['one', undefined, 2],
      ],
    );
  });

  it('warns about MAINTAINER, FROM/AS casing, stage name casing, shell-form CMD, empty continuation lines', () => {
    const df = parseDockerfile('FROM a as Base\nMAINTAINER me\nRUN a \\\n\n b\nCMD run it\nENTRYPOINT go');
    assert.deepEqual(
      df.warnings.map((w) => [w.rule, w.message, w.range?.line]),
      [
        ['FromAsCasing', "'as' and 'FROM' keywords' casing do not match", 1],
        ['StageNameCasing', "Stage name 'Base' should be lowercase", 1],
        ['MaintainerDeprecated', 'Maintainer instruction is deprecated in favor of using label', 2],
        ['NoEmptyContinuation', 'Empty continuation line', 3],
        [
          'JSONArgsRecommended',
          'JSON arguments recommended for CMD to prevent unintended behavior related to OS signals',
          6,
        ],
        [
          'JSONArgsRecommended',
          'JSON arguments recommended for ENTRYPOINT to prevent unintended behavior related to OS signals',
          7,
        ],
      ],
    );
  });

  it('does not recommend JSON form once the stage sets a SHELL (also through a base stage)', () => {
    const df = parseDockerfile('FROM a AS b\nSHELL ["/bin/bash", "-c"]\nCMD x\nFROM b\nCMD y');
    assert.deepEqual(df.warnings, []);
  });

  it('lower-case from with lower-case as is fine', () => {
    assert.deepEqual(parseDockerfile('from a as b').warnings, []);
  });
});

/** [what is wrong, Dockerfile, exact error line] */
const errorCases: readonly [string, string, string][] = [
  [
    'an empty file',
    '',
    'Dockerfile:1:1: file with no instructions (a Dockerfile needs at least a FROM instruction)',
  ],
  [
    'only comments',
    '# one\n# two\n',
    'Dockerfile:2:1: file with no instructions (a Dockerfile needs at least a FROM instruction)',
  ],
  [
    'an instruction before FROM',
    'RUN x\nFROM a',
    'Dockerfile:1:1: no build stage in current context (only ARG may come before the first FROM)',
  ],
  ['only ARGs', 'ARG A=1', 'Dockerfile:1:1: dockerfile contains no stages to build (add a FROM instruction)'],
  [
    'a misspelled instruction',
    'FROM a\nCOPPY . /',
    'Dockerfile:2:1: unknown instruction: COPPY (did you mean COPY?)',
  ],
  [
    'a misspelled lower-case instruction',
    'FROM a\n  worKdir /x\n  wrkdir /y',
    'Dockerfile:3:3: unknown instruction: wrkdir (did you mean workdir?)',
  ],
  ['an unknown word', 'FROM a\nFROBNICATE x', 'Dockerfile:2:1: unknown instruction: FROBNICATE'],
  [
    'a misspelled flag',
    'FROM a\nCOPY --chmd=644 a b',
    'Dockerfile:2:6: unknown flag: --chmd (did you mean --chmod?)',
  ],
  [
    'a flag the instruction does not take',
    'FROM a\nCOPY --checksum=sha256:x a b',
    'Dockerfile:2:6: unknown flag: --checksum (COPY accepts --chown, --from, --chmod, --link, --exclude, --parents)',
  ],
  [
    'a flag on an instruction without flags',
    'FROM a\nCMD --help',
    'Dockerfile:2:5: unknown flag: --help (CMD takes no flags)',
  ],
  [
    'a flag in continuation',
    'FROM a\nRUN --network=none \\\n    --netwrk=host x',
    'Dockerfile:3:5: unknown flag: --netwrk (did you mean --network?)',
  ],
  [
    'a repeated flag',
    'FROM a\nCOPY --from=a --from=b x y',
    'Dockerfile:2:15: duplicate flag specified: --from',
  ],
  [
    'a string flag without value',
    'FROM a\nCOPY --from x y',
    'Dockerfile:2:6: missing a value on flag: --from (write --from=<value>)',
  ],
  [
    'a boolean flag with an empty value',
    'FROM a\nCOPY --link= x y',
    'Dockerfile:2:6: missing a value on flag: --link',
  ],
  [
    'a boolean flag with a bad value',
    'FROM a\nCOPY --link=yes x y',
    'Dockerfile:2:6: expecting boolean value for flag --link, not: yes',
  ],
  [
    'a bad network',
    'FROM a\nRUN --network=bridge x',
    'Dockerfile:2:5: invalid network mode "bridge" (one of default, none, host)',
  ],
  [
    'a bad security mode',
    'FROM a\nRUN --security=loose x',
    'Dockerfile:2:5: security "loose" is not valid (one of sandbox, insecure)',
  ],
  [
    'a bad second mount is located at its own flag',
    'FROM a\nRUN --mount=type=cache,target=/a \\\n    --mount=type=bind,size=1m x',
    "Dockerfile:3:5: unexpected key 'size' for mount type 'bind'",
  ],
  [
    'a misspelled mount type',
    'FROM a\nRUN --mount=type=cahce,target=/x true',
    'Dockerfile:2:5: unsupported mount type "cahce" (did you mean cache?)',
  ],
  [
    'an unknown mount key',
    'FROM a\nRUN --mount=type=cache,taget=/x true',
    "Dockerfile:2:5: unexpected key 'taget' in 'taget=/x' (did you mean target?)",
  ],
  [
    'a mount field without value',
    'FROM a\nRUN --mount=type=bind,nonsense true',
    "Dockerfile:2:5: invalid field 'nonsense' must be a key=value pair",
  ],
  [
    'a bad mount mode',
    'FROM a\nRUN --mount=type=cache,target=/c,mode=0999 true',
    'Dockerfile:2:5: invalid value 0999 for mode',
  ],
  [
    'uid on a bind mount',
    'FROM a\nRUN --mount=target=/c,uid=1 true',
    'Dockerfile:2:5: uid not allowed for "bind" type mounts',
  ],
  [
    'size on a cache mount',
    'FROM a\nRUN --mount=type=cache,target=/c,size=1m true',
    "Dockerfile:2:5: unexpected key 'size' for mount type 'cache'",
  ],
  [
    'a secret mount without id',
    'FROM a\nRUN --mount=type=secret true',
    'Dockerfile:2:5: invalid secret mount. one of source, target required',
  ],
  [
    'a bare quote in a mount',
    `FROM a\nRUN --mount='target=/a"b' true`,
    'Dockerfile:2:5: failed to parse csv mounts: bare " in non-quoted-field',
  ],
  [
    'a device with two names',
    'FROM a\nRUN --device=a,b x',
    "Dockerfile:2:5: invalid field 'b' must be a key=value pair",
  ],
  [
    'a variable in a mount from',
    'FROM a\nRUN --mount=from=$STAGE,target=/x true',
    "Dockerfile:2:5: 'from' doesn't support variable expansion, define alias stage instead",
  ],
  [
    'a variable in COPY --from',
    'FROM a\nCOPY --from=$STAGE /a /b',
    'Dockerfile:2:6: variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround',
  ],
  [
    'an octal chmod out of range',
    'FROM a\nCOPY --chmod=17777 a b',
    "Dockerfile:2:6: invalid chmod parameter: '17777'. it should be octal string and between 0 and 07777 (an octal mode such as 0755, or a symbolic one such as u=rwX,go=rX)",
  ],
  [
    'a COPY without destination',
    'FROM a\nCOPY onlyone',
    'Dockerfile:2:6: COPY requires at least two arguments, but only one was provided. Destination could not be determined (write COPY <source>... <destination>)',
  ],
  [
    'a heredoc as destination',
    'FROM a\nCOPY x <<EOF\nhi\nEOF',
    'Dockerfile:2:8: COPY cannot accept a heredoc as a destination',
  ],
  ['an unterminated heredoc', 'FROM a\nRUN <<EOF\necho\n', 'Dockerfile:2:1: unterminated heredoc'],
  [
    'FROM with two words',
    'FROM a b',
    'Dockerfile:1:6: FROM requires either one or three arguments (write FROM <image> [AS <name>])',
  ],
  [
    'a stage name with symbols',
    'FROM a AS 1st',
    'Dockerfile:1:11: invalid name for build stage: "1st", name can\'t start with a number or contain symbols (stage names start with a letter and use only letters, digits, "-", "_" and ".")',
  ],
  ['ENV without a value', 'FROM a\nENV ONLYKEY', 'Dockerfile:2:5: ENV must have two arguments'],
  [
    'ENV with a word without =',
    'FROM a\nENV A=1 B',
    'Dockerfile:2:5: Syntax error - can\'t find = in "B". Must be of the form: name=value',
  ],
  ['ENV with a blank name', 'FROM a\nENV =1', 'Dockerfile:2:5: ENV names can not be blank'],
  [
    'ARG without name',
    'FROM a\nARG',
    'Dockerfile:2:1: ARG requires at least one argument (write ARG <name>[=<default>])',
  ],
  ['USER without argument', 'FROM a\nUSER', 'Dockerfile:2:1: USER requires exactly one argument'],
  [
    'SHELL in shell form',
    'FROM a\nSHELL /bin/bash -c',
    'Dockerfile:2:7: SHELL requires the arguments to be in JSON form (write SHELL ["executable", "parameters"])',
  ],
  [
    'JSON with a number',
    'FROM a\nCMD ["a", 1]',
    'Dockerfile:2:5: when using JSON array syntax, arrays must be comprised of strings only',
  ],
  [
    'a HEALTHCHECK of unknown type',
    'FROM a\nHEALTHCHECK RUN x',
    'Dockerfile:2:13: Unknown type "RUN" in HEALTHCHECK (try CMD)',
  ],
  [
    'HEALTHCHECK NONE with arguments',
    'FROM a\nHEALTHCHECK NONE x',
    'Dockerfile:2:13: HEALTHCHECK NONE takes no arguments',
  ],
  [
    'HEALTHCHECK CMD without command',
    'FROM a\nHEALTHCHECK CMD',
    'Dockerfile:2:13: Missing command after HEALTHCHECK CMD',
  ],
  [
    'a bad HEALTHCHECK duration',
    'FROM a\nHEALTHCHECK --interval=5 CMD x',
    'Dockerfile:2:13: time: missing unit in duration "5"',
  ],
  [
    'a too short HEALTHCHECK interval',
    'FROM a\nHEALTHCHECK --timeout=10us CMD x',
    'Dockerfile:2:13: Interval "timeout" cannot be less than 1ms',
  ],
  [
    'negative retries',
    'FROM a\nHEALTHCHECK --retries=-1 CMD x',
    'Dockerfile:2:13: --retries cannot be negative (-1)',
  ],
  [
    'ONBUILD ONBUILD',
    'FROM a\nONBUILD ONBUILD RUN x',
    "Dockerfile:2:9: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
  ],
  ['ONBUILD FROM', 'FROM a\nONBUILD FROM b', "Dockerfile:2:9: FROM isn't allowed as an ONBUILD trigger"],
  [
    'a misspelled ONBUILD trigger',
    'FROM a\nONBUILD RUNN x',
    'Dockerfile:2:9: unknown instruction: RUNN (did you mean RUN?)',
  ],
  [
    'a repeated directive',
    '# escape=\\\n# escape=`\nFROM a',
    'Dockerfile:2:1: only one escape parser directive can be used',
  ],
  [
    'a bad escape token',
    '# escape=x\nFROM a',
    "Dockerfile:1:1: invalid escape token 'x' does not match ` or \\",
  ],
  ['an empty VOLUME', 'FROM a\nVOLUME [""]', 'Dockerfile:2:8: VOLUME specified can not be an empty string'],
];

describe('parseDockerfile: errors are pinned, located and typed', () => {
  for (const [name, text, expected] of errorCases) {
    it(name, () => {
      assert.throws(
        () => parseDockerfile(text),
        (error: unknown) => {
          assert.ok(error instanceof DockerfileError, `not a DockerfileError: ${String(error)}`);
          assert.equal(formatDockerfileError(error), expected);
          assert.equal(error.code, 'DOCKERFILE_INVALID');
          return true;
        },
      );
    });
  }

  it('carries file, line, column and the instruction', () => {
    try {
      parseDockerfile('FROM a\n\nRUN --mount=type=nope true', { file: 'build/Dockerfile.prod' });
      assert.fail('expected an error');
    } catch (error) {
      assert.ok(error instanceof DockerfileError);
      assert.deepEqual(error.location, { file: 'build/Dockerfile.prod', line: 3, column: 5, endLine: 3 });
      assert.equal(error.instruction, 'RUN');
      assert.equal(
        formatDockerfileError(error),
        'build/Dockerfile.prod:3:5: unsupported mount type "nope" (one of bind, cache, tmpfs, secret, ssh)',
      );
    }
  });
});
