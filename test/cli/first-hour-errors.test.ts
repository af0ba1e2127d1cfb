import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { type CliResult, collectOutput, runStrata, STRATA_BIN } from '../support/cli.ts';
import { freePort, startRegistry, type TestRegistry } from '../support/registry.ts';

/**
 * Runs the CLI as user `nobody` (65534) with `env`, through a shell: setpriv keeps its own
 * capabilities until it execs, so its exec of node would not be checked as nobody's.
 */
function strataAsNobody(args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  const child = spawn(
    'setpriv',
    [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      '--',
      'sh',
      '-c',
      'exec "$@"',
      'sh',
      process.execPath,
      STRATA_BIN,
      ...args,
    ],
    { env: { PATH: process.env.PATH, STRATA_COMPILE_CACHE: '0', ...env }, cwd: '/' },
  );
  return collectOutput(child);
}

/** An error a user can act on: exit 1, `error: …` with no "bug in strata" text. */
function assertUserError(result: CliResult, message: RegExp): void {
  assert.equal(result.code, 1, `exit ${result.code}: ${result.stderr}`);
  assert.doesNotMatch(result.stderr, /internal error|bug in strata/);
  assert.match(result.stderr, message);
}

describe('errors that are not bugs say what to do (exit 1, never 70)', () => {
  let fx: BuildFixture;
  let registry: TestRegistry;
  before(async () => {
    fx = await buildFixture('strata-first-errors-');
    registry = await startRegistry();
    chmodSync(fx.work, 0o755); // nobody reads Dockerfiles here
  });
  after(async () => {
    await registry?.stop();
    fx?.cleanup();
  });

  it('tells a non-root user that build and run need root when rootless mode is off, before any work', async () => {
    const ctx = fx.context('nonroot', { Dockerfile: 'FROM busybox:local\nRUN true\n' });
    chmodSync(ctx, 0o755);
    const store = join(fx.work, 'nobody-store');
    mkdirSync(store, { mode: 0o700 });
    chmodSync(store, 0o777);
    for (const args of [
      ['build', ctx],
      ['run', 'busybox:local', 'true'],
    ]) {
      // Rootless mode (test/rootless/) is what a non-root user gets where it works; off here.
      const result = await strataAsNobody(args, { STRATA_ROOT: store, STRATA_ROOTLESS: '0' });
      assertUserError(
        result,
        new RegExp(
          `^error: strata ${args[0]} needs root or rootless mode, and rootless mode is unavailable here: rootless mode is turned off \\(STRATA_ROOTLESS=0\\) \\(unset STRATA_ROOTLESS to let strata enter a user namespace; or run it as root \\(sudo strata ${args[0]} …\\); see docs/rootless.md\\)$`,
          'm',
        ),
      );
      assert.deepEqual(readdirSync(store), [], `${args[0]} did work before failing`);
    }
    // Only planning: the build checks need no root, as with buildx.
    const check = await strataAsNobody(['build', '--check', ctx], {
      STRATA_ROOT: store,
      STRATA_ROOTLESS: '0',
    });
    assert.equal(check.code, 0, check.stderr);
    assert.doesNotMatch(check.stderr, /needs root/);
  });

  it('names the state directory nobody can create, and the fix (`strata images` as nobody with HOME=/nonexistent)', async () => {
    const result = await strataAsNobody(['images'], { HOME: '/nonexistent' });
    assertUserError(
      result,
      /^error: cannot use state directory \/nonexistent\/\.local\/share\/strata: permission denied: \/ belongs to user 0, strata runs as user 65534 \(at \/nonexistent\) \(set STRATA_ROOT or --root to a directory you can write, or run strata as root\)$/m,
    );
  });

  it('names a store owned by another user', async () => {
    const result = await strataAsNobody(['images'], { STRATA_ROOT: fx.root });
    assertUserError(
      result,
      new RegExp(
        `^error: cannot use state directory ${fx.root} \\(from STRATA_ROOT\\): permission denied: ${fx.root} belongs to user 0, strata runs as user 65534 \\(set STRATA_ROOT to a directory you can write, or run strata as root\\)$`,
        'm',
      ),
    );
  });

  it('names STRATA_ROOT and --root when they point at a file, below a file, or at a read-only mount', async () => {
    const file = join(fx.work, 'a-file');
    writeFileSync(file, '');
    assertUserError(
      await runStrata(['images'], { root: file }),
      new RegExp(
        `^error: state directory ${file} \\(from STRATA_ROOT\\) is not a directory \\(set STRATA_ROOT to a directory you can write\\)$`,
        'm',
      ),
    );
    assertUserError(
      await runStrata(['--root', join(file, 'store'), 'images']),
      new RegExp(
        `^error: cannot create state directory ${file}/store \\(from --root\\): ${file} is not a directory \\(give --root a directory you can write\\)$`,
        'm',
      ),
    );
    const ro = join(fx.work, 'ro');
    mkdirSync(ro);
    await new Promise<void>((resolve, reject) =>
      spawn('mount', ['-t', 'tmpfs', '-o', 'ro', 'tmpfs', ro], { stdio: 'inherit' }).on('close', (code) =>
        code === 0 ? resolve() : reject(new Error(`mount exited ${code}`)),
      ),
    );
    try {
      assertUserError(
        await runStrata(['images'], { root: join(ro, 'store') }),
        new RegExp(
          `^error: cannot use state directory ${ro}/store \\(from STRATA_ROOT\\): read-only file system \\(set STRATA_ROOT to a directory you can write\\)$`,
          'm',
        ),
      );
      assertUserError(
        await runStrata(['images'], { root: ro }),
        new RegExp(
          `^error: cannot use state directory ${ro} \\(from STRATA_ROOT\\): read-only file system`,
          'm',
        ),
      );
    } finally {
      await new Promise((resolve) => spawn('umount', [ro]).on('close', resolve));
    }
  });

  it('fails at once for STRATA_ROOT=/proc/x (it looped on statx("/proc") forever)', async () => {
    // Killed after 60 s, which a hang reaches and an answer never does.
    const result = await runStrata(['images'], { root: '/proc/x', timeoutMs: 60_000 });
    assert.equal(result.signal, null, 'it hung');
    assertUserError(
      result,
      /^error: cannot create state directory \/proc\/x \(from STRATA_ROOT\): \/proc does not allow new directories/m,
    );
  });

  it('says which --html path cannot be written, before analysing', async () => {
    assertUserError(
      await runStrata(['analyze', 'busybox:local', '--html', '/nonexistent/report.html'], { root: fx.root }),
      /^error: --html \/nonexistent\/report\.html: cannot write \/nonexistent\/report\.html: directory \/nonexistent does not exist \(create it first \(mkdir -p \/nonexistent\) or name another file\)$/m,
    );
    assertUserError(
      await runStrata(['analyze', 'busybox:local', '--html', fx.work], { root: fx.root }),
      /: it is a directory/,
    );
  });

  it('runs lint, parse, stages and inspect docker://… without opening the store', async () => {
    const dockerfile = join(
      fx.context('static', { Dockerfile: 'FROM busybox:local\nRUN true\n' }),
      'Dockerfile',
    );
    chmodSync(dockerfile, 0o644);
    chmodSync(join(fx.work, 'static'), 0o755);
    // Push something to inspect.
    const pushed = await runStrata(
      ['copy', 'strata:busybox:local', `docker://${registry.host}/first/busybox:1`],
      {
        root: fx.root,
      },
    );
    assert.equal(pushed.code, 0, pushed.stderr);
    const unusable = { HOME: '/nonexistent', STRATA_ROOT: '/nonexistent/store' };
    for (const args of [
      ['lint', dockerfile],
      ['parse', dockerfile],
      ['stages', dockerfile],
      ['inspect', '--insecure-registry', registry.host, `docker://${registry.host}/first/busybox:1`],
    ]) {
      const result = await strataAsNobody(args, unusable);
      assert.equal(result.code, 0, `${args[0]}: ${result.stderr}`);
    }
  });

  it("says docker's `unable to prepare context` for a missing context, even with -f elsewhere", async () => {
    const ctx = fx.context('elsewhere', { Dockerfile: 'FROM busybox:local\nRUN true\n' });
    const missing = join(fx.work, 'no-such-context');
    const result = await runStrata(['build', '-f', join(ctx, 'Dockerfile'), missing], { root: fx.root });
    assertUserError(
      result,
      new RegExp(`^error: unable to prepare context: path "${missing}" not found$`, 'm'),
    );
    const file = join(ctx, 'Dockerfile');
    assertUserError(
      await runStrata(['build', file], { root: fx.root }),
      new RegExp(`^error: unable to prepare context: context must be a directory: ${file}$`, 'm'),
    );
  });

  it('names the FROM line and suggests the name, tag or strata login for a base image the registry lacks', async () => {
    const ctx = fx.context('absent-base', {
      Dockerfile: `FROM busybox:local\nFROM ${registry.host}/no/such:1\nRUN true\n`,
    });
    const result = await runStrata(['build', ctx], { root: fx.root });
    assertUserError(
      result,
      new RegExp(
        `^error: ${ctx}/Dockerfile:2: FROM ${registry.host}/no/such:1: .*\\(check the image name and tag, or log in with strata login ${registry.host}\\)$`,
        'm',
      ),
    );
  });

  it('fails at once, naming the host, when the registry refuses the connection', async () => {
    const port = await freePort();
    const ctx = fx.context('refused', { Dockerfile: `FROM 127.0.0.1:${port}/app:1\nRUN true\n` });
    const result = await runStrata(['build', '--progress', 'plain', ctx], { root: fx.root });
    assertUserError(
      result,
      new RegExp(
        `^error: ${ctx}/Dockerfile:1: FROM 127.0.0.1:${port}/app:1: .*ECONNREFUSED.*\\(cannot reach the registry 127\\.0\\.0\\.1:${port}: check the host name and port`,
        'm',
      ),
    );
    // No retries: progress shows none ("retrying"), and the refusal is the only error.
    assert.doesNotMatch(result.stderr, /retry/i);
  });
});

