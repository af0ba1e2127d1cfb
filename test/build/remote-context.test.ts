import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { classifyContextArgument, sniffContextContent } from '../../src/context/index.ts';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { runStrata } from '../support/cli.ts';
import { freePort } from '../support/registry.ts';

describe('the CONTEXT argument as docker reads it', () => {
  it('tells standard input, git and http(s) URLs and directories apart', () => {
    assert.deepEqual(classifyContextArgument('-'), { kind: 'stdin' });
    assert.deepEqual(classifyContextArgument('https://h/o/r.git#v1:sub/dir'), {
      kind: 'git',
      url: 'https://h/o/r.git',
      ref: 'v1',
      subdir: 'sub/dir',
    });
    assert.deepEqual(classifyContextArgument('git@github.com:o/r.git'), {
      kind: 'git',
      url: 'git@github.com:o/r.git',
    });
    assert.deepEqual(classifyContextArgument('github.com/o/r#:sub'), {
      kind: 'git',
      url: 'https://github.com/o/r',
      subdir: 'sub',
    });
    assert.deepEqual(classifyContextArgument('https://h/ctx.tar.gz'), {
      kind: 'url',
      url: 'https://h/ctx.tar.gz',
    });
    assert.deepEqual(classifyContextArgument('./app'), { kind: 'directory', path: './app' });
  });

  it('reads an archive by its magic bytes and anything else as a Dockerfile', () => {
    assert.equal(sniffContextContent(Buffer.from([0x1f, 0x8b, 8, 0])), 'gzip');
    assert.equal(sniffContextContent(Buffer.from('BZh91AY')), 'bzip2');
    assert.equal(sniffContextContent(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0])), 'xz');
    const tar = Buffer.alloc(512);
    tar.write('ustar', 257, 'latin1');
    assert.equal(sniffContextContent(tar), 'tar');
    assert.equal(sniffContextContent(Buffer.from('FROM busybox\n')), 'text');
  });
});

describe('strata build with a context from standard input, git or a URL', () => {
  let fx: BuildFixture;
  let daemon: ChildProcess;
  let web: Server;
  let gitPort: number;
  let webPort: number;
  let app: string;
  before(async () => {
    fx = await buildFixture('strata-remotectx-');
    app = fx.context('app', {
      Dockerfile: 'FROM busybox:local\nCOPY hello.txt /hello.txt\n',
      'hello.txt': 'hello from the context\n',
    });
    // A git repository with the context in app/ on branch release, served by git daemon.
    const repos = join(fx.work, 'repos');
    const repo = join(repos, 'ctx.git');
    const work = fx.context('gitwork', {
      'app/Dockerfile': 'FROM busybox:local\nCOPY hello.txt /hello.txt\n',
      'app/hello.txt': 'hello from git\n',
    });
    const git = (...args: string[]) => execFileSync('git', args, { cwd: work, stdio: 'pipe' });
    git('init', '-q', '-b', 'main');
    git('-c', 'user.name=t', '-c', 'user.email=t@e', 'commit', '-q', '--allow-empty', '-m', 'empty');
    git('checkout', '-q', '-b', 'release');
    git('add', '.');
    git('-c', 'user.name=t', '-c', 'user.email=t@e', 'commit', '-q', '-m', 'context');
    execFileSync('git', ['clone', '-q', '--bare', work, repo]);
    gitPort = await freePort();
    daemon = spawn(
      'git',
      [
        'daemon',
        '--reuseaddr',
        `--base-path=${repos}`,
        '--export-all',
        '--listen=127.0.0.1',
        `--port=${gitPort}`,
        repos,
      ],
      { stdio: 'ignore' },
    );
    await new Promise((r) => setTimeout(r, 500));
    // An HTTP server with the context as a tar.gz and a plain Dockerfile.
    const tarGz = execFileSync('tar', ['-C', app, '-czf', '-', '.']);
    web = createServer((req, res) => {
      if (req.url === '/ctx.tar.gz') res.end(tarGz);
      else if (req.url === '/Dockerfile') res.end('FROM busybox:local\nRUN echo from-url > /url.txt\n');
      else res.writeHead(404).end();
    });
    webPort = await freePort();
    await new Promise<void>((r) => web.listen(webPort, '127.0.0.1', r));
  });
  after(async () => {
    daemon.kill();
    await new Promise((r) => web.close(r));
    fx.cleanup();
  });

  async function build(context: string, input?: Buffer | string): Promise<string> {
    const out = join(fx.work, `out-${Math.random().toString(16).slice(2)}`);
    const result = await runStrata(['build', '--progress=plain', '-o', `type=local,dest=${out}`, context], {
      root: fx.root,
      ...(input !== undefined ? { input } : {}),
    });
    assert.equal(result.code, 0, result.stderr);
    return out;
  }

  it('builds a tar (plain or gzip) from standard input', async () => {
    for (const flags of [['-cf'], ['-czf']]) {
      const out = await build('-', execFileSync('tar', ['-C', app, ...flags, '-', '.']));
      assert.equal(readFileSync(join(out, 'hello.txt'), 'utf8'), 'hello from the context\n');
    }
  });

  it('builds a Dockerfile from standard input with an empty context', async () => {
    const out = await build('-', 'FROM busybox:local\nRUN echo from-stdin > /stdin.txt\n');
    assert.equal(readFileSync(join(out, 'stdin.txt'), 'utf8'), 'from-stdin\n');
  });

  it('clones a git context at #ref:subdir', async () => {
    const out = await build(`git://127.0.0.1:${gitPort}/ctx.git#release:app`);
    assert.equal(readFileSync(join(out, 'hello.txt'), 'utf8'), 'hello from git\n');
  });

  it('downloads a tarball or a Dockerfile from an http URL', async () => {
    const fromTar = await build(`http://127.0.0.1:${webPort}/ctx.tar.gz`);
    assert.equal(readFileSync(join(fromTar, 'hello.txt'), 'utf8'), 'hello from the context\n');
    const fromDockerfile = await build(`http://127.0.0.1:${webPort}/Dockerfile`);
    assert.equal(readFileSync(join(fromDockerfile, 'url.txt'), 'utf8'), 'from-url\n');
  });

  it('says why when a context cannot be had', async () => {
    const bz = await runStrata(['build', '-'], { root: fx.root, input: Buffer.from('BZh91AY&SY') });
    assert.equal(bz.code, 1, bz.stderr);
    assert.match(bz.stderr, /standard input: a bzip2 archive is not supported as a build context/);
    const missing = await runStrata(['build', `git://127.0.0.1:${gitPort}/ctx.git#no-such-ref`], {
      root: fx.root,
    });
    assert.equal(missing.code, 1, missing.stderr);
    assert.match(missing.stderr, /cloning git:\/\/127\.0\.0\.1:\d+\/ctx\.git#no-such-ref/);
    const both = await runStrata(['build', '-f', '-', '-'], { root: fx.root });
    assert.equal(both.code, 1);
    assert.match(both.stderr, /can't use stdin for both build context and dockerfile/);
  });
});
