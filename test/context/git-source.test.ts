// resolveGitRef and checkoutGitRef against repositories served by a local `git daemon`: what
// reaches git's command line, which environment and config git runs with, and what a kept
// `.git` holds.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkoutGitRef, GitSourceError, resolveGitRef } from '../../src/context/index.ts';
import type { GitRef } from '../../src/dockerfile/index.ts';
import { tempDir } from '../support/cli.ts';
import { type GitDaemon, startGitDaemon } from '../support/git-daemon.ts';

const GIT_ENV = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: '/nonexistent',
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@example.com',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@example.com',
  GIT_AUTHOR_DATE: '2020-01-02T03:04:05Z',
  GIT_COMMITTER_DATE: '2020-01-02T03:04:05Z',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
};
const COMMIT_TIME = Date.parse('2020-01-02T03:04:05Z') / 1000;

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8' }).trim();
}

/** Runs `body` with some of process.env replaced, restoring it afterwards. */
async function withEnv<T>(vars: Record<string, string>, body: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await body();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

function gitRef(remote: string, fields: Partial<GitRef> = {}): GitRef {
  return { remote, scheme: 'git', ref: '', subdir: '', fetchByCommit: false, ...fields };
}

/** Every path under `dir` (directories included), without following symlinks. */
function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    out.push(path);
    if (entry.isDirectory()) out.push(...walk(path));
  }
  return out;
}

