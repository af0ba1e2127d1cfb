import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidReferenceError, isReference, parseReference } from '../../src/reference/index.ts';
import { StrataError } from '../../src/util/index.ts';

const SHA = `sha256:${'a'.repeat(64)}`;
const SHA512 = `sha512:${'b'.repeat(128)}`;
const SHA384 = `sha384:${'c'.repeat(96)}`;

// [input, normalised toString(), familiar()] — each expectation was checked against
// distribution/reference's ParseDockerRef + FamiliarString (Go) during development.
const valid: Array<[string, string, string]> = [
  ['alpine', 'docker.io/library/alpine:latest', 'alpine:latest'],
  ['alpine:3.20', 'docker.io/library/alpine:3.20', 'alpine:3.20'],
  ['library/alpine', 'docker.io/library/alpine:latest', 'alpine:latest'],
  ['docker.io/alpine', 'docker.io/library/alpine:latest', 'alpine:latest'],
  ['docker.io/library/alpine:edge', 'docker.io/library/alpine:edge', 'alpine:edge'],
  ['index.docker.io/alpine', 'docker.io/library/alpine:latest', 'alpine:latest'],
  ['index.docker.io/user/app:v1', 'docker.io/user/app:v1', 'user/app:v1'],
  ['user/app', 'docker.io/user/app:latest', 'user/app:latest'],
  ['library/foo/bar', 'docker.io/library/foo/bar:latest', 'library/foo/bar:latest'],
  ['a/b/c/d', 'docker.io/a/b/c/d:latest', 'a/b/c/d:latest'],
  ['localhost/x', 'localhost/x:latest', 'localhost/x:latest'],
  ['localhost:5000/x', 'localhost:5000/x:latest', 'localhost:5000/x:latest'],
  ['localhost:5000/x:1.0', 'localhost:5000/x:1.0', 'localhost:5000/x:1.0'],
  ['127.0.0.1:5000/a/b:t', '127.0.0.1:5000/a/b:t', '127.0.0.1:5000/a/b:t'],
  ['ghcr.io/org/app:1', 'ghcr.io/org/app:1', 'ghcr.io/org/app:1'],
  ['ghcr.io/org/sub/app', 'ghcr.io/org/sub/app:latest', 'ghcr.io/org/sub/app:latest'],
  [
    'registry.example.com:443/team/app',
    'registry.example.com:443/team/app:latest',
    'registry.example.com:443/team/app:latest',
  ],
  ['[::1]:5000/app', '[::1]:5000/app:latest', '[::1]:5000/app:latest'],
  [
    '[fc00:1:2:3:4:5:6:7]:5000/library/debian',
    '[fc00:1:2:3:4:5:6:7]:5000/library/debian:latest',
    '[fc00:1:2:3:4:5:6:7]:5000/library/debian:latest',
  ],
  // A first component with an uppercase letter is taken as a host name, and hosts may be uppercase.
  ['LOCALDOMAIN/debian', 'LOCALDOMAIN/debian:latest', 'LOCALDOMAIN/debian:latest'],
  ['Docker/docker', 'Docker/docker:latest', 'Docker/docker:latest'],
  // A dotted single component without a slash is a repository, and what follows ':' is a tag.
  ['192.168.0.1', 'docker.io/library/192.168.0.1:latest', '192.168.0.1:latest'],
  ['192.168.0.1:80', 'docker.io/library/192.168.0.1:80', '192.168.0.1:80'],
  [`alpine@${SHA}`, `docker.io/library/alpine@${SHA}`, `alpine@${SHA}`],
  [`alpine:3@${SHA}`, `docker.io/library/alpine:3@${SHA}`, `alpine:3@${SHA}`],
  [`localhost:5000/x@${SHA512}`, `localhost:5000/x@${SHA512}`, `localhost:5000/x@${SHA512}`],
  [`x@${SHA384}`, `docker.io/library/x@${SHA384}`, `x@${SHA384}`],
  ['dock__er/doc-ker', 'docker.io/dock__er/doc-ker:latest', 'dock__er/doc-ker:latest'],
  ['docker---rules/d', 'docker.io/docker---rules/d:latest', 'docker---rules/d:latest'],
  ['ab/c.d_e', 'docker.io/ab/c.d_e:latest', 'ab/c.d_e:latest'],
  ['alpine:_under', 'docker.io/library/alpine:_under', 'alpine:_under'],
  ['alpine:UPPER.case-Tag', 'docker.io/library/alpine:UPPER.case-Tag', 'alpine:UPPER.case-Tag'],
  [`x:${'t'.repeat(128)}`, `docker.io/library/x:${'t'.repeat(128)}`, `x:${'t'.repeat(128)}`],
  [
    `docker.io/${'1a'.repeat(32)}`,
    `docker.io/library/${'1a'.repeat(32)}:latest`,
    `${'1a'.repeat(32)}:latest`,
  ],
  [
    'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
    'docker.io/library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest',
    'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest',
  ],
];

