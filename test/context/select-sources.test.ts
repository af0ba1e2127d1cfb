import assert from 'node:assert/strict';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  ContextView,
  type ContextView as ContextViewType,
  compileIgnoreFile,
  type SelectedEntry,
  SourceNotFoundError,
  selectSources,
} from '../../src/context/index.ts';
import { isWithin, SymlinkLoopError } from '../../src/util/index.ts';
import { makeTree } from './fixture-tree.ts';

/** `*` marks a match root; then destination path = context path : type initial. */
function show(entries: Iterable<SelectedEntry>): string[] {
  return [...entries].map((e) => `${e.matchRoot ? '*' : ''}${e.destPath}=${e.node.path}:${e.node.type[0]}`);
}

const tree = makeTree({
  'a.txt': 'a',
  'b.txt': 'b',
  'c.md': 'c',
  '.hidden': 'h',
  'a*b.txt': 'a star in the name',
  '[weird]/file': 'w',
  'src/main.go': 'm',
  'src/util.go': 'u',
  'src/sub/deep.go': 'd',
  'src/sub/notes.txt': 'n',
  'docs/keep.txt': 'k',
  'docs/drop.txt': 'x',
  'docs/inner/x.txt': 'y',
  'node_modules/m/index.js': 'i',
  empty: { dir: true },
  'abs-etc': { link: '/etc' },
  up: { link: '../../..' },
  'src/up2': { link: '../../' },
  srclink: { link: 'src' },
  filelink: { link: 'a.txt' },
  loop1: { link: 'loop2' },
  loop2: { link: 'loop1' },
  'hidden-link': { link: 'docs/drop.txt' },
  'abs-inside': { link: '/src' },
});
after(tree.remove);
const view = new ContextView(tree.root, compileIgnoreFile('node_modules\ndocs\n!docs/keep.txt\n*.md\n'));

