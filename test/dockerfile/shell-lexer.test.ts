// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile text is full of ${VAR} written in plain strings on purpose.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DockerfileError, envFrom, ShellLexer } from '../../src/dockerfile/index.ts';

// The variables every case sees. EMPTY is set but empty; UNSET is not set at all.
const env = envFrom([
  ['HOME', '/root'],
  ['NAME', 'world'],
  ['EMPTY', ''],
  ['FILE', 'archive.tar.gz'],
  ['PATHS', '/usr/local/bin:/usr/bin:/bin'],
  ['GREETING', 'hello there'],
  ['CITY', 'Zürich'],
  ['CRLF', 'a\r\nb'],
  ['AS', 'a'.repeat(60)],
]);

const lexer = new ShellLexer();

/** [input, expected result, or Error for a syntax error] */
const wordCases: readonly [string, string | typeof Error][] = [
  // plain words, quotes, escapes
  ['plain', 'plain'],
  ["ca'ta'log", 'catalog'],
  ["one'unterminated", Error],
  ["don\\'t", "don't"],
  ['a\\bc', 'abc'],
  ['"a\\bc"', 'a\\bc'],
  ['"a\\\\bc"', 'a\\bc'],
  ["'a\\bc'", 'a\\bc'],
  ['trailing\\', 'trailing'],
  ['trailing\\\\', 'trailing\\'],
  ['"open', Error],
  ['"escaped close\\"', Error],
  ['"mixed\'quote"', "mixed'quote"],
  ["'single\\'", 'single\\'],
  ['"\'\'"', "''"],
  // $name
  ['$HOME', '/root'],
  ['${HOME}', '/root'],
  ['pre$HOME.post', 'pre/root.post'],
  ['$UNSET', ''],
  ['x${UNSET}y', 'xy'],
  ['$.', '$.'],
  ['cost: 5$', 'cost: 5$'],
  ['$1abc', 'abc'],
  ['\\$HOME', '$HOME'],
  ['\\\\$HOME', '\\/root'],
  ['"\\$HOME"', '$HOME'],
  ["'$HOME'", '$HOME'],
  ['"$HOME"', '/root'],
  ['"it\'s $NAME"', "it's world"],
  ['$CITY', 'Zürich'],
  ['Grüße$NAME', 'Grüßeworld'],
  // ${} errors
  ['${}', Error],
  ['x${}y', Error],
  ['\\${}', '${}'],
  ['${.}', Error],
  ['${HOME', Error],
  ['${{HOME}', Error],
  ['${HOME}}', '/root}'],
  ['${:}', Error],
  ['${:-x}', Error],
  // defaults and alternatives
  ['${UNSET:-fallback}', 'fallback'],
  ['${EMPTY:-fallback}', 'fallback'],
  ['${EMPTY-fallback}', ''],
  ['${UNSET-fallback}', 'fallback'],
  ['${NAME:-fallback}', 'world'],
  ['${UNSET:-$HOME}', '/root'],
  ['${UNSET:-${ALSO_UNSET:-deep}}', 'deep'],
  ['${UNSET:-a b}', 'a b'],
  ['${UNSET:-a ${x}', Error],
  ['${UNSET:-a {x}', 'a {x'],
  ['${NAME:+alt}', 'alt'],
  ['${EMPTY:+alt}', ''],
  ['${EMPTY+alt}', 'alt'],
  ['${UNSET+alt}', ''],
  ['${NAME:+${HOME}}', '/root'],
  ['${NAME:+${UNSET}}', ''],
  ['${NAME:+$NAME:}', 'world:'],
  ['${UNSET:-\\$HOME}', '$HOME'],
  ['${UNSET:-\\${HOME}z}', '${HOMEz}'],
  ['${NAME:=x}', Error],
  ['${NAME:x}', Error],
  // required
  ['${NAME?}', 'world'],
  ['${NAME:?}', 'world'],
  ['${EMPTY?}', ''],
  ['${EMPTY:?}', Error],
  ['${UNSET?}', Error],
  ['${UNSET:?}', Error],
  // prefix and suffix removal
  ['${FILE#*.}', 'tar.gz'],
  ['${FILE##*.}', 'gz'],
  ['${FILE%.*}', 'archive.tar'],
  ['${FILE%%.*}', 'archive'],
  ['${FILE#nomatch}', 'archive.tar.gz'],
  ['${FILE%gz}', 'archive.tar.'],
  ['${PATHS#*:}', '/usr/bin:/bin'],
  ['${PATHS##*:}', '/bin'],
  ['${PATHS%:*}', '/usr/local/bin:/usr/bin'],
  ['${PATHS%%:*}', '/usr/local/bin'],
  ['${FILE#ar?h}', 'ive.tar.gz'],
  ['${UNSET#x}', ''],
  ['${FILE:#x}', Error],
  ['${FILE:%x}', Error],
  ['${FILE#\\*}', 'archive.tar.gz'],
  ['${FILE#\\q}', Error],
  // replacement
  ['${PATHS/:/ }', '/usr/local/bin /usr/bin:/bin'],
  ['${PATHS//:/ }', '/usr/local/bin /usr/bin /bin'],
  ['${FILE/.tar/}', 'archive.gz'],
  ['${FILE//a/A}', 'Archive.tAr.gz'],
  ['${FILE/*./X}', 'Xgz'],
  ['${FILE/nomatch/X}', 'archive.tar.gz'],
  ['${UNSET/a/b}', ''],
  ['${FILE/a}', Error],
  // `$$` is the special parameter `$`, which is never set
  ['${NAME/o/$$}', 'wrld'],
  // Go's regexp semantics (BuildKit runs the pattern as a Go regexp): an empty match right after a
  // match is not replaced, and `?` (Go's `.`) matches any character but \n, \r included
  ['${FILE//*/X}', 'X'],
  ['${CRLF//?/x}', 'xx\nx'],
  ['${CRLF#?}', '\r\nb'],
  ['${CRLF#??}', '\nb'],
  ['${CRLF%\n*}', 'a\r'],
  ['${FILE/#/X}', 'archive.tar.gz'],
  ['${CITY//?/.}', '......'],
  // a pattern a backtracking engine needs exponential time for (32 s before): linear here
  ['${AS#*a*a*a*a*a*a*a*b}', 'a'.repeat(60)],
  ['${AS##*a*a*a*a*a*a*a*a}', ''],
  ['${AS%a*a*a*a*a*a*a*a}', 'a'.repeat(52)],
  // positional parameters are never set
  ['$1', ''],
  ['${1:-one}', 'one'],
  ['${10}', ''],
];