// [input, reason the error must carry]
const invalid: Array<[string, string]> = [
  ['', 'empty reference'],
  ['Alpine', 'repository name (library/Alpine) must be lowercase'],
  ['user/App', 'repository name (user/App) must be lowercase'],
  ['docker.io/library/Alpine:3', 'repository name (library/Alpine) must be lowercase'],
  ['ghcr.io/Org/app', 'repository name (Org/app) must be lowercase'],
  ['a:b:c', 'invalid tag: tag "b:c" may contain only letters, digits, "_", "." and "-"'],
  ['alpine:', 'invalid tag: empty tag'],
  ['alpine:-x', 'invalid tag: tag "-x" must start with a letter, digit or underscore'],
  [`x:${'t'.repeat(129)}`, 'invalid tag: tag is longer than 128 characters'],
  ['alpine@sha256:abc', 'invalid sha256 digest: want 64 hex digits, got 3'],
  [`alpine@sha256:${'A'.repeat(64)}`, 'invalid sha256 digest: hex digits must be lowercase 0-9a-f'],
  [`alpine@md5:${'a'.repeat(32)}`, 'unsupported digest algorithm "md5" (want sha256, sha384 or sha512)'],
  ['alpine@', 'invalid digest "": want <algorithm>:<hex>'],
  ['alpine@sha256', 'invalid digest "sha256": want <algorithm>:<hex>'],
  [
    '1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a',
    'a 64-digit hexadecimal string is an image ID, not a repository name',
  ],
  ['docker///docker', 'repository path has an empty component'],
  ['docker/', 'repository path has an empty component'],
  ['-docker', 'invalid repository name'],
  ['docker-/docker', 'invalid repository name'],
  ['dock..er/docker', 'invalid repository name'],
  ['dock_.er/docker', 'invalid repository name'],
  ['____/____', 'invalid repository name'],
  ['-docker.io/docker/docker', 'invalid repository name'],
  ['https://github.com/docker/docker', 'a reference has no URL scheme'],
  ['[fc00::1]:5000', 'invalid tag'],
  // Distribution accepts this with an empty domain; no registry can serve it (deliberate difference).
  ['a_b.c/x', '"a_b.c" is not a valid registry host name'],
  ['fc00::1:5000/debian', 'invalid repository name'],
  ['[fe80::1%eth0]:5000/debian', 'invalid repository name'],
  ['alpine latest', 'contains whitespace'],
  [`x/${'a'.repeat(256)}`, 'repository name must not be more than 255 characters'],
];

describe('parseReference normalises like Docker', () => {
  for (const [input, normalised, familiar] of valid) {
    it(`${JSON.stringify(input)} → ${normalised}`, () => {
      const ref = parseReference(input);
      assert.equal(ref.toString(), normalised);
      assert.equal(ref.familiar(), familiar);
      assert.equal(`${ref.domain}/${ref.path}`, ref.repository());
      // The normalised form parses back to itself.
      assert.equal(parseReference(ref.toString()).toString(), normalised);
      assert.equal(parseReference(ref.familiar()).toString(), normalised);
    });
  }
});

describe('parseReference rejects invalid references with a reason', () => {
  for (const [input, reason] of invalid) {
    it(`rejects ${JSON.stringify(input.length > 60 ? `${input.slice(0, 60)}…` : input)}: ${reason}`, () => {
      assert.throws(
        () => parseReference(input),
        (error: unknown) => {
          assert.ok(error instanceof InvalidReferenceError);
          assert.ok(error instanceof StrataError);
          assert.equal(error.code, 'INVALID_REFERENCE');
          assert.ok(error.reason.startsWith(reason), `reason ${JSON.stringify(error.reason)}`);
          assert.ok(error.message.startsWith('invalid reference '));
          return true;
        },
      );
      assert.equal(isReference(input), false);
    });
  }
});

