// ADD and COPY sources that are not files of the context: URLs and Git repositories, as BuildKit's
// dispatchCopy checks them before the build.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DockerfileError, formatDockerfileError, parseDockerfile } from '../../src/dockerfile/index.ts';
import { parsePlatform } from '../../src/oci/index.ts';
import { planBuild } from '../../src/plan/index.ts';

const AMD64 = parsePlatform('linux/amd64');

function fails(line: string, message: string): void {
  assert.throws(
    () => planBuild(parseDockerfile(`FROM scratch\n${line}\n`), { platform: AMD64, buildPlatform: AMD64 }),
    (e: unknown) => e instanceof DockerfileError && formatDockerfileError(e).startsWith(message),
  );
}

function plans(line: string): void {
  planBuild(parseDockerfile(`FROM scratch\n${line}\n`), { platform: AMD64, buildPlatform: AMD64 });
}

describe('ADD and COPY of remote sources', () => {
  it('refuses a URL or a Git repository in COPY', () => {
    fails('COPY https://example.com/a.tgz /a', "Dockerfile:2:1: source can't be a URL for COPY");
    fails('COPY https://example.com/r.git /a', "Dockerfile:2:1: source can't be a git ref for COPY");
    fails('COPY git@example.com:r.git /a', "Dockerfile:2:1: source can't be a git ref for COPY");
  });

  it('checks --keep-git-dir and --checksum against the URL’s own', () => {
    fails(
      'ADD --keep-git-dir=false https://h/r.git?keep-git-dir=true /a',
      'Dockerfile:2:1: inconsistent keep-git-dir configuration',
    );
    fails(
      'ADD --checksum=abc https://h/r.git?checksum=def /a',
      'Dockerfile:2:1: checksum mismatch "abc" != "def"',
    );
    fails(
      'ADD --checksum=sha256:abc https://h/r.git /a',
      'Dockerfile:2:1: invalid checksum sha256:abc for Git URL',
    );
    fails(
      'ADD https://h/r.git?fetch-by-commit&checksum=abc /a',
      'Dockerfile:2:1: fetch-by-commit requires a full commit SHA',
    );
    fails(
      'ADD https://h/r.git?nope=1 /a',
      'Dockerfile:2:1: invalid git source "https://h/r.git?nope=1": unexpected query "nope"',
    );
    plans('ADD --keep-git-dir=true --checksum=abc123 https://h/r.git?keep-git-dir=true#main:sub /a');
  });

  it('takes --checksum only for one HTTP(S) or Git source', () => {
    fails('ADD --checksum=abc local.tgz /a', 'Dockerfile:2:1: checksum requires HTTP(S) or Git sources');
    plans('ADD --checksum=abc git@example.com:r.git /a');
  });
});
