import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { buildRun, progressEvents } from '../support/build-run.ts';
import { runStrata } from '../support/cli.ts';

describe('build cache', () => {
  let fx: BuildFixture;
  let ctx: string;
  before(async () => {
    fx = await buildFixture('strata-cache-');
    ctx = fx.context('app', {
      Dockerfile: [
        'FROM busybox:local AS deps',
        'ARG FLAVOUR=plain',
        'COPY deps.txt /deps/',
        'RUN cat /deps/deps.txt > /deps/installed && echo "$FLAVOUR" >> /deps/installed',
        'FROM busybox:local',
        'COPY --from=deps /deps/installed /app/deps',
        'COPY src/ /app/src/',
        'RUN ls /app/src > /app/manifest',
        '',
      ].join('\n'),
      'deps.txt': 'left-pad\n',
      'src/main.txt': 'v1\n',
      'notes.md': 'ignored\n',
      '.dockerignore': 'notes.md\n',
    });
  });
  after(() => fx.cleanup());

  it('reuses every step on a rebuild and produces the identical image digest', async () => {
    const first = await buildRun(fx, ctx);
    assert.equal(first.cached.length, 0);
    const second = await buildRun(fx, ctx);
    assert.deepEqual(second.ran, []);
    assert.equal(second.digest, first.digest);
  });

  it('re-runs only the steps that depend on a changed source file', async () => {
    writeFileSync(join(ctx, 'src/main.txt'), 'v2\n');
    const r = await buildRun(fx, ctx);
    assert.deepEqual(r.ran, ['COPY src/ /app/src/', 'RUN ls /app/src > /app/manifest']);
  });

  it('re-runs nothing when only a file excluded by .dockerignore changes, or only an mtime', async () => {
    writeFileSync(join(ctx, 'notes.md'), 'changed but ignored\n');
    writeFileSync(join(ctx, 'src/main.txt'), 'v2\n'); // same content, new mtime
    const r = await buildRun(fx, ctx);
    assert.deepEqual(r.ran, []);
  });

  it('re-runs the steps that see a changed build-arg, and what follows them', async () => {
    const r = await buildRun(fx, ctx, ['--build-arg', 'FLAVOUR=spicy']);
    assert.deepEqual(r.ran, [
      'RUN cat /deps/deps.txt > /deps/installed && echo "$FLAVOUR" >> /deps/installed',
      'COPY --from=deps /deps/installed /app/deps',
      'COPY src/ /app/src/',
      'RUN ls /app/src > /app/manifest',
    ]);
  });

  it('re-runs a changed instruction and everything after it, and --no-cache runs all', async () => {
    const dockerfile = join(ctx, 'Dockerfile');
    const { readFileSync } = await import('node:fs');
    writeFileSync(
      dockerfile,
      readFileSync(dockerfile, 'utf8').replace(
        'RUN ls /app/src > /app/manifest',
        'RUN ls -l /app/src > /app/manifest',
      ),
    );
    const r = await buildRun(fx, ctx);
    assert.deepEqual(r.ran, ['RUN ls -l /app/src > /app/manifest']);
    const all = await buildRun(fx, ctx, ['--no-cache']);
    assert.equal(all.cached.length, 0);
    assert.equal(all.ran.length, 5);
  });

  it('lets two concurrent builds of the same Dockerfile both succeed', async () => {
    writeFileSync(join(ctx, 'src/other.txt'), 'new file\n');
    const [a, b] = await Promise.all([buildRun(fx, ctx), buildRun(fx, ctx)]);
    assert.equal(a.digest, b.digest);
    const verify = await runStrata(['store', 'verify'], { root: fx.root });
    assert.equal(verify.code, 0, verify.stdout);
  });

  it("reports each step's cache key inputs as progress with STRATA_DEBUG_CACHE=1 (plain lines, json events)", async () => {
    const plain = await runStrata(['build', '--progress', 'plain', ctx], {
      root: fx.root,
      env: { STRATA_DEBUG_CACHE: '1' },
    });
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stderr, /^#\d+ cache key [0-9a-f]{64} parent=\S+ \{"step":/m);
    const json = await runStrata(['build', '--progress', 'json', ctx], {
      root: fx.root,
      env: { STRATA_DEBUG_CACHE: '1' },
    });
    assert.equal(json.code, 0, json.stderr);
    const keys = progressEvents(json.stderr).filter((e) => e.type === 'cache-key');
    assert.ok(keys.length > 0, 'cache-key events');
    const quiet = await runStrata(['build', '--progress', 'plain', ctx], { root: fx.root });
    assert.doesNotMatch(quiet.stderr, /cache key/, 'nothing without the variable');
  });
});