describe('strata build - (the Dockerfile on standard input, as docker build -)', () => {
  let fx: BuildFixture;
  before(async () => {
    fx = await buildFixture('strata-build-stdin-');
  });
  after(() => fx.cleanup());

  it('builds a Dockerfile read from stdin, with an empty context', async () => {
    const before = readdirSync(tmpdir()).filter((n) => n.startsWith('strata-stdin-context-')).length;
    const built = await runStrata(['build', '-q', '-t', 'from-stdin:1', '-'], {
      root: fx.root,
      input: 'FROM busybox:local\nRUN echo made > /made\n',
    });
    assert.equal(built.code, 0, built.stderr);
    assert.match(built.stdout, /^sha256:[0-9a-f]{64}\n$/);
    const ran = await runStrata(['run', 'from-stdin:1', 'cat', '/made'], { root: fx.root });
    assert.equal(ran.stdout, 'made\n', ran.stderr);
    const copy = await runStrata(['build', '-'], {
      root: fx.root,
      input: 'FROM busybox:local\nCOPY Dockerfile /\n',
    });
    assertUserError(copy, /Dockerfile:2: .*COPY Dockerfile \/: .*not found/);
    const left = readdirSync(tmpdir()).filter((n) => n.startsWith('strata-stdin-context-')).length;
    assert.equal(left, before, 'the empty context is removed');
  });

  it("refuses stdin for both, and a context tarball, with docker's words", async () => {
    assertUserError(
      await runStrata(['build', '-f', '-', '-'], { root: fx.root, input: 'FROM busybox:local\n' }),
      /^error: invalid argument: can't use stdin for both build context and dockerfile$/m,
    );
    // A tar on stdin is the context (test/build/remote-context.test.ts); a broken one is a user's error.
    const tar = Buffer.alloc(1024);
    tar.write('ustar', 257, 'latin1');
    assertUserError(
      await runStrata(['build', '-'], { root: fx.root, input: tar }),
      /tar header checksum mismatch/,
    );
    assert.equal(existsSync(join(fx.root, 'no')), false);
  });
});
