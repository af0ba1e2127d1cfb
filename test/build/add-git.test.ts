// ADD <git URL>: a repository served on 127.0.0.1 by `git daemon` (git://) and by `git
// http-backend` behind a small node HTTP server (https-style `…/repo.git` URLs over http).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildRun } from '../support/build-run.ts';
import { runStrata, tempDir } from '../support/cli.ts';
import { type GitDaemon, startGitDaemon } from '../support/git-daemon.ts';

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@example.com',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@example.com',
  GIT_CONFIG_NOSYSTEM: '1',
};

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8' }).trim();
}

/** `git http-backend` as CGI behind node's HTTP server: smart HTTP for every repo under `root`. */
function httpBackend(root: string): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const cgi = spawn('git', ['http-backend'], {
      env: {
        ...GIT_ENV,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_ADDR: '127.0.0.1',
        ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    req.pipe(cgi.stdin);
    const chunks: Buffer[] = [];
    cgi.stdout.on('data', (c: Buffer) => chunks.push(c));
    cgi.on('close', () => {
      const out = Buffer.concat(chunks);
      const end = out.indexOf('\r\n\r\n');
      const head = out.subarray(0, end).toString('latin1');
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.split('\r\n')) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
        else headers[name] = value;
      }
      res.writeHead(status, headers);
      res.end(out.subarray(end + 4));
    });
  });
}