describe('build cache: COPY --from keyed by the content it copies (as BuildKit)', () => {
  let fx: BuildFixture;
  let ctx: string;
  before(async () => {
    fx = await buildFixture('strata-content-key-');
    ctx = fx.context('app', {
      Dockerfile: [
        'FROM busybox:local AS build',
        'ARG OWNER=0',
        'COPY src/ /src/',
        // The output depends on the set of lines only; the stamp outside /out changes every run.
        'RUN mkdir /out && cat /src/*.txt | sort > /out/all && chown "$OWNER" /out/all && date +%N > /stamp',
        'FROM busybox:local',
        'COPY --from=build /out /app/out',
        'RUN wc -l /app/out/all > /app/lines',
        '',
      ].join('\n'),
      'src/a.txt': 'beta\nalpha\n',
    });
  });
  after(() => fx.cleanup());

  it('reuses the copy and every step after it when the stage re-ran but made the same files', async () => {
    const first = await buildRun(fx, ctx);
    assert.equal(first.cached.length, 0);
    writeFileSync(join(ctx, 'src/a.txt'), 'alpha\nbeta\n'); // another input, the same sorted output
    const second = await buildRun(fx, ctx);
    assert.deepEqual(second.ran, [
      'COPY src/ /src/',
      'RUN mkdir /out && cat /src/*.txt | sort > /out/all && chown "$OWNER" /out/all && date +%N > /stamp',
    ]);
    assert.equal(second.digest, first.digest);
    // Found by content once, it is found by its definition key from then on.
    const third = await buildRun(fx, ctx);
    assert.deepEqual(third.ran, []);
    assert.equal(third.digest, first.digest);
  });

  it('copies again when the copied content changes', async () => {
    writeFileSync(join(ctx, 'src/a.txt'), 'alpha\nbeta\ngamma\n');
    const r = await buildRun(fx, ctx);
    assert.deepEqual(r.ran, [
      'COPY src/ /src/',
      'RUN mkdir /out && cat /src/*.txt | sort > /out/all && chown "$OWNER" /out/all && date +%N > /stamp',
      'COPY --from=build /out /app/out',
      'RUN wc -l /app/out/all > /app/lines',
    ]);
  });

  it('finds the copy by content in an imported cache too, and remembers it locally', async () => {
    writeFileSync(join(ctx, 'src/a.txt'), 'one\ntwo\n');
    const dest = join(fx.work, 'content-key-cache');
    const exported = await buildRun(fx, ctx, ['--cache-to', `type=local,dest=${dest},mode=max`]);
    const other = await buildFixture('strata-content-key-b-');
    try {
      const otherCtx = other.context('app', {
        Dockerfile: readFileSync(join(ctx, 'Dockerfile'), 'utf8'),
        'src/a.txt': 'two\none\n', // the builder's input differs, its output does not
      });
      const imported = await buildRun(other, otherCtx, ['--cache-from', `type=local,src=${dest}`]);
      assert.deepEqual(imported.ran, [
        'COPY src/ /src/',
        'RUN mkdir /out && cat /src/*.txt | sort > /out/all && chown "$OWNER" /out/all && date +%N > /stamp',
      ]);
      assert.equal(imported.digest, exported.digest);
      const again = await buildRun(other, otherCtx);
      assert.deepEqual(again.ran, []);
      assert.equal(again.digest, exported.digest);
    } finally {
      other.cleanup();
    }
  });

  it('copies again when only the owner of a copied file changes', async () => {
    const r = await buildRun(fx, ctx, ['--build-arg', 'OWNER=1']);
    assert.ok(r.ran.includes('COPY --from=build /out /app/out'), r.ran.join('\n'));
    assert.ok(r.ran.includes('RUN wc -l /app/out/all > /app/lines'), r.ran.join('\n'));
  });
});