describe('Reference parts and helpers', () => {
  it('splits domain, path, tag and digest', () => {
    const ref = parseReference(`localhost:5000/team/app:1.2@${SHA}`);
    assert.equal(ref.domain, 'localhost:5000');
    assert.equal(ref.path, 'team/app');
    assert.equal(ref.tag, '1.2');
    assert.equal(ref.digest, SHA);
    assert.equal(ref.tagDefaulted, false);
  });
  it('fills in latest only when neither tag nor digest is given, and says so', () => {
    const bare = parseReference('alpine');
    assert.equal(bare.tag, 'latest');
    assert.equal(bare.tagDefaulted, true);
    assert.equal(parseReference('alpine:latest').tagDefaulted, false);
    const pinned = parseReference(`alpine@${SHA}`);
    assert.equal(pinned.tag, undefined);
    assert.equal(pinned.tagDefaulted, false);
  });
  it('asks the registry for the digest when there is one, else the tag', () => {
    assert.equal(parseReference(`alpine:3@${SHA}`).identifier(), SHA);
    assert.equal(parseReference('alpine:3').identifier(), '3');
    assert.equal(parseReference('alpine').identifier(), 'latest');
  });
  it('contacts registry-1.docker.io for docker.io, the domain otherwise', () => {
    assert.equal(parseReference('alpine').registryHost(), 'registry-1.docker.io');
    assert.equal(parseReference('index.docker.io/user/x').registryHost(), 'registry-1.docker.io');
    assert.equal(parseReference('localhost:5000/x').registryHost(), 'localhost:5000');
    assert.equal(parseReference('ghcr.io/o/x').registryHost(), 'ghcr.io');
  });
  it('gives the repository with and without docker.io shortening', () => {
    assert.equal(parseReference('alpine:3').repository(), 'docker.io/library/alpine');
    assert.equal(parseReference('alpine:3').familiarRepository(), 'alpine');
    assert.equal(parseReference('user/app').familiarRepository(), 'user/app');
    assert.equal(parseReference('ghcr.io/o/a').familiarRepository(), 'ghcr.io/o/a');
  });
  it('withTag replaces the tag and keeps the digest; withDigest adds a digest', () => {
    const ref = parseReference('alpine');
    assert.equal(ref.withTag('3.20').toString(), 'docker.io/library/alpine:3.20');
    assert.equal(ref.withTag('3.20').tagDefaulted, false);
    assert.equal(ref.withDigest(SHA).toString(), `docker.io/library/alpine:latest@${SHA}`);
    assert.equal(
      parseReference(`alpine@${SHA}`).withTag('x').toString(),
      `docker.io/library/alpine:x@${SHA}`,
    );
    assert.equal(parseReference(`alpine:3@${SHA}`).withoutDigest().toString(), 'docker.io/library/alpine:3');
    assert.equal(
      parseReference(`alpine@${SHA}`).withoutDigest().toString(),
      'docker.io/library/alpine:latest',
    );
    assert.equal(ref.toString(), 'docker.io/library/alpine:latest', 'the original is unchanged');
  });
  it('withTag and withDigest reject bad values', () => {
    const ref = parseReference('alpine');
    assert.throws(() => ref.withTag('a:b'), InvalidReferenceError);
    assert.throws(() => ref.withTag(''), InvalidReferenceError);
    assert.throws(() => ref.withDigest('sha256:1234'), InvalidReferenceError);
  });
  it('serialises to JSON as the normalised string', () => {
    assert.equal(
      JSON.stringify({ ref: parseReference('alpine') }),
      '{"ref":"docker.io/library/alpine:latest"}',
    );
  });
  it('rejects a hostile 100k-character input quickly', () => {
    const start = performance.now();
    assert.throws(() => parseReference(`${'a-'.repeat(50_000)}!`), InvalidReferenceError);
    assert.throws(() => parseReference(`${'a.'.repeat(2000)}/x!`), InvalidReferenceError);
    assert.ok(performance.now() - start < 500);
  });
});