describe('shell lexer: one word (BuildKit ProcessWord)', () => {
  for (const [input, expected] of wordCases) {
    it(`${JSON.stringify(input)} → ${expected === Error ? 'error' : JSON.stringify(expected)}`, () => {
      if (expected === Error) {
        assert.throws(() => lexer.processWord(input, env), DockerfileError);
      } else {
        assert.equal(lexer.processWord(input, env), expected);
      }
    });
  }
});

/** [input, expected words] */
const wordsCases: readonly [string, readonly string[]][] = [
  ['a b   c', ['a', 'b', 'c']],
  ['"a b" c', ['a b', 'c']],
  ["'a  b'c d", ['a  bc', 'd']],
  ['$GREETING', ['hello', 'there']],
  ['"$GREETING"', ['hello there']],
  ['a\\ b', ['a b']],
  ['""', []],
  ['x "" y', ['x', 'y']],
  ['  lead trail  ', ['lead', 'trail']],
  ['${UNSET:-1 2}', ['1', '2']],
  ['80/tcp $UNSET 443', ['80/tcp', '443']],
];

describe('shell lexer: word splitting after expansion (ProcessWords)', () => {
  for (const [input, expected] of wordsCases) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(lexer.processWords(input, env), expected);
    });
  }
});

describe('shell lexer: options', () => {
  it('uses the backtick as escape token when the directive says so', () => {
    const backtick = new ShellLexer({ escapeToken: '`' });
    assert.equal(backtick.processWord('C:\\path`$HOME', env), 'C:\\path$HOME');
    assert.equal(backtick.processWord('"a`"b"', env), 'a"b');
  });

  it('keeps references to unset variables when asked (used to find heredoc names)', () => {
    const keep = new ShellLexer({ skipUnsetEnv: true });
    assert.equal(
      keep.processWord('$UNSET ${UNSET} ${UNSET:-x} $NAME', env),
      '$UNSET ${UNSET} ${UNSET:-x} world',
    );
  });

  it('keeps quotes and escapes raw when asked', () => {
    const raw = new ShellLexer({ rawQuotes: true, rawEscapes: true });
    assert.equal(raw.processWord(`"a" 'b' c\\d`, env), `"a" 'b' c\\d`);
  });

  it('treats quotes as plain characters for heredoc bodies', () => {
    const body = new ShellLexer({ skipProcessQuotes: true });
    assert.equal(body.processWord(`echo '$NAME' "$HOME"\n`, env), `echo 'world' "/root"\n`);
  });

  it('reports which variables a word used and which were unset', () => {
    const result = lexer.expand('$NAME ${UNSET:-x} ${HOME}', env);
    assert.deepEqual([...result.matched].sort(), ['HOME', 'NAME']);
    assert.deepEqual([...result.unmatched], ['UNSET']);
  });

  it('names the word and the problem in its error', () => {
    assert.throws(
      () => lexer.processWord('${NAME', env),
      (error: unknown) =>
        error instanceof DockerfileError &&
        error.message === `failed to process "\${NAME": syntax error: missing '}'`,
    );
    assert.throws(
      () => lexer.processWord('${UNSET:?must be set}', env),
      (error: unknown) =>
        error instanceof DockerfileError &&
        error.message === 'failed to process "${UNSET:?must be set}": UNSET: must be set',
    );
    // Quoted as Go's %q quotes it (BuildKit: `failed to process %q`): \x01 and \v, not JSON's \u0001.
    assert.throws(
      () => lexer.processWord('\u0001\v${NAME', env),
      (error: unknown) =>
        error instanceof DockerfileError &&
        error.message === `failed to process "\\x01\\v\${NAME": syntax error: missing '}'`,
    );
    assert.throws(
      () => lexer.processWord('${EMPTY:?}', env),
      (error: unknown) =>
        error instanceof DockerfileError && error.message.endsWith('EMPTY: is not allowed to be empty'),
    );
  });
});
