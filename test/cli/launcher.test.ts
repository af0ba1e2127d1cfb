import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cacheCommandName, cacheDirectories, readCacheFile, writeCacheFile } from '../../src/cli/launcher.ts';
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
    assert.match(first.stderr, /compile cache: miss [0-9a-f]+-parse-v\d+\.\d+\.\d+-\w+\.v8cache/);
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
