// ADD's Git sources as BuildKit's dfgitutil.ParseGitRef reads them (cases from its git_ref_test.go).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DockerfileError, isGitSource, isHttpSource, parseGitRef } from '../../src/dockerfile/index.ts';

type Expected =
  | { remote: string; ref?: string; subdir?: string; checksum?: string; scheme?: string }
  | undefined;

const CASES: ReadonlyArray<[string, Expected]> = [
  ['https://example.com/', undefined],
  ['https://example.com/foo', undefined],
  ['https://example.com/foo.git', { remote: 'https://example.com/foo.git', scheme: 'https' }],
  ['https://example.com/foo.git#deadbeef', { remote: 'https://example.com/foo.git', ref: 'deadbeef' }],
  ['https://example.com/foo.git#release/1.2', { remote: 'https://example.com/foo.git', ref: 'release/1.2' }],
  ['https://example.com/foo.git/', undefined],
  ['https://example.com/foo.git.bar', undefined],
  ['git://example.com/foo', { remote: 'git://example.com/foo', scheme: 'git' }],
  // The deprecated form is a local path for ADD (BuildKit: IndistinguishableFromLocal).
  ['github.com/moby/buildkit', undefined],
  ['custom.xyz/moby/buildkit.git', undefined],
  [
    'https://foo:bar@github.com/moby/buildkit.git',
    { remote: 'https://foo:bar@github.com/moby/buildkit.git' },
  ],
  ['git@github.com:moby/buildkit', { remote: 'git@github.com:moby/buildkit', scheme: 'ssh' }],
  [
    'git@bitbucket.org:atlassianlabs/atlassian-docker.git',
    { remote: 'git@bitbucket.org:atlassianlabs/atlassian-docker.git' },
  ],
  [
    'https://github.com/foo/bar.git#baz/qux:quux/quuz',
    { remote: 'https://github.com/foo/bar.git', ref: 'baz/qux', subdir: 'quux/quuz' },
  ],
  ['http://github.com/docker/docker.git:#branch', undefined],
  [
    'https://github.com/docker/docker.git#:myfolder',
    { remote: 'https://github.com/docker/docker.git', subdir: 'myfolder' },
  ],
  ['./.git', undefined],
  // An scp-style user or host that reads as an option to ssh is no Git source.
  ['-oProxyCommand@h:r.git', undefined],
  ['git@-oProxyCommand:r.git', undefined],
  ['.git', undefined],
  ['ftp://example.com/foo.git', undefined],
  [
    'https://github.com/docker/docker.git?ref=v1.0.0&subdir=/subdir',
    { remote: 'https://github.com/docker/docker.git', ref: 'v1.0.0', subdir: 'subdir' },
  ],
  [
    'https://github.com/moby/buildkit.git?subdir=/subdir#v1.0.0',
    { remote: 'https://github.com/moby/buildkit.git', ref: 'v1.0.0', subdir: 'subdir' },
  ],
  [
    'https://github.com/moby/buildkit.git?tag=v1.0.0',
    { remote: 'https://github.com/moby/buildkit.git', ref: 'refs/tags/v1.0.0' },
  ],
  [
    'https://github.com/moby/buildkit.git?branch=v1.0',
    { remote: 'https://github.com/moby/buildkit.git', ref: 'refs/heads/v1.0' },
  ],
  [
    'git@github.com:moby/buildkit.git?subdir=/subdir#v1.0.0',
    { remote: 'git@github.com:moby/buildkit.git', ref: 'v1.0.0', subdir: 'subdir' },
  ],
  [
    'https://github.com/moby/buildkit.git?checksum=deadbeef',
    { remote: 'https://github.com/moby/buildkit.git', checksum: 'deadbeef' },
  ],
];

const ERRORS: ReadonlyArray<[string, RegExp]> = [
  ['https://github.com/moby/buildkit.git?ref=v1.0.0&tag=v1.2.3', /ref conflicts/],
  ['https://github.com/moby/buildkit.git?tag=v1.0.0&branch=v1.0', /branch conflicts with tag/],
  ['https://github.com/moby/buildkit.git?mtime=invalid', /invalid mtime value/],
  ['https://github.com/moby/buildkit.git?fetch-by-commit=invalid', /invalid fetch-by-commit value/],
  ['https://github.com/moby/buildkit.git?invalid=123', /unexpected query "invalid"/],
  ['https://github.com/moby/buildkit.git?ref=a&ref=b', /query "ref" has multiple values/],
  ['https://github.com/moby/buildkit.git?ref=', /query "ref" has no value/],
  // A ref is given to git as an argument: one that reads as an option is refused (BuildKit's
  // validateGitRef), whichever way it is written.
  [
    `https://h/r.git?checksum=${'a'.repeat(40)}&fetch-by-commit#--upload-pack=touch%20/tmp/x`,
    /invalid git ref "--upload-pack=touch \/tmp\/x"/,
  ],
  ['https://h/r.git?ref=-c', /invalid git ref "-c"/],
  ['git://h/r#-x:sub', /invalid git ref "-x"/],
];

describe('parseGitRef', () => {
  for (const [source, expected] of CASES) {
    it(`${source} → ${expected === undefined ? 'no git source' : expected.remote}`, () => {
      const ref = parseGitRef(source);
      if (expected === undefined) {
        assert.equal(ref, undefined);
        assert.equal(isGitSource(source), false);
        return;
      }
      assert.ok(ref);
      assert.equal(ref.remote, expected.remote);
      assert.equal(ref.ref, expected.ref ?? '');
      assert.equal(ref.subdir, expected.subdir ?? '');
      assert.equal(ref.checksum, expected.checksum);
      if (expected.scheme) assert.equal(ref.scheme, expected.scheme);
      assert.equal(isGitSource(source), true);
      assert.equal(isHttpSource(source), false);
    });
  }
  for (const [source, message] of ERRORS) {
    it(`refuses ${source}`, () => {
      assert.throws(
        () => parseGitRef(source),
        (e: unknown) => e instanceof DockerfileError && message.test(e.message),
      );
      assert.equal(isGitSource(source), true);
    });
  }
  it('reads the flags of the query form', () => {
    const ref = parseGitRef(
      'https://h/r.git?keep-git-dir&submodules=false&mtime=commit&fetch-by-commit&checksum=ab',
    )!;
    assert.equal(ref.keepGitDir, true);
    assert.equal(ref.submodules, false);
    assert.equal(ref.mtime, 'commit');
    assert.equal(ref.fetchByCommit, true);
  });
  it('leaves plain URLs to download', () => {
    assert.equal(isHttpSource('https://example.com/file.tar.gz'), true);
    assert.equal(isHttpSource('https://example.com/repo.git'), false);
  });
});