type Options = { excludes?: string[]; parents?: boolean };
// [what it proves, sources, options, expected entries]
const selections: Array<[string, string[], Options, string[]]> = [
  [
    'the context root yields every visible entry, symlinks as symlinks, in Go order',
    ['.'],
    {},
    [
      '*=:d',
      '.hidden=.hidden:f',
      '[weird]=[weird]:d',
      '[weird]/file=[weird]/file:f',
      'a*b.txt=a*b.txt:f',
      'a.txt=a.txt:f',
      'abs-etc=abs-etc:s',
      'abs-inside=abs-inside:s',
      'b.txt=b.txt:f',
      'docs=docs:d',
      'docs/keep.txt=docs/keep.txt:f',
      'empty=empty:d',
      'filelink=filelink:s',
      'hidden-link=hidden-link:s',
      'loop1=loop1:s',
      'loop2=loop2:s',
      'src=src:d',
      'src/main.go=src/main.go:f',
      'src/sub=src/sub:d',
      'src/sub/deep.go=src/sub/deep.go:f',
      'src/sub/notes.txt=src/sub/notes.txt:f',
      'src/up2=src/up2:s',
      'src/util.go=src/util.go:f',
      'srclink=srclink:s',
      'up=up:s',
    ],
  ],
  [
    'a wildcard matches top-level names only',
    ['*.txt'],
    {},
    ['*a*b.txt=a*b.txt:f', '*a.txt=a.txt:f', '*b.txt=b.txt:f'],
  ],
  [
    "copies a directory's contents, not the directory itself",
    ['src'],
    {},
    [
      '*=src:d',
      'main.go=src/main.go:f',
      'sub=src/sub:d',
      'sub/deep.go=src/sub/deep.go:f',
      'sub/notes.txt=src/sub/notes.txt:f',
      'up2=src/up2:s',
      'util.go=src/util.go:f',
    ],
  ],
  [
    'a wildcard in the last component',
    ['src/*.go'],
    {},
    ['*main.go=src/main.go:f', '*util.go=src/util.go:f'],
  ],
  [
    'a wildcard directory component does not enter symlinked directories',
    ['*/*.go'],
    {},
    ['*main.go=src/main.go:f', '*util.go=src/util.go:f'],
  ],
  [
    'the literal part before a wildcard is resolved through symlinks',
    ['srclink/*.go'],
    {},
    ['*main.go=src/main.go:f', '*util.go=src/util.go:f'],
  ],
  [
    'a named symlink to a directory is followed',
    ['srclink'],
    {},
    [
      '*=src:d',
      'main.go=src/main.go:f',
      'sub=src/sub:d',
      'sub/deep.go=src/sub/deep.go:f',
      'sub/notes.txt=src/sub/notes.txt:f',
      'up2=src/up2:s',
      'util.go=src/util.go:f',
    ],
  ],
  ['a named symlink to a file copies the file under the link name', ['filelink'], {}, ['*filelink=a.txt:f']],
  ['a relative symlink climbing out is clamped at the root', ['up/a.txt'], {}, ['*a.txt=a.txt:f']],
  ['a symlinked parent directory climbing out is clamped', ['src/up2/a.txt'], {}, ['*a.txt=a.txt:f']],
  [
    'an absolute symlink target is taken inside the root',
    ['abs-inside/main.go'],
    {},
    ['*main.go=src/main.go:f'],
  ],
  ['.. in a source cannot leave the root', ['../../a.txt'], {}, ['*a.txt=a.txt:f']],
  ['a leading slash means the context root', ['/src/main.go'], {}, ['*main.go=src/main.go:f']],
  [
    'an excluded directory is visible as the parent of a re-included file',
    ['docs'],
    {},
    ['*=docs:d', 'keep.txt=docs/keep.txt:f'],
  ],
  ['a wildcard matching nothing selects nothing', ['nomatch*'], {}, []],
  ['a class wildcard can match a literal star', ['a[*]b.txt'], {}, ['*a*b.txt=a*b.txt:f']],
  ['brackets in names can be matched with a class', ['[[]weird]/file'], {}, ['*file=[weird]/file:f']],
  ['an empty directory yields just itself', ['empty'], {}, ['*=empty:d']],
  [
    'several sources, in order',
    ['a.txt', 'src/sub'],
    {},
    ['*a.txt=a.txt:f', '*=src/sub:d', 'deep.go=src/sub/deep.go:f', 'notes.txt=src/sub/notes.txt:f'],
  ],
  [
    '--exclude is matched relative to the source, with patternmatcher rules',
    ['.'],
    { excludes: ['*.txt', 'src/sub'] },
    [
      '*=:d',
      '.hidden=.hidden:f',
      '[weird]=[weird]:d',
      '[weird]/file=[weird]/file:f',
      'abs-etc=abs-etc:s',
      'abs-inside=abs-inside:s',
      'docs=docs:d',
      'docs/keep.txt=docs/keep.txt:f',
      'empty=empty:d',
      'filelink=filelink:s',
      'hidden-link=hidden-link:s',
      'loop1=loop1:s',
      'loop2=loop2:s',
      'src=src:d',
      'src/main.go=src/main.go:f',
      'src/up2=src/up2:s',
      'src/util.go=src/util.go:f',
      'srclink=srclink:s',
      'up=up:s',
    ],
  ],
  [
    '--exclude below a directory source',
    ['src'],
    { excludes: ['*.go'] },
    [
      '*=src:d',
      'sub=src/sub:d',
      'sub/deep.go=src/sub/deep.go:f',
      'sub/notes.txt=src/sub/notes.txt:f',
      'up2=src/up2:s',
    ],
  ],
  [
    '--exclude with an exception re-includes below an excluded directory',
    ['src'],
    { excludes: ['sub', '!sub/notes.txt'] },
    [
      '*=src:d',
      'main.go=src/main.go:f',
      'sub=src/sub:d',
      'sub/notes.txt=src/sub/notes.txt:f',
      'up2=src/up2:s',
      'util.go=src/util.go:f',
    ],
  ],
  [
    '--exclude never applies to a wildcard match itself (BuildKit tests only paths below it)',
    ['*.txt'],
    { excludes: ['*.txt'] },
    ['*a*b.txt=a*b.txt:f', '*a.txt=a.txt:f', '*b.txt=b.txt:f'],
  ],
  [
    '--parents keeps the path and creates parent directories',
    ['src/sub/deep.go'],
    { parents: true },
    ['*=:d', 'src=src:d', 'src/sub=src/sub:d', 'src/sub/deep.go=src/sub/deep.go:f'],
  ],
  [
    '--parents keeps only what follows a /./ pivot',
    ['./src/./sub/*.go'],
    { parents: true },
    ['*=src:d', 'sub=src/sub:d', 'sub/deep.go=src/sub/deep.go:f'],
  ],
  [
    '--parents with ** across directories',
    ['src/**/*.txt'],
    { parents: true },
    ['*=:d', 'src=src:d', 'src/sub=src/sub:d', 'src/sub/notes.txt=src/sub/notes.txt:f'],
  ],
];

