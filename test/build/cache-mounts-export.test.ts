import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { buildRun } from '../support/build-run.ts';
import { runStrata } from '../support/cli.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

/** The blobs a registry holds (digest → size), read from its storage. */
function registryBlobs(registry: TestRegistry): Map<string, number> {
  const out = new Map<string, number>();
  const base = join(registry.storage, 'docker/registry/v2/blobs/sha256');
  let prefixes: string[];
  try {
    prefixes = readdirSync(base);
  } catch {
    return out;
  }
  for (const prefix of prefixes)
    for (const hex of readdirSync(join(base, prefix)))
      out.set(hex, statSync(join(base, prefix, hex, 'data')).size);
  return out;
}

/** What an export added to the registry: the new blobs and their bytes (the rest it skipped). */
function added(
  before: Map<string, number>,
  after: Map<string, number>,
): { blobs: number; bytes: number; sizes: number[] } {
  let blobs = 0;
  let bytes = 0;
  const sizes: number[] = [];
  for (const [hex, size] of after)
    if (!before.has(hex)) {
      blobs++;
      bytes += size;
      sizes.push(size);
    }
  return { blobs, bytes, sizes: sizes.sort((a, b) => b - a) };
}

/**
 * A writer: fills the cache mount `data` with 400 small random files, one 2 MB file, a symlink and
 * a marker holding the first `src.txt`'s content; files it finds are kept, and when `src.txt` says
 * `change`, `small/f7` is rewritten (same size, `change` repeated): a one-file change.
 */
function writerFiles(src: string, mountOptions = ''): Record<string, string> {
  return {
    Dockerfile: [
      'FROM busybox:local',
      'COPY src.txt /src.txt',
      `RUN --mount=type=cache,target=/cache,id=data${mountOptions} sh -ec '` +
        'mkdir -p /cache/small; i=0; while [ $i -lt 400 ]; do i=$((i+1)); ' +
        '[ -f /cache/small/f$i ] || head -c 20000 /dev/urandom > /cache/small/f$i; done; ' +
        '[ -f /cache/big ] || head -c 2000000 /dev/urandom > /cache/big; ' +
        'ln -sfn small/f1 /cache/link; ' +
        'if grep -q change /src.txt; then yes change | head -c 20000 > /cache/small/f7; fi; ' +
        "[ -f /cache/marker ] || cp /src.txt /cache/marker'",
      '',
    ].join('\n'),
    'src.txt': src,
  };
}

/**
 * A reader: its RUN fails unless the mount `data` holds what the writer left (`marker` = `expect`;
 * with `changed`, the rewritten `small/f7`).
 */
function readerFiles(expect: string, mountOptions = '', salt = '', changed = false): Record<string, string> {
  return {
    Dockerfile: [
      'FROM busybox:local',
      `RUN --mount=type=cache,target=/cache,id=data${mountOptions} sh -ec '` +
        `echo ${salt}; test "$(cat /cache/marker)" = "${expect}"; ` +
        (changed ? 'grep -q change /cache/small/f7; ' : '! grep -q change /cache/small/f7; ') +
        'test "$(ls /cache/small | wc -l)" = 400; test "$(wc -c < /cache/big)" = 2000000; ' +
        'test "$(readlink /cache/link)" = small/f1; cmp /cache/link /cache/small/f1; ' +
        "echo restored-ok; stat -c owner=%u:%g:%a /cache /cache/marker'",
      '',
    ].join('\n'),
  };
}

function build(fx: BuildFixture, ctx: string, extra: string[]) {
  return runStrata(['build', '--progress', 'plain', ...extra, ctx], {
    root: fx.root,
    env: { SOURCE_DATE_EPOCH: '1700000000' },
  });
}