describe("build cache: a builder stage's layers are stored uncompressed until something exports them", () => {
  let fx: BuildFixture;
  let ctx: string;
  const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
  const TAR = 'application/vnd.oci.image.layer.v1.tar';
  /** The step-cache records, by history text. */
  const records = () => {
    const dir = join(fx.root, 'roots', 'step-cache');
    return readdirSync(dir).map(
      (n) =>
        JSON.parse(readFileSync(join(dir, n), 'utf8')) as {
          createdBy: string;
          layer: { mediaType: string; digest: string };
        },
    );
  };
  const manifestOf = (digest: string) =>
    JSON.parse(readFileSync(join(fx.root, 'blobs', 'sha256', digest.trim().slice(7)), 'utf8')) as {
      layers: { mediaType: string }[];
    };
  const BUILD_RUN = 'RUN head -c 300000 /dev/zero | tr "\\0" x > /out/big && echo made > /out/small';
  before(async () => {
    fx = await buildFixture('strata-internal-layers-');
    ctx = fx.context('app', {
      Dockerfile: [
        'FROM busybox:local AS build',
        'RUN mkdir /out',
        BUILD_RUN,
        'FROM busybox:local',
        'COPY --from=build /out/small /small',
        '',
      ].join('\n'),
    });
  });
  after(() => fx.cleanup());

  it('keeps the builder stage uncompressed and the image gzip', async () => {
    const first = await buildRun(fx, ctx);
    assert.equal(first.cached.length, 0);
    const builder = records().filter((r) => r.createdBy.includes('/out/big'));
    assert.ok(builder.length > 0);
    for (const r of builder) assert.equal(r.layer.mediaType, TAR, r.createdBy);
    for (const l of manifestOf(first.digest).layers) assert.equal(l.mediaType, GZIP);
  });

  it('compresses a reused builder layer once the image it ends up in is exported, and rewrites its record', async () => {
    // --target build: the image is the builder stage itself, from the cache.
    const target = await buildRun(fx, ctx, ['--target', 'build']);
    assert.deepEqual(target.ran, []);
    for (const l of manifestOf(target.digest).layers) assert.equal(l.mediaType, GZIP);
    for (const r of records().filter((r) => r.createdBy.includes('/out/big')))
      assert.equal(r.layer.mediaType, GZIP);
    // The same bytes as compressing while building: a --no-cache build gives the same digest.
    const cold = await buildRun(fx, ctx, ['--target', 'build', '--no-cache']);
    assert.equal(cold.digest, target.digest);
    const verify = await runStrata(['store', 'verify'], { root: fx.root });
    assert.equal(verify.code, 0, verify.stdout);
  });

  it('exports a builder layer stored uncompressed with --cache-to mode=max compressed', async () => {
    const ctx2 = fx.context('app2', {
      Dockerfile: [
        'FROM busybox:local AS build',
        'RUN echo two > /two',
        'FROM busybox:local',
        'COPY --from=build /two /copied/two',
        '',
      ].join('\n'),
    });
    await buildRun(fx, ctx2);
    const dest = join(fx.work, 'cache-export');
    const exported = await buildRun(fx, ctx2, ['--cache-to', `type=local,dest=${dest},mode=max`]);
    assert.deepEqual(exported.ran, []);
    const index = JSON.parse(readFileSync(join(dest, 'index.json'), 'utf8')) as {
      manifests: { digest: string }[];
    };
    const manifest = JSON.parse(
      readFileSync(join(dest, 'blobs', 'sha256', index.manifests[0]!.digest.slice(7)), 'utf8'),
    ) as { layers: { mediaType: string }[] };
    assert.equal(manifest.layers.length, 2);
    for (const l of manifest.layers) assert.equal(l.mediaType, GZIP);
  });

  it("compresses the image's own layers beside the steps that follow (the last one directly), to the same digest", async () => {
    const ctx3 = fx.context('app3', {
      Dockerfile: [
        'FROM busybox:local',
        'RUN seq 1 100000 > /numbers && echo one > /one',
        'RUN echo last > /last',
        '',
      ].join('\n'),
    });
    const background = await buildRun(fx, ctx3, ['--no-cache']);
    const layers = (m: string) => {
      const manifest = JSON.parse(readFileSync(join(fx.root, 'blobs', 'sha256', m.trim().slice(7)), 'utf8'));
      const config = JSON.parse(
        readFileSync(join(fx.root, 'blobs', 'sha256', manifest.config.digest.slice(7)), 'utf8'),
      );
      return {
        media: manifest.layers.map((l: { mediaType: string }) => l.mediaType),
        diffIds: config.rootfs.diff_ids,
      };
    };
    const { media, diffIds } = layers(background.digest);
    assert.deepEqual(media, [GZIP, GZIP, GZIP]);
    const stored = (diffId: string) => existsSync(join(fx.root, 'blobs', 'sha256', diffId.slice(7)));
    // The first RUN was committed as plain tar (its blob is the diff_id) and compressed after; the
    // last went straight to gzip.
    assert.ok(stored(diffIds[1]), 'the first RUN was committed uncompressed');
    assert.ok(!stored(diffIds[2]), 'the last RUN was compressed as it was committed');
    for (const r of records().filter((r) => r.createdBy.includes('/numbers')))
      assert.equal(r.layer.mediaType, GZIP, 'its record names the compressed blob');
    // --cache-to mode=max compresses every layer as it is committed: the same image.
    const dest = join(fx.work, 'cache-export-3');
    const direct = await buildRun(fx, ctx3, ['--no-cache', '--cache-to', `type=local,dest=${dest},mode=max`]);
    assert.equal(direct.digest, background.digest);
  });
});

