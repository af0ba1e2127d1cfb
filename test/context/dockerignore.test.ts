import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  compileExcludePatterns,
  compileIgnoreFile,
  InvalidIgnorePatternError,
  loadIgnoreFile,
  openBuildContext,
  parseIgnoreFile,
} from '../../src/context/index.ts';
import { formatErrorChain, StrataError } from '../../src/util/index.ts';

// [file text, patterns handed to the matcher] — ignorefile.ReadAll's normalisation, checked
// against patternmatcher's ReadAll (Go) during development.
const readCases: Array<[string, string, string[]]> = [
  ['comments start in column one only', '# comment\n  # not a comment\n#!x\n', ['# not a comment']],
  ['blank and space-only lines are skipped', 'a\n\n   \n\t\nb', ['a', 'b']],
  ['surrounding whitespace is trimmed', '  a b  \n', ['a b']],
  ['CRLF line ends', 'a\r\nb\r\n', ['a', 'b']],
  ['a BOM on the first line is dropped', '\uFEFFa\nb', ['a', 'b']],
  ['a leading slash is dropped', '/a\n/a/b/\n//c', ['a', 'a/b', 'c']],
  ['a lone slash stays', '/', ['/']],
  ['patterns are cleaned', 'a/./b\na//b\na/b/../c\n./d\n', ['a/b', 'a/b', 'a/c', 'd']],
  ['.. above the root is kept', '../a\n', ['../a']],
  ['"." is a pattern', '.\n', ['.']],
  ['! is kept, spaces after it dropped', '!a\n! b\n!/c/\n', ['!a', '!b', '!c']],
  ['a lone ! is passed on (the matcher refuses it)', '!\n', ['!']],
  ['no newline at the end', 'a', ['a']],
  ['** is not cleaned away', '**/*.go\n**\n', ['**/*.go', '**']],
];

describe('parseIgnoreFile (ReadAll normalisation)', () => {
  for (const [name, text, want] of readCases) {
    it(name, () => {
      assert.deepEqual(
        parseIgnoreFile(text).map((r) => r.pattern),
        want,
      );
    });
  }
  it('numbers lines from 1, counting comments and blanks', () => {
    assert.deepEqual(parseIgnoreFile('# c\n\na\n  \nb\n'), [
      { pattern: 'a', line: 3 },
      { pattern: 'b', line: 5 },
    ]);
  });
});

describe('compileIgnoreFile', () => {
  it('excludes with the last matching rule winning', () => {
    const matcher = compileIgnoreFile('# build outputs\n/dist\n*.log\n!keep.log\n');
    assert.equal(matcher.matches('dist/app.js'), true);
    assert.equal(matcher.matches('a.log'), true);
    assert.equal(matcher.matches('keep.log'), false);
    assert.equal(matcher.matches('src/a.log'), false, '*.log is not recursive, unlike .gitignore');
  });
  it('names file:line for a malformed pattern', () => {
    assert.throws(
      () => compileIgnoreFile('ok\n# comment\nsrc/[a\n', 'ctx/.dockerignore'),
      (error: unknown) => {
        assert.ok(error instanceof InvalidIgnorePatternError);
        assert.ok(error instanceof StrataError);
        assert.equal(error.code, 'INVALID_IGNORE_PATTERN');
        assert.deepEqual(error.location, { file: 'ctx/.dockerignore', line: 3 });
        assert.equal(
          formatErrorChain(error),
          'ctx/.dockerignore:3: invalid pattern "src/[a": syntax error in pattern "src/[a" ' +
            '(patterns use Go filepath.Match syntax plus **; escape a literal [ as \\[)',
        );
        return true;
      },
    );
  });
  it('refuses a lone !', () => {
    assert.throws(
      () => compileIgnoreFile('a\n!\n'),
      (error: unknown) => {
        assert.ok(error instanceof InvalidIgnorePatternError);
        assert.equal(error.location?.line, 2);
        assert.match(error.message, /illegal exclusion pattern/);
        return true;
      },
    );
  });
  it('compiles --exclude patterns without ignore-file normalisation', () => {
    assert.equal(compileExcludePatterns(['/a']).matches('a'), false);
    assert.throws(() => compileExcludePatterns(['[']), /--exclude: syntax error in pattern/);
  });
});

describe('loadIgnoreFile', () => {
  const root = mkdtempSync(join(tmpdir(), 'strata-ignore-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'ctx'));
  mkdirSync(join(root, 'build'));
  writeFileSync(join(root, 'ctx/.dockerignore'), 'from-root\n');
  writeFileSync(join(root, 'build/app.Dockerfile'), 'FROM scratch\n');
  writeFileSync(join(root, 'build/app.Dockerfile.dockerignore'), 'from-dockerfile\n');
  writeFileSync(join(root, 'build/Dockerfile'), 'FROM scratch\n');

  it('prefers <Dockerfile>.dockerignore next to the Dockerfile', async () => {
    const loaded = await loadIgnoreFile({
      contextDir: join(root, 'ctx'),
      dockerfile: join(root, 'build/app.Dockerfile'),
    });
    assert.equal(loaded.file, join(root, 'build/app.Dockerfile.dockerignore'));
    assert.equal(loaded.matcher.matches('from-dockerfile'), true);
    assert.equal(loaded.matcher.matches('from-root'), false);
  });
  it('falls back to .dockerignore in the context root', async () => {
    const loaded = await loadIgnoreFile({
      contextDir: join(root, 'ctx'),
      dockerfile: join(root, 'build/Dockerfile'),
    });
    assert.equal(loaded.file, join(root, 'ctx/.dockerignore'));
    assert.equal(loaded.matcher.matches('from-root'), true);
  });
  it('excludes nothing when there is no ignore file', async () => {
    const loaded = await loadIgnoreFile({ contextDir: join(root, 'build') });
    assert.equal(loaded.file, undefined);
    assert.equal(loaded.matcher.patterns.length, 0);
    assert.equal(loaded.matcher.matches('anything'), false);
  });
});

describe('openBuildContext', () => {
  const t = mkdtempSync(join(tmpdir(), 'strata-open-'));
  after(() => rmSync(t, { recursive: true, force: true }));
  writeFileSync(join(t, '.dockerignore'), 'secret\n');
  writeFileSync(join(t, 'secret'), 's');
  writeFileSync(join(t, 'app'), 'a');
  writeFileSync(join(t, 'file'), 'f');

  it('opens a directory with its ignore file applied', async () => {
    const ctx = await openBuildContext({ contextDir: t });
    assert.equal(ctx.root, t);
    assert.equal(ctx.ignoreFile, join(t, '.dockerignore'));
    assert.equal(ctx.view.lookup('secret'), undefined);
    assert.equal(ctx.view.lookup('app')?.type, 'file');
  });
  it('follows a symlink to the context directory itself', async () => {
    symlinkSync(t, `${t}-link`);
    try {
      const ctx = await openBuildContext({ contextDir: `${t}-link` });
      assert.equal(ctx.root, t);
      assert.equal(ctx.view.lookup('app')?.type, 'file');
    } finally {
      rmSync(`${t}-link`);
    }
  });
  it('refuses a missing context or a file', async () => {
    await assert.rejects(openBuildContext({ contextDir: join(t, 'nope') }), { code: 'NOT_FOUND' });
    await assert.rejects(openBuildContext({ contextDir: join(t, 'file') }), { code: 'INVALID_INPUT' });
  });
});