describe('ADD <git URL>', () => {
  const dir = tempDir('strata-add-git-');
  const root = join(dir.path, 'store');
  const repos = join(dir.path, 'repos');
  const work = join(dir.path, 'work');
  let daemon: GitDaemon | undefined;
  let http: Server;
  let gitUrl = '';
  let httpUrl = '';
  let first = '';
  let tagObject = '';
  let pendingSubmodule: () => void = () => undefined;

  before(async () => {
    mkdirSync(join(work, 'src'), { recursive: true });
    mkdirSync(repos);
    const src = join(work, 'src');
    git(src, '-c', 'init.defaultBranch=main', 'init', '-q');
    writeFileSync(join(src, 'hello.txt'), 'hello\n');
    mkdirSync(join(src, 'sub/inner'), { recursive: true });
    writeFileSync(join(src, 'sub/inner/deep.txt'), 'deep\n');
    writeFileSync(join(src, 'run.sh'), '#!/bin/sh\necho run\n', { mode: 0o755 });
    git(src, 'add', '.');
    execFileSync('git', ['commit', '-q', '-m', 'first'], {
      cwd: src,
      env: {
        ...GIT_ENV,
        GIT_AUTHOR_DATE: '2020-01-02T03:04:05Z',
        GIT_COMMITTER_DATE: '2020-01-02T03:04:05Z',
      },
    });
    first = git(src, 'rev-parse', 'HEAD');
    git(src, 'tag', '-a', 'v1', '-m', 'version 1');
    tagObject = git(src, 'rev-parse', 'v1');
    git(src, 'checkout', '-q', '-b', 'feature');
    writeFileSync(join(src, 'feature.txt'), 'feature\n');
    git(src, 'add', '.');
    git(src, 'commit', '-q', '-m', 'feature');
    git(src, 'checkout', '-q', 'main');
    git(repos, 'clone', '-q', '--bare', src, 'repo.git');
    // The daemon first: the submodule's URL names its port.
    daemon = await startGitDaemon(repos, { probe: 'repo.git', env: GIT_ENV });
    const port = daemon.port;
    // A second repository with the first as a submodule, by its git:// URL.
    const outer = join(work, 'outer');
    mkdirSync(outer);
    git(outer, '-c', 'init.defaultBranch=main', 'init', '-q');
    writeFileSync(join(outer, 'outer.txt'), 'outer\n');
    git(outer, 'add', '.');
    git(outer, 'commit', '-q', '-m', 'outer');
    pendingSubmodule = () => {
      git(outer, 'submodule', 'add', '-q', `git://127.0.0.1:${port}/repo.git`, 'lib');
      git(outer, 'commit', '-q', '-m', 'submodule');
      git(repos, 'clone', '-q', '--bare', outer, 'outer.git');
    };
    gitUrl = `git://127.0.0.1:${port}/repo.git`;
    http = httpBackend(repos);
    await new Promise<void>((done) => http.listen(0, '127.0.0.1', done));
    httpUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/repo.git`;
    pendingSubmodule();
  });

  after(() => {
    daemon?.stop();
    http?.close();
    dir.cleanup();
  });

  let contexts = 0;
  function context(dockerfile: string): string {
    const ctx = join(work, `ctx-${contexts++}`);
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'Dockerfile'), dockerfile);
    return ctx;
  }

  async function buildLocal(
    dockerfile: string,
  ): Promise<{ out: string; stderr: string; code: number | null }> {
    const out = join(work, `out-${contexts}`);
    const result = await runStrata(['build', '-o', `type=local,dest=${out}`, context(dockerfile)], { root });
    return { out, stderr: result.stderr, code: result.code };
  }

  it('clones the default branch over http (git http-backend), without .git', async () => {
    const r = await buildLocal(`FROM scratch\nADD ${httpUrl} /src\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(r.out, 'src/hello.txt'), 'utf8'), 'hello\n');
    assert.equal(readFileSync(join(r.out, 'src/sub/inner/deep.txt'), 'utf8'), 'deep\n');
    assert.equal(existsSync(join(r.out, 'src/feature.txt')), false);
    assert.equal(existsSync(join(r.out, 'src/.git')), false);
    assert.equal(statSync(join(r.out, 'src/run.sh')).mode & 0o777, 0o755);
    assert.equal(statSync(join(r.out, 'src/hello.txt')).mode & 0o777, 0o644);
  });

  it('checks out a branch and a subdirectory over git:// (#ref:subdir)', async () => {
    const r = await buildLocal(`FROM scratch\nADD ${gitUrl}#feature /f/\nADD ${gitUrl}#main:sub /s/\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(r.out, 'f/feature.txt'), 'utf8'), 'feature\n');
    assert.equal(readFileSync(join(r.out, 's/inner/deep.txt'), 'utf8'), 'deep\n');
    assert.equal(existsSync(join(r.out, 's/hello.txt')), false);
  });

  it('reads the query form (?ref=&subdir=) and an annotated tag, with --chown and commit mtimes', async () => {
    const r = await buildLocal(
      `FROM scratch\nADD --chown=1000:1000 ${gitUrl}?tag=v1&subdir=sub&mtime=commit /t/\n`,
    );
    assert.equal(r.code, 0, r.stderr);
    const st = lstatSync(join(r.out, 't/inner/deep.txt'));
    assert.equal(readFileSync(join(r.out, 't/inner/deep.txt'), 'utf8'), 'deep\n');
    assert.equal(st.mtimeMs, Date.parse('2020-01-02T03:04:05Z'));
    // The owners, as the image has them: a tar of the root filesystem.
    const tar = join(work, 'chown.tar');
    const result = await runStrata(
      [
        'build',
        '-o',
        `type=tar,dest=${tar}`,
        context(`FROM scratch\nADD --chown=1000:1000 ${gitUrl}?tag=v1&subdir=sub /t/\n`),
      ],
      { root },
    );
    assert.equal(result.code, 0, result.stderr);
    const listing = execFileSync('tar', ['--numeric-owner', '-tvf', tar], { encoding: 'utf8' });
    assert.match(listing, /-rw-r--r-- 1000\/1000 .* t\/inner\/deep\.txt/);
    assert.match(listing, /drwxr-xr-x 1000\/1000 .* t\/inner\/?\n/);
  });

  it('checks out submodules, unless ?submodules=false', async () => {
    const outerUrl = gitUrl.replace('/repo.git', '/outer.git');
    const r = await buildLocal(`FROM scratch\nADD ${outerUrl} /o\nADD ${outerUrl}?submodules=false /n\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(r.out, 'o/lib/hello.txt'), 'utf8'), 'hello\n');
    assert.equal(existsSync(join(r.out, 'o/lib/.git')), false);
    assert.equal(readFileSync(join(r.out, 'n/outer.txt'), 'utf8'), 'outer\n');
    assert.equal(existsSync(join(r.out, 'n/lib/hello.txt')), false);
  });

  it('keeps .git with --keep-git-dir=true, at the commit asked for', async () => {
    const r = await buildLocal(`FROM scratch\nADD --keep-git-dir=true ${gitUrl}#${first} /k\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(git(join(r.out, 'k'), 'rev-parse', 'HEAD'), first);
  });

  it('checks --checksum against the commit, accepting a tag object’s hash, refusing a mismatch', async () => {
    const ok = await buildLocal(`FROM scratch\nADD --checksum=${first} ${gitUrl}#v1 /c\n`);
    assert.equal(ok.code, 0, ok.stderr);
    const tag = await buildLocal(`FROM scratch\nADD --checksum=${tagObject.slice(0, 12)} ${gitUrl}#v1 /c\n`);
    assert.equal(tag.code, 0, tag.stderr);
    const bad = await buildLocal(`FROM scratch\nADD --checksum=${'0'.repeat(40)} ${gitUrl}#main /c\n`);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, new RegExp(`expected checksum to match ${'0'.repeat(40)}, got ${first}`));
  });

  it('fails clearly for a missing ref, and refuses a git URL in COPY', async () => {
    const missing = await buildLocal(`FROM scratch\nADD ${gitUrl}#nope /x\n`);
    assert.equal(missing.code, 1, missing.stderr);
    assert.match(missing.stderr, /does not contain ref nope/);
    const copy = await buildLocal(`FROM scratch\nCOPY ${gitUrl} /x\n`);
    assert.equal(copy.code, 1, copy.stderr);
    assert.match(copy.stderr, /Dockerfile:2:.*source can't be a git ref for COPY/);
  });

  it('refuses a ref that git would read as an option, at its Dockerfile line, running nothing', async () => {
    const marker = join(work, 'pwned');
    const r = await buildLocal(
      `FROM scratch\nADD ${httpUrl}?checksum=${first}&fetch-by-commit#--upload-pack=touch%20${marker} /x\n`,
    );
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /Dockerfile:2:.*invalid git ref "--upload-pack=touch /);
    assert.equal(existsSync(marker), false);
  });

  it('is a cache hit at the same commit, and rebuilds when the branch moves', async () => {
    const ctx = context(`FROM scratch\nADD ${gitUrl}#main /app\n`);
    const store = { root, work };
    const one = await buildRun(store, ctx);
    assert.deepEqual(one.cached, []);
    const two = await buildRun(store, ctx);
    assert.deepEqual(two.ran, []);
    assert.equal(two.digest, one.digest);
    // A new commit on main: the key follows the commit.
    const clone = join(work, 'push');
    git(work, 'clone', '-q', join(repos, 'repo.git'), 'push');
    writeFileSync(join(clone, 'hello.txt'), 'changed\n');
    git(clone, 'commit', '-q', '-am', 'change');
    git(clone, 'push', '-q', 'origin', 'main');
    const three = await buildRun(store, ctx);
    assert.deepEqual(three.ran, [`ADD ${gitUrl}#main /app`]);
    assert.notEqual(three.digest, one.digest);
  });
});