describe('git source', () => {
  const dir = tempDir('strata-git-source-');
  const repos = join(dir.path, 'repos');
  const work = join(dir.path, 'work');
  let daemon: GitDaemon;
  let url = '';
  let first = '';

  before(async () => {
    mkdirSync(repos);
    const src = join(work, 'src');
    mkdirSync(src, { recursive: true });
    git(src, '-c', 'init.defaultBranch=main', 'init', '-q');
    writeFileSync(join(src, 'hello.txt'), 'hello\n');
    git(src, 'add', '.');
    git(src, 'commit', '-q', '-m', 'first');
    first = git(src, 'rev-parse', 'HEAD');
    git(src, 'tag', '-a', 'v1', '-m', 'version 1');
    git(src, 'branch', 'feature');
    git(repos, 'clone', '-q', '--bare', src, 'repo.git');
    // A repository whose submodule is a path on the machine doing the checkout.
    const local = join(work, 'local-secret');
    mkdirSync(local);
    git(local, '-c', 'init.defaultBranch=main', 'init', '-q');
    writeFileSync(join(local, 'secret.txt'), 'secret\n');
    git(local, 'add', '.');
    git(local, 'commit', '-q', '-m', 'secret');
    const evil = join(work, 'evil');
    mkdirSync(evil);
    git(evil, '-c', 'init.defaultBranch=main', 'init', '-q');
    writeFileSync(join(evil, 'readme'), 'evil\n');
    git(evil, 'add', '.');
    git(evil, 'commit', '-q', '-m', 'evil');
    git(evil, '-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', `file://${local}`, 'loot');
    git(evil, 'commit', '-q', '-m', 'submodule');
    git(repos, 'clone', '-q', '--bare', evil, 'evil.git');
    daemon = await startGitDaemon(repos, { probe: 'repo.git', env: GIT_ENV });
    url = `${daemon.url}/repo.git`;
  });

  after(() => {
    daemon?.stop();
    dir.cleanup();
  });

  it('refuses a ref that git would read as an option, and runs nothing', async () => {
    const marker = join(work, 'pwned');
    const ref = gitRef(url, {
      ref: `--upload-pack=touch ${marker}`,
      checksum: first,
      fetchByCommit: true,
    });
    await assert.rejects(
      resolveGitRef(ref),
      (e: unknown) => e instanceof GitSourceError && /invalid git ref/.test(e.message),
    );
    await assert.rejects(
      checkoutGitRef(ref, { resolved: { commit: first, ref: ref.ref }, keepGitDir: false }),
      (e: unknown) => e instanceof GitSourceError && /invalid git ref/.test(e.message),
    );
    assert.equal(existsSync(marker), false);
  });

  it('takes only a full commit hash as the checksum to fetch by commit', async () => {
    const ref = gitRef(url, { ref: 'main', checksum: '--upload-pack=x', fetchByCommit: true });
    await assert.rejects(resolveGitRef(ref), /fetch-by-commit requires a full commit SHA checksum/);
  });

  it('fetches by commit with a ref that is not on the remote', async () => {
    const ref = gitRef(url, { ref: 'not-there', checksum: first, fetchByCommit: true });
    const resolved = await resolveGitRef(ref);
    assert.deepEqual(resolved, { commit: first, ref: 'refs/heads/not-there' });
    const checkout = await checkoutGitRef(ref, { resolved, keepGitDir: true });
    try {
      assert.equal(git(checkout.dir, 'rev-parse', 'HEAD'), first);
      assert.equal(git(checkout.dir, 'rev-parse', 'refs/heads/not-there'), first);
    } finally {
      checkout.dispose();
    }
  });

  it('ignores the host git config: a file:// submodule is not fetched', async () => {
    const config = join(work, 'gitconfig');
    writeFileSync(config, '[protocol "file"]\n\tallow = always\n');
    const home = join(work, 'home');
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, '.gitconfig'), '[protocol "file"]\n\tallow = always\n');
    const ref = gitRef(`${daemon.url}/evil.git`);
    await withEnv(
      { GIT_CONFIG_GLOBAL: config, HOME: home, GIT_CONFIG_PARAMETERS: "'protocol.file.allow'='always'" },
      async () => {
        const resolved = await resolveGitRef(ref);
        await assert.rejects(
          checkoutGitRef(ref, { resolved, keepGitDir: false }),
          (e: unknown) => e instanceof GitSourceError && /transport 'file' not allowed/.test(e.message),
        );
      },
    );
  });

  it('is not redirected by GIT_DIR or GIT_WORK_TREE in the environment', async () => {
    const other = join(work, 'other');
    mkdirSync(other, { recursive: true });
    git(other, '-c', 'init.defaultBranch=main', 'init', '-q');
    const ref = gitRef(url, { ref: 'main' });
    const checkout = await withEnv(
      { GIT_DIR: join(other, '.git'), GIT_WORK_TREE: other, GIT_INDEX_FILE: join(other, 'index') },
      async () => checkoutGitRef(ref, { resolved: await resolveGitRef(ref), keepGitDir: false }),
    );
    try {
      assert.deepEqual(readdirSync(checkout.dir), ['hello.txt']);
      assert.equal(git(other, 'remote'), '');
      assert.equal(existsSync(join(other, 'hello.txt')), false);
    } finally {
      checkout.dispose();
    }
  });

  it('keeps the tag or branch asked for in a kept .git', async () => {
    for (const [name, expected] of [
      ['v1', 'refs/tags/v1'],
      ['feature', 'refs/heads/feature'],
      ['refs/tags/v1', 'refs/tags/v1'],
    ] as const) {
      const ref = gitRef(url, { ref: name });
      const resolved = await resolveGitRef(ref);
      const checkout = await checkoutGitRef(ref, { resolved, keepGitDir: true });
      try {
        assert.equal(git(checkout.dir, 'rev-parse', `${expected}^{commit}`), first, name);
        if (expected.startsWith('refs/tags/')) {
          // The annotated tag itself, so that `git describe` (without --tags) finds it.
          assert.equal(git(checkout.dir, 'describe'), 'v1');
          assert.equal(git(checkout.dir, 'cat-file', '-t', expected), 'tag');
        }
      } finally {
        checkout.dispose();
      }
    }
  });

  it('sets the commit time on everything with mtime=commit, a kept .git included', async () => {
    const ref = gitRef(url, { ref: 'main', mtime: 'commit' });
    const checkout = await checkoutGitRef(ref, { resolved: await resolveGitRef(ref), keepGitDir: true });
    try {
      const paths = walk(checkout.dir);
      assert.ok(paths.some((p) => p.includes('/.git/objects/')));
      for (const path of [checkout.dir, ...paths])
        assert.equal(lstatSync(path).mtimeMs / 1000, COMMIT_TIME, path);
    } finally {
      checkout.dispose();
    }
  });

  it('refuses a hash from ls-remote that is no commit hash', async () => {
    // Fault injection: a git whose ls-remote answers with a bad hash.
    const bin = join(work, 'fake-bin');
    mkdirSync(bin, { recursive: true });
    const real = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
    writeFileSync(
      join(bin, 'git'),
      `#!/bin/sh\nfor a in "$@"; do [ "$a" = ls-remote ] && { printf 'zzzz\\trefs/heads/main\\n'; exit 0; }; done\nexec ${real} "$@"\n`,
    );
    chmodSync(join(bin, 'git'), 0o755);
    await withEnv({ PATH: `${bin}:${process.env.PATH ?? ''}` }, async () => {
      await assert.rejects(resolveGitRef(gitRef(url, { ref: 'main' })), /invalid commit sha "zzzz"/);
    });
  });
});