describe('RUN --mount=type=cache contents travel through --cache-to / --cache-from (mounts=)', () => {
  let registry: TestRegistry;
  const stores: BuildFixture[] = [];
  const store = async (name: string) => {
    const fx = await buildFixture(`strata-cmount-${name}-`);
    stores.push(fx);
    return fx;
  };
  let writer: BuildFixture;
  let firstExport: { blobs: number; bytes: number; sizes: number[] };
  const ref = () => `${registry.host}/cm/app:cache`;

  before(async () => {
    registry = await startRegistry();
    writer = await store('writer');
  });
  after(async () => {
    await registry.stop();
    for (const fx of stores) fx.cleanup();
  });

  it('a fresh store restores the exported mount before the RUN that uses it', async () => {
    const before = registryBlobs(registry);
    const ctx = writer.context('w1', writerFiles('one\n'));
    const made = await build(writer, ctx, ['--cache-to', `type=registry,ref=${ref()},mode=max,mounts=all`]);
    assert.equal(made.code, 0, made.stderr);
    firstExport = added(before, registryBlobs(registry));

    const fresh = await store('reader');
    const readerCtx = fresh.context('r1', readerFiles('one'));
    // Without the cache the mount is empty: the reader's RUN fails (the test can fail).
    const without = await build(fresh, readerCtx, []);
    assert.notEqual(without.code, 0, 'the reader must fail on an empty mount');
    assert.equal((await runStrata(['prune', '-f'], { root: fresh.root })).code, 0);

    const restored = await build(fresh, fresh.context('r1b', readerFiles('one', '', 'again')), [
      '--cache-from',
      `type=registry,ref=${ref()}`,
    ]);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stderr, /restored-ok/);
    // The mount's root and files keep the writer's owner and modes.
    assert.match(restored.stderr, /owner=0:0:755/);
    assert.match(restored.stderr, /restored cache mount data \(linux\/\w+, uid=0, gid=0, mode=0755\) from /);

    const du = JSON.parse((await runStrata(['du', '--json'], { root: fresh.root })).stdout);
    assert.equal(du.cacheMounts.count, 1);
    assert.equal(du.cacheMounts.restored, 1);
    assert.ok(du.cacheMounts.bytes > 10_000_000, `cache mount bytes ${du.cacheMounts.bytes}`);
    // All of it but the store's own bookkeeping (the directory, the mount's last-use record).
    assert.ok(du.cacheMounts.reclaimable > du.cacheMounts.bytes - 16_384, JSON.stringify(du.cacheMounts));
    const pruned = await runStrata(['prune', '-f', '--json'], { root: fresh.root });
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.deepEqual(JSON.parse(pruned.stdout).removedCacheMounts, ['data']);
    const after = JSON.parse((await runStrata(['du', '--json'], { root: fresh.root })).stdout);
    assert.equal(after.cacheMounts.count, 0);
  });

  it('a second export after one file changed uploads only that piece (under 10% of the first)', async (t) => {
    const before = registryBlobs(registry);
    const ctx = writer.context('w2', writerFiles('change\n'));
    const made = await build(writer, ctx, ['--cache-to', `type=registry,ref=${ref()},mode=max,mounts=all`]);
    assert.equal(made.code, 0, made.stderr);
    const second = added(before, registryBlobs(registry));
    assert.ok(firstExport.bytes > 9_000_000, `first export ${firstExport.bytes} bytes`);
    assert.ok(
      second.bytes <= firstExport.bytes / 10,
      `second export uploaded ${second.bytes} bytes in ${second.blobs} blobs (${second.sizes.join(', ')}); the first ${firstExport.bytes} in ${firstExport.blobs}`,
    );
    t.diagnostic(
      `first export ${firstExport.bytes} bytes in ${firstExport.blobs} blobs; after a one-file change ${second.bytes} bytes in ${second.blobs} blobs (${second.sizes.join(', ')})`,
    );
    // New: the changed pack, the mount manifest, the RUN and COPY layers, the key table, the manifest.
    assert.ok(second.blobs <= 8, `second export added ${second.blobs} blobs`);
    const fresh = await store('reader2');
    const restored = await build(fresh, fresh.context('r2', readerFiles('one', '', '', true)), [
      '--cache-from',
      `type=registry,ref=${ref()}`,
    ]);
    assert.equal(restored.code, 0, restored.stderr);
  });

  it('a build whose steps all hit downloads no mount, and carries the imported one into its own export', async () => {
    const runner = await store('carry');
    const ctx = runner.context('w2', writerFiles('change\n'));
    // Another repository: the pieces are read from the imported cache and uploaded there.
    const carried = `${registry.host}/cm/branch:cache`;
    const hit = await buildRun(runner, ctx, [
      '--cache-from',
      `type=registry,ref=${ref()}`,
      '--cache-to',
      `type=registry,ref=${carried},mode=max,mounts=all`,
    ]);
    assert.deepEqual(hit.ran, []);
    // Nothing used the mount, so nothing restored it: no 2 MB piece, no mount directory.
    const sizes = readdirSync(join(runner.root, 'blobs/sha256')).map(
      (b) => statSync(join(runner.root, 'blobs/sha256', b)).size,
    );
    assert.deepEqual(
      sizes.filter((n) => n > 1_500_000),
      [],
      `blob sizes in the runner's store: ${sizes.join(', ')}`,
    );
    const du = JSON.parse((await runStrata(['du', '--json'], { root: runner.root })).stdout);
    assert.equal(du.cacheMounts.count, 0);
    const fresh = await store('carry-reader');
    const restored = await build(fresh, fresh.context('r3', readerFiles('one', '', '', true)), [
      '--cache-from',
      `type=registry,ref=${carried}`,
    ]);
    assert.equal(restored.code, 0, restored.stderr);
  });

  it('a mount this machine already has is kept, not overwritten or merged with the cache', async () => {
    const laptop = await store('local-wins');
    const own = await build(
      laptop,
      laptop.context('own', {
        Dockerfile: [
          'FROM busybox:local',
          "RUN --mount=type=cache,target=/cache,id=data sh -c 'echo mine > /cache/marker'",
          '',
        ].join('\n'),
      }),
      [],
    );
    assert.equal(own.code, 0, own.stderr);
    const got = await build(
      laptop,
      laptop.context('look', {
        Dockerfile: [
          'FROM busybox:local',
          "RUN --mount=type=cache,target=/cache,id=data sh -c 'echo marker=$(cat /cache/marker) small=$(ls /cache/small 2>/dev/null | wc -l)'",
          '',
        ].join('\n'),
      }),
      ['--cache-from', `type=registry,ref=${ref()}`],
    );
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stderr, /marker=mine small=0\n/);
    assert.doesNotMatch(got.stderr, /restored cache mount/);
  });

  it('mounts=ID exports only that mount; mounts=none (the default) none', async () => {
    const fx = await store('select');
    const two = {
      Dockerfile: [
        'FROM busybox:local',
        "RUN --mount=type=cache,target=/a,id=a --mount=type=cache,target=/b,id=b sh -c 'echo A > /a/m; echo B > /b/m'",
        '',
      ].join('\n'),
    };
    const only = `${registry.host}/cm/select:a`;
    const none = `${registry.host}/cm/select:none`;
    const made = await build(fx, fx.context('two', two), [
      '--cache-to',
      `type=registry,ref=${only},mounts=a`,
    ]);
    assert.equal(made.code, 0, made.stderr);
    const plain = await build(fx, fx.context('two', two), ['--cache-to', `type=registry,ref=${none}`]);
    assert.equal(plain.code, 0, plain.stderr);
    const check = (salt: string) => ({
      Dockerfile: [
        'FROM busybox:local',
        `RUN --mount=type=cache,target=/a,id=a --mount=type=cache,target=/b,id=b sh -c 'echo ${salt}; echo a=$(cat /a/m 2>/dev/null) b=$(cat /b/m 2>/dev/null)'`,
        '',
      ].join('\n'),
    });
    const reader = await store('select-reader');
    const got = await build(reader, reader.context('c1', check('1')), ['--cache-from', only]);
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stderr, /a=A b=\n/);
    const reader2 = await store('select-none');
    const nothing = await build(reader2, reader2.context('c2', check('2')), ['--cache-from', none]);
    assert.equal(nothing.code, 0, nothing.stderr);
    assert.match(nothing.stderr, /a= b=\n/);
    // An id no RUN uses is a warning (a typo exports nothing silently otherwise).
    const typo = await build(fx, fx.context('two', two), [
      '--cache-to',
      `type=registry,ref=${none},mounts=a;nope`,
    ]);
    assert.equal(typo.code, 0, typo.stderr);
    assert.match(typo.stderr, /no RUN of this build has a cache mount with id "nope"/);
  });

  it('a mount exported with another uid/gid is not restored into one with the default owner', async () => {
    const fx = await store('uid');
    const owned = `${registry.host}/cm/uid:cache`;
    const made = await build(fx, fx.context('w', writerFiles('owned\n', ',uid=1000,gid=1000')), [
      '--cache-to',
      `type=registry,ref=${owned},mounts=all`,
    ]);
    assert.equal(made.code, 0, made.stderr);
    const other = await store('uid-reader');
    const mismatched = await build(other, other.context('r', readerFiles('owned')), ['--cache-from', owned]);
    assert.notEqual(mismatched.code, 0, 'uid 0 must not get the uid 1000 mount');
    const same = await store('uid-same');
    // sharing= is not part of the identity: a locked mount is restored the same way.
    const matched = await build(
      same,
      same.context('r', readerFiles('owned', ',uid=1000,gid=1000,sharing=locked')),
      ['--cache-from', owned],
    );
    assert.equal(matched.code, 0, matched.stderr);
    assert.match(matched.stderr, /owner=1000:1000:755/);
  });

  it('max-size= keeps the most recently used files (by access/modify time) and drops the oldest', async () => {
    const fx = await store('max');
    const made = await build(
      fx,
      fx.context('w', {
        Dockerfile: [
          'FROM busybox:local',
          "RUN --mount=type=cache,target=/c,id=lru sh -ec 'head -c 600000 /dev/urandom > /c/old; head -c 600000 /dev/urandom > /c/mid; head -c 600000 /dev/urandom > /c/new; " +
            'touch -d "2020-01-01 00:00:00" /c/old; touch -d "2021-01-01 00:00:00" /c/mid\'',
          '',
        ].join('\n'),
      }),
      ['--cache-to', `type=local,dest=${join(fx.work, 'layout')},mounts=lru,max-size=1.3MB`],
    );
    assert.equal(made.code, 0, made.stderr);
    const reader = await store('max-reader');
    const got = await build(
      reader,
      reader.context('r', {
        Dockerfile: [
          'FROM busybox:local',
          "RUN --mount=type=cache,target=/c,id=lru sh -c 'echo files: $(ls /c)'",
          '',
        ].join('\n'),
      }),
      ['--cache-from', `type=local,src=${join(fx.work, 'layout')}`],
    );
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stderr, /files: mid new\n/);
  });

  it('refuses bad mounts= and max-size= values with a clear error', async () => {
    const fx = writer;
    const ctx = fx.context('bad', { Dockerfile: 'FROM busybox:local\n' });
    const empty = await build(fx, ctx, ['--cache-to', `type=registry,ref=${ref()},mounts=a;;b`]);
    assert.equal(empty.code, 1, empty.stderr);
    assert.match(empty.stderr, /mounts="a;;b" has an empty id/);
    const size = await build(fx, ctx, ['--cache-to', `type=registry,ref=${ref()},max-size=1GB`]);
    assert.equal(size.code, 1, size.stderr);
    assert.match(size.stderr, /max-size= limits exported cache mounts; it needs mounts=all or mounts=ID/);
  });
});
