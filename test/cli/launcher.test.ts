import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commandNames } from '../../src/cli/commands.ts';
import {
  bundleFor,
  cacheCommandName,
  cacheDirectories,
  readCacheFile,
  writeCacheFile,
} from '../../src/cli/launcher.ts';
import { buildFixture } from '../support/build-fixture.ts';
import { REPO, runStrata, tempDir } from '../support/cli.ts';

describe('launcher: code cache helpers', () => {
  it('names the cache after the command, skipping global options and their values', () => {
    assert.equal(cacheCommandName(['build', '-t', 'x', '.']), 'build');
    assert.equal(cacheCommandName(['--root', '/var/lib/x', 'images']), 'images');
    assert.equal(cacheCommandName(['--debug', 'pull', 'alpine']), 'pull');
    assert.equal(cacheCommandName(['--version']), 'none');
    assert.equal(cacheCommandName([]), 'none');
    // Anything that could not be a command name cannot reach the file name either.
    assert.equal(cacheCommandName(['../../etc/passwd']), 'other');
    assert.equal(cacheCommandName(['Build']), 'other');
  });

  it('runs each command from its own bundle, and no command from the front bundle', () => {
    const bundles = { build: 'build', images: 'images', tag: 'images', du: 'store-commands' };
    assert.equal(bundleFor(['build', '-t', 'x', '.'], bundles), 'build');
    assert.equal(bundleFor(['--root', 'images', 'tag', 'a', 'b'], bundles), 'images');
    assert.equal(bundleFor(['--debug', 'du'], bundles), 'store-commands');
    assert.equal(bundleFor(['help', 'tag'], bundles), 'images');
    assert.equal(bundleFor(['--', 'build'], bundles), 'build');
    for (const argv of [
      ['--version'],
      ['--help'],
      [],
      ['help'],
      ['help', 'nope'],
      ['bild'],
      ['--root', 'build'],
    ])
      assert.equal(bundleFor(argv, bundles), 'front', argv.join(' '));
  });

  it('looks beside the bundle, then in the user cache, never in a shared directory', () => {
    assert.deepEqual(cacheDirectories('/opt/strata/dist', { XDG_CACHE_HOME: '/home/u/.cache' }), [
      '/opt/strata/dist/.v8cache',
      '/home/u/.cache/strata/v8',
    ]);
    assert.deepEqual(cacheDirectories('/d', { STRATA_COMPILE_CACHE: '/elsewhere' }), ['/elsewhere']);
    assert.deepEqual(cacheDirectories('/d', { STRATA_COMPILE_CACHE: '0' }), []);
    assert.deepEqual(cacheDirectories('/d', { STRATA_COMPILE_CACHE: 'off' }), []);
    const dirs = cacheDirectories('/d', {});
    assert.equal(dirs[0], '/d/.v8cache');
    assert.ok(!dirs.some((d) => d.startsWith('/tmp')), dirs.join(' '));
  });

  it('reads back what it wrote, and nothing that fails its checksum or magic', () => {
    const dir = tempDir();
    try {
      const payload = Buffer.from('compiled code, as far as this test is concerned');
      writeCacheFile(dir.path, 'aaaa-build-v20-x64.v8cache', payload, 'aaaa');
      const file = join(dir.path, 'aaaa-build-v20-x64.v8cache');
      assert.deepEqual(readCacheFile(file), payload);
      assert.equal(statSync(file).mode & 0o777, 0o600);

      const flipped = readFileSync(file);
      flipped[flipped.length - 1]! ^= 1;
      writeFileSync(file, flipped);
      assert.equal(readCacheFile(file), undefined);

      const wrongMagic = readFileSync(file);
      wrongMagic.write('XXXXXXXX', 0);
      writeFileSync(file, wrongMagic);
      assert.equal(readCacheFile(file), undefined);
      writeFileSync(file, Buffer.alloc(5));
      assert.equal(readCacheFile(file), undefined);
      assert.equal(readCacheFile(join(dir.path, 'missing.v8cache')), undefined);
    } finally {
      dir.cleanup();
    }
  });

  it("removes other bundles' cache files when it writes, and keeps its own", () => {
    const dir = tempDir();
    try {
      writeCacheFile(dir.path, 'old-build-v20-x64.v8cache', Buffer.from('old'), 'old');
      writeCacheFile(dir.path, 'new-images-v20-x64.v8cache', Buffer.from('images'), 'new');
      writeFileSync(join(dir.path, 'unrelated.txt'), 'kept');
      writeCacheFile(dir.path, 'new-build-v20-x64.v8cache', Buffer.from('build'), 'new');
      assert.deepEqual(readdirSync(dir.path).sort(), [
        'new-build-v20-x64.v8cache',
        'new-images-v20-x64.v8cache',
        'unrelated.txt',
      ]);
    } finally {
      dir.cleanup();
    }
  });
});