describe('selectSources', () => {
  for (const [name, sources, options, want] of selections) {
    it(name, () => {
      const got = [...selectSources({ view, sources, ...options })];
      assert.deepEqual(show(got), want);
      for (const entry of got) assert.ok(isWithin(tree.root, entry.node.absPath), entry.node.absPath);
    });
  }
});

// [what it proves, source, options, hint expected]
const missing: Array<[string, string, Options, boolean]> = [
  ['an absolute symlink to /etc never reaches the host /etc', 'abs-etc/passwd', {}, false],
  ['the link itself resolves inside the root, where there is no etc', 'abs-etc', {}, false],
  ['a file hidden by .dockerignore', 'docs/drop.txt', {}, true],
  ['a symlink whose target is hidden by .dockerignore', 'hidden-link', {}, true],
  ['an excluded directory', 'node_modules', {}, true],
  ['an excluded file type', 'c.md', {}, true],
  ['the directory part of a wildcard source', 'nodir/*.txt', {}, false],
  ['a --parents source without wildcards', 'src/missing.go', { parents: true }, false],
];

describe('selectSources: sources the build cannot see', () => {
  for (const [name, source, options, hinted] of missing) {
    it(`${name}: ${source}`, () => {
      assert.throws(
        () => [...selectSources({ view, sources: [source], ...options })],
        (error: unknown) => {
          assert.ok(error instanceof SourceNotFoundError);
          assert.equal(error.code, 'SOURCE_NOT_FOUND');
          assert.equal(error.source, source);
          assert.match(error.message, /not found in the build context$/);
          assert.equal(error.hint?.includes('.dockerignore') ?? false, hinted);
          return true;
        },
      );
    });
  }
  it('reports a symlink loop', () => {
    assert.throws(() => [...selectSources({ view, sources: ['loop1'] })], SymlinkLoopError);
  });
});

describe('selectSources: symlinks that point outside the context', () => {
  const outside = makeTree({
    'ctx/ok.txt': 'ok',
    'outside/secret.txt': 'secret',
    'ctx/rel': { link: '../outside' },
    'ctx/deep/rel2': { link: '../../outside/secret.txt' },
  });
  after(outside.remove);
  symlinkSync(join(outside.root, 'outside'), join(outside.root, 'ctx/abs'));
  const ctx: ContextViewType = new ContextView(join(outside.root, 'ctx'));
  for (const source of ['rel/secret.txt', 'abs/secret.txt', 'deep/rel2', 'rel/*.txt', 'abs/*']) {
    it(`never reads ${source} from outside the root`, () => {
      assert.throws(() => [...selectSources({ view: ctx, sources: [source] })], SourceNotFoundError);
    });
  }
  it('walks past such links without following them', () => {
    const got = [...selectSources({ view: ctx, sources: ['.'] })];
    assert.deepEqual(show(got), [
      '*=:d',
      'abs=abs:s',
      'deep=deep:d',
      'deep/rel2=deep/rel2:s',
      'ok.txt=ok.txt:f',
      'rel=rel:s',
    ]);
    for (const entry of got) assert.ok(isWithin(join(outside.root, 'ctx'), entry.node.absPath));
  });
});