describe('build cache pruning', () => {
  let fx: BuildFixture;
  before(async () => {
    fx = await buildFixture('strata-prune-');
  });
  after(() => fx.cleanup());

  it('keeps what --keep-storage allows (least recently used go first), and a plain prune empties the cache', async () => {
    const a = fx.context('a', { Dockerfile: 'FROM busybox:local\nRUN head -c 20000 /dev/urandom > /a\n' });
    const b = fx.context('b', { Dockerfile: 'FROM busybox:local\nRUN head -c 20000 /dev/urandom > /b\n' });
    await buildRun(fx, a);
    await buildRun(fx, b);
    const du = JSON.parse((await runStrata(['du', '--json'], { root: fx.root })).stdout);
    assert.equal(du.buildCache.records, 2);
    // Budget for one record: the older one (a) goes, b stays cached.
    const keep = await runStrata(
      ['prune', '-f', '--json', '--keep-storage', `${Math.ceil(du.buildCache.bytes / 2) + 100}B`],
      { root: fx.root },
    );
    assert.equal(keep.code, 0, keep.stderr);
    assert.equal(JSON.parse(keep.stdout).cacheRecords, 1);
    assert.deepEqual((await buildRun(fx, b)).ran, []);
    assert.deepEqual((await buildRun(fx, a)).ran, ['RUN head -c 20000 /dev/urandom > /a']);
    const all = await runStrata(['prune', '-f', '--json'], { root: fx.root });
    assert.equal(JSON.parse(all.stdout).cacheRecords, 2);
    assert.deepEqual((await buildRun(fx, b)).ran, ['RUN head -c 20000 /dev/urandom > /b']);
    assert.equal((await runStrata(['store', 'verify'], { root: fx.root })).code, 0);
  });

  it('counts a layer that two records name (a COPY --from) once, in du and for --keep-storage', async () => {
    const c = fx.context('c', {
      Dockerfile:
        'FROM busybox:local AS b\nRUN head -c 30000 /dev/urandom > /r\nFROM busybox:local\nCOPY --from=b /r /r\n',
    });
    await buildRun(fx, c);
    const dir = join(fx.root, 'roots', 'step-cache');
    const records = readdirSync(dir).map(
      (n) => JSON.parse(readFileSync(join(dir, n), 'utf8')) as { layer: { digest: string; size: number } },
    );
    const distinct = new Map(records.map((r) => [r.layer.digest, r.layer.size]));
    assert.ok(records.length > distinct.size, 'the COPY --from is recorded under two keys');
    const bytes = [...distinct.values()].reduce((n, s) => n + s, 0);
    const du = JSON.parse((await runStrata(['du', '--json'], { root: fx.root })).stdout);
    assert.equal(du.buildCache.records, records.length);
    assert.equal(du.buildCache.bytes, bytes);
    // A budget of exactly what is there removes nothing.
    const keep = await runStrata(['prune', '-f', '--json', '--keep-storage', `${bytes}B`], { root: fx.root });
    assert.equal(JSON.parse(keep.stdout).cacheRecords, 0);
  });
});