describe('launcher: the strata command with its code cache', () => {
  let dir: { path: string; cleanup: () => void };
  before(() => {
    dir = tempDir();
  });
  after(() => dir.cleanup());

  const run = (args: string[], cache: string) =>
    runStrata(args, { env: { STRATA_COMPILE_CACHE: cache, STRATA_DEBUG_COMPILE_CACHE: '1' } });
  const cacheFiles = (cache: string) => (existsSync(cache) ? readdirSync(cache) : []);

  it('compiles on the first run, writes the cache, and runs from it afterwards with the same result', async () => {
    const cache = join(dir.path, 'cache');
    const dockerfile = join(REPO, 'examples', 'go', 'Dockerfile.multi');
    const first = await run(['parse', dockerfile], cache);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /compile cache: miss [0-9a-f]{32}-parse-parse-v\d+\.\d+\.\d+-\w+\.v8cache/);
    assert.match(first.stderr, /compile cache: wrote /);
    const files = cacheFiles(cache);
    assert.equal(files.length, 1);
    assert.match(files[0]!, /-parse-/);
    const written = readFileSync(join(cache, files[0]!));
    assert.ok(written.length > 10_000, `a cache of ${written.length} bytes holds no compiled code`);

    const second = await run(['parse', dockerfile], cache);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /compile cache: hit /);
    assert.doesNotMatch(second.stderr, /wrote/);
    assert.equal(second.stdout, first.stdout);
    assert.deepEqual(readFileSync(join(cache, files[0]!)), written, 'an accepted cache is not rewritten');
  });

  it('ignores a damaged cache file and one V8 rejects, and replaces both', async () => {
    const cache = join(dir.path, 'damaged');
    assert.equal((await run(['--version'], cache)).code, 0);
    const [name] = cacheFiles(cache);
    const file = join(cache, name!);
    const good = readFileSync(file);

    const damaged = Buffer.from(good);
    damaged[damaged.length >> 1]! ^= 0xff;
    writeFileSync(file, damaged);
    const afterDamage = await run(['--version'], cache);
    assert.equal(afterDamage.code, 0, afterDamage.stderr);
    assert.equal(afterDamage.stdout.trim(), '0.1.0');
    assert.match(afterDamage.stderr, /compile cache: miss /);
    assert.match(afterDamage.stderr, /compile cache: wrote /);

    // Valid framing around data that is not V8's: V8's own check rejects it.
    writeCacheFile(cache, name!, Buffer.from('not V8 code cache data'.repeat(100)), name!.split('-')[0]!);
    const afterReject = await run(['--version'], cache);
    assert.equal(afterReject.code, 0, afterReject.stderr);
    assert.equal(afterReject.stdout.trim(), '0.1.0');
    assert.match(afterReject.stderr, /compile cache: rejected /);
    assert.match(afterReject.stderr, /compile cache: wrote /);
    assert.match((await run(['--version'], cache)).stderr, /compile cache: hit /);
  });

  it('writes the cache of a long run early, before V8 may drop the start-up code', async () => {
    const fx = await buildFixture('strata-launcher-');
    try {
      const ctx = fx.context('slow', {
        Dockerfile: 'FROM busybox:local\nRUN sleep 2 && echo slept > /slept\n',
      });
      const cache = join(dir.path, 'long');
      const result = await runStrata(['build', '--progress', 'plain', ctx], {
        root: fx.root,
        env: { STRATA_COMPILE_CACHE: cache, STRATA_DEBUG_COMPILE_CACHE: '1' },
      });
      assert.equal(result.code, 0, result.stderr);
      const wrote = result.stderr.indexOf('compile cache: wrote');
      const run = /^#(\d+) \[2\/2\] RUN sleep/m.exec(result.stderr)?.[1];
      const runDone = result.stderr.search(new RegExp(`^#${run} DONE`, 'm'));
      assert.ok(wrote >= 0 && runDone > wrote, result.stderr);
      assert.equal(result.stderr.split('compile cache: wrote').length, 2, 'written once');
      assert.equal(cacheFiles(cache).length, 1);
    } finally {
      fx.cleanup();
    }
  });

  it('writes nothing after a failed run, and nothing at all when turned off', async () => {
    const cache = join(dir.path, 'failed');
    const failed = await run(['parse', join(dir.path, 'no-such-Dockerfile')], cache);
    assert.notEqual(failed.code, 0);
    assert.match(failed.stderr, /compile cache: miss /);
    assert.deepEqual(cacheFiles(cache), []);

    const off = await run(['--version'], '0');
    assert.equal(off.code, 0);
    assert.match(off.stderr, /compile cache: off /);
  });
});