describe('ContextView with wildcard exceptions', () => {
  const t = makeTree({
    'a.go': '1',
    'README.md': '2',
    'cmd/tool/main.go': '3',
    'cmd/tool/data.json': '4',
    'vendor/lib/x.go': '5',
    'assets/logo.png': '6',
  });
  after(t.remove);
  it('walks excluded directories to find what a wildcard exception re-includes', () => {
    const v = new ContextView(t.root, compileIgnoreFile('**\n!**/*.go\n'));
    assert.deepEqual(show(selectSources({ view: v, sources: ['.'] })), [
      '*=:d',
      'a.go=a.go:f',
      'cmd=cmd:d',
      'cmd/tool=cmd/tool:d',
      'cmd/tool/main.go=cmd/tool/main.go:f',
      'vendor=vendor:d',
      'vendor/lib=vendor/lib:d',
      'vendor/lib/x.go=vendor/lib/x.go:f',
    ]);
    assert.equal(v.lookup('assets'), undefined, 'a directory with nothing visible below it is invisible');
    assert.equal(v.lookup('README.md'), undefined);
    assert.equal(v.lookup('cmd/tool/main.go')?.type, 'file');
  });
  it('skips an excluded directory when no exception can reach below it', () => {
    const v = new ContextView(t.root, compileIgnoreFile('cmd\n!README.md\n'));
    assert.equal(v.lookup('cmd'), undefined);
    assert.equal(v.lookup('cmd/tool/main.go'), undefined);
    assert.equal(v.lookup('vendor/lib/x.go')?.type, 'file');
  });
});

describe('ContextView matches what the docker CLI sends', () => {
  // This tree and ignore file were sent through `docker build` (Docker 28 CLI, classic builder)
  // and the image exported; the listing below is what arrived, minus the Dockerfile (the classic
  // builder always re-adds it; BuildKit, whose semantics we follow, does not).
  const t = makeTree({
    'a/b': '',
    'a/c': '',
    'vendor/x.go': '',
    'cmd/x.go': '',
    'docs/keep.txt': '',
    'docs/drop.txt': '',
    'docs/inner/x.txt': '',
    'abc/f': '',
    abcfile: '',
    xfile: '',
    'a(b)c': '',
    'p(q)r/def': '',
    'dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl': '',
    'x|y': '',
    zb: '',
    Dockerfile: 'FROM scratch\nCOPY . /ctx/\n',
  });
  after(t.remove);
  it('excludes and re-includes the same entries', () => {
    const ignore =
      '*/b\n!a\n**/*.go\n!vendor/x.go\nvendor\ndocs\n!docs/keep.txt\nabc/**\n**file\np(q)r/def\ndist/*.whl\nx|z*\n';
    const v = new ContextView(t.root, compileIgnoreFile(ignore));
    const got = [...selectSources({ view: v, sources: ['.'] })]
      .filter((e) => e.destPath !== '')
      .map((e) => `${e.destPath}${e.node.type === 'directory' ? '/' : ''}`);
    assert.deepEqual(got, [
      'a/',
      'a/c',
      'a(b)c',
      'abc/',
      'cmd/',
      'dist/',
      'docs/',
      'docs/keep.txt',
      'p(q)r/',
    ]);
  });
});

describe('walk order', () => {
  const t = makeTree({ z: '', é: '', Ａ: '', '😀': '', B: '', a: '' });
  after(t.remove);
  it("sorts names by UTF-8 bytes, as Go's walk does (not by UTF-16 code units)", () => {
    const got = [...selectSources({ view: new ContextView(t.root), sources: ['.'] })].map((e) => e.destPath);
    assert.deepEqual(got, ['', 'B', 'a', 'z', 'é', 'Ａ', '😀']);
  });
});