/** The `strata-trace:` lines of a run with STRATA_TRACE_LOAD=1: which bundle ran, what it loaded. */
function traceOf(stderr: string): { bundle: string | undefined; modules: string[]; required: string[] } {
  const lines = stderr.split('\n');
  const after = (prefix: string) =>
    lines.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
  return {
    bundle: after('strata-trace: bundle ')[0],
    modules: after('strata-trace: module '),
    required: [
      ...after('strata-trace: require '),
      ...(lines.includes('strata-trace: node-internal undici') ? ['node-internal undici'] : []),
    ],
  };
}
const UNDICI = /(^|\/)node_modules\/undici\//;

describe('launcher: each command loads only what it uses', () => {
  const traced = (args: string[], options: { root?: string; command?: boolean } = {}) =>
    runStrata(args, { ...options, env: { STRATA_TRACE_LOAD: '1' } });

  it('--version and --help run the front bundle: no command module, no undici, no zstd', async () => {
    for (const args of [['--version'], ['--help'], ['help']]) {
      const result = await traced(args, { command: true });
      assert.equal(result.code, 0, result.stderr);
      const trace = traceOf(result.stderr);
      assert.equal(trace.bundle, 'front', args.join(' '));
      // The trace sees bundled modules (commander is one): its silence about undici means something.
      assert.ok(
        trace.modules.some((m) => m.includes('node_modules/commander/')),
        result.stderr,
      );
      assert.deepEqual(
        trace.modules.filter((m) => UNDICI.test(m) || m.includes('zstd')),
        [],
        args.join(' '),
      );
      assert.deepEqual(
        trace.modules.filter(
          (m) => m.startsWith('src/') && !m.startsWith('src/cli/') && !m.startsWith('src/util/'),
        ),
        [],
      );
      assert.deepEqual(
        trace.required.filter((r) => /zstd|undici|node:tls|node:http2|node:dns|node:child_process/.test(r)),
        [],
        args.join(' '),
      );
    }
    // What the front bundle holds at all: commander and the command table, none of the commands.
    const front = readFileSync(join(REPO, 'dist', 'bundles', 'front.cjs'), 'latin1');
    assert.doesNotMatch(front, /node_modules\/undici\//);
    assert.doesNotMatch(front, /zstd-napi/);
    // Lazily initialized modules keep their path as a key (esbuild's __esm/__commonJS); a build.cjs has them.
    assert.doesNotMatch(front, /"src\/(solver|registry|api|archive)\//);
    assert.match(readFileSync(join(REPO, 'dist', 'bundles', 'build.cjs'), 'latin1'), /"src\/solver\//);
  });

  it('--help lists every command of the table, and help NAME finds each command', async () => {
    const help = await runStrata(['--help']);
    assert.equal(help.code, 0, help.stderr);
    for (const name of commandNames()) {
      assert.match(help.stdout, new RegExp(`^  ${name}\\b`, 'm'), name);
      const one = await traced(['help', name]);
      assert.equal(one.code, 0, `${name}: ${one.stderr}`);
      assert.match(one.stdout, new RegExp(`^Usage: strata ${name}\\b`), name);
      assert.notEqual(traceOf(one.stderr).bundle, 'front', name);
    }
    const unknown = await runStrata(['bild']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown command 'bild'\n\(Did you mean build\?\)/);
  });

  it('a no-op rebuild loads neither the registry client (undici) nor zstd-napi; a registry command does', async () => {
    const fx = await buildFixture('strata-launcher-noop-');
    try {
      const ctx = fx.context('noop', {
        Dockerfile: 'FROM busybox:local\nRUN echo once > /once\nCOPY Dockerfile /\n',
      });
      const first = await runStrata(['build', '-q', ctx], { root: fx.root });
      assert.equal(first.code, 0, first.stderr);
      const again = await traced(['build', '-q', ctx], { root: fx.root });
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, first.stdout, 'the same image');
      const trace = traceOf(again.stderr);
      assert.equal(trace.bundle, 'build');
      assert.ok(trace.modules.includes('src/cli/build.ts'), again.stderr);
      assert.deepEqual(
        trace.modules.filter((m) => UNDICI.test(m)),
        [],
      );
      assert.deepEqual(
        trace.required.filter((r) => /zstd|undici|node:http2|node:dns/.test(r)),
        [],
      );
    } finally {
      fx.cleanup();
    }
    // The positive control: a command that does reach a registry loads undici, and the trace shows it.
    const remote = await traced(['inspect', 'docker://127.0.0.1:1/none:latest']);
    assert.notEqual(remote.code, 0);
    assert.ok(
      traceOf(remote.stderr).modules.some((m) => UNDICI.test(m)),
      remote.stderr.slice(-2000),
    );
  });
});
