import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DOCKER } from '../../tools/compare-buildkit.ts';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { runStrata } from '../support/cli.ts';
import { listTree } from '../support/tree-listing.ts';

/**
 * A chain may hold the same layer more than once (`RUN true` twice makes the same empty layer;
 * the same COPY twice the same files). overlayfs refuses a lowerdir that appears twice
 * ("conflicting lowerdir path"), so the overlay snapshotter must mount each layer once, at its
 * topmost place — which is the same tree, since an upper copy of a layer hides everything the
 * lower copy holds. Each shape is built on both snapshotters, and their images must be equal.
 */
const SNAPSHOTTERS = ['overlay', 'native'] as const;
type SnapshotterName = (typeof SNAPSHOTTERS)[number];

describe('chains that hold the same layer more than once', () => {
  const fx = new Map<SnapshotterName, BuildFixture>();
  before(async () => {
    for (const s of SNAPSHOTTERS) fx.set(s, await buildFixture(`strata-dup-${s}-`));
  });
  after(() => {
    for (const f of fx.values()) f.cleanup();
  });

  const env = (s: SnapshotterName) => ({ STRATA_SNAPSHOTTER: s, SOURCE_DATE_EPOCH: '1700000000' });

  /**
   * Builds the same context (files) on each snapshotter, tagged `tag`; asserts success and that
   * both give the same image digest; returns the digest.
   */
  async function buildBoth(
    name: string,
    files: Record<string, string>,
    tag: string,
    label = name,
  ): Promise<string> {
    const digests: string[] = [];
    for (const s of SNAPSHOTTERS) {
      const f = fx.get(s)!;
      const ctx = f.context(name, files);
      const iid = join(f.work, `${name}.iid`);
      const result = await runStrata(['build', '--progress', 'plain', '-t', tag, '--iidfile', iid, ctx], {
        root: f.root,
        env: env(s),
      });
      assert.equal(result.code, 0, `${s}: ${result.stderr}`);
      digests.push(readFileSync(iid, 'utf8'));
    }
    assert.equal(digests[0], digests[1], `overlay and native build the same image: ${label}`);
    return digests[0]!;
  }

  /** The layer digests of a stored image. */
  function layersOf(s: SnapshotterName, tag: string): string[] {
    const root = fx.get(s)!.root;
    const index = JSON.parse(readFileSync(join(root, 'index.json'), 'utf8'));
    const entry = index.manifests.find(
      (m: { annotations?: Record<string, string> }) =>
        m.annotations?.['org.opencontainers.image.ref.name'] === tag,
    );
    assert.ok(entry, `${tag} is stored`);
    const manifest = JSON.parse(readFileSync(join(root, 'blobs/sha256', entry.digest.slice(7)), 'utf8'));
    return manifest.layers.map((l: { digest: string }) => l.digest);
  }

  it('builds three `RUN true` in a row and a step after them', async () => {
    await buildBoth(
      'run-true',
      { Dockerfile: 'FROM busybox:local\nRUN true\nRUN true\nRUN true\nRUN echo after > /after\n' },
      'dup:run-true',
    );
    const layers = layersOf('overlay', 'dup:run-true');
    assert.equal(new Set(layers.slice(1, 4)).size, 1, 'the three RUN true made one and the same layer');
  });

  it('builds RUN steps that write only into a cache mount, then a step after them', async () => {
    await buildBoth(
      'cache-only',
      {
        Dockerfile: [
          'FROM busybox:local',
          'RUN --mount=type=cache,target=/cache echo one >> /cache/log',
          'RUN --mount=type=cache,target=/cache echo two >> /cache/log',
          'RUN --mount=type=cache,target=/cache cp /cache/log /seen',
          '',
        ].join('\n'),
      },
      'dup:cache-only',
    );
  });

  it('builds the same COPY twice in one stage, then a step that reads it', async () => {
    await buildBoth(
      'same-copy',
      {
        Dockerfile:
          'FROM busybox:local\nCOPY same.txt /same.txt\nCOPY same.txt /same.txt\nRUN cat /same.txt > /read\n',
        'same.txt': 'same\n',
      },
      'dup:same-copy',
    );
    const layers = layersOf('native', 'dup:same-copy');
    assert.equal(layers[1], layers[2], 'the two COPY made the same layer');
  });

  it('builds a stage FROM another stage whose steps made no files', async () => {
    await buildBoth(
      'empty-stage',
      {
        Dockerfile: [
          'FROM busybox:local AS empty',
          'RUN true',
          'FROM empty AS next',
          'RUN true',
          'RUN echo next > /next',
          'FROM next',
          'RUN true',
          'RUN cat /next',
          '',
        ].join('\n'),
      },
      'dup:empty-stage',
    );
  });

  it('runs and builds FROM an image that holds duplicate layers (a strata image)', async () => {
    await buildBoth(
      'dup-base',
      { Dockerfile: 'FROM busybox:local\nRUN true\nCOPY a /a\nRUN true\nCOPY a /a\n', a: 'a\n' },
      'dup:base',
    );
    for (const s of SNAPSHOTTERS) {
      const f = fx.get(s)!;
      const run = await runStrata(['run', 'dup:base', 'cat', '/a'], { root: f.root, env: env(s) });
      assert.equal(run.code, 0, `${s}: ${run.stderr}`);
      assert.equal(run.stdout, 'a\n');
    }
    await buildBoth(
      'on-dup-base',
      { Dockerfile: 'FROM dup:base\nRUN true\nRUN cat /a > /b\n' },
      'dup:on-base',
    );
  });

  it('reads back what `docker save` writes for an image with repeated layers (linked members)', async () => {
    const f = fx.get('overlay')!;
    const saved = join(f.work, 'dup-base-docker.tar');
    const tag = `strata-dup-base:${process.pid}`;
    const load = await runStrata(
      ['copy', 'strata:dup:base', `docker-archive:${join(f.work, 'dup-base.tar')}:${tag}`],
      {
        root: f.root,
      },
    );
    assert.equal(load.code, 0, load.stderr);
    execFileSync(DOCKER, ['load', '-i', join(f.work, 'dup-base.tar')], { stdio: 'ignore' });
    try {
      execFileSync(DOCKER, ['save', '-o', saved, tag]);
    } finally {
      spawnSync(DOCKER, ['rmi', '-f', tag], { stdio: 'ignore' });
    }
    // docker stores a layer equal to an earlier one as a link to it.
    const listing = execFileSync('tar', ['-tvf', saved], { encoding: 'utf8' });
    assert.match(listing, /layer\.tar -> \.\.\//, 'docker save links the repeated layers');
    const back = await runStrata(['copy', `docker-archive:${saved}`, 'strata:dup:reloaded'], {
      root: f.root,
    });
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual(layersOf('overlay', 'dup:reloaded').length, layersOf('overlay', 'dup:base').length);
    const verify = await runStrata(['store', 'verify'], { root: f.root });
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    const run = await runStrata(['run', 'dup:reloaded', 'cat', '/a'], { root: f.root, env: env('overlay') });
    assert.equal(run.stdout, 'a\n', run.stderr);
  });

  it('random sequences of empty, identical and different layers build the same image on both snapshotters', async () => {
    // A seeded generator (mulberry32): the seed is in every failure message.
    const seed = Number(process.env.STRATA_TEST_SEED ?? 0x5eed);
    let state = seed >>> 0;
    const random = () => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    /** A step, and what it does to the model of /w (file name → content; absent = deleted). */
    type Step = { line: string; apply(w: Map<string, string>): void };
    const steps: Step[] = [
      { line: 'RUN true', apply: () => undefined },
      { line: 'RUN mkdir -p /w', apply: () => undefined },
      { line: 'RUN echo x > /w/x', apply: (w) => w.set('x', 'x\n') },
      { line: 'RUN echo y > /w/x', apply: (w) => w.set('x', 'y\n') },
      { line: 'RUN rm -f /w/x', apply: (w) => w.delete('x') },
      { line: 'COPY a.txt /w/a', apply: (w) => w.set('a', 'a\n') },
      { line: 'COPY b.txt /w/a', apply: (w) => w.set('a', 'b\n') },
      { line: 'RUN rm -rf /w && mkdir /w', apply: (w) => w.clear() },
      { line: 'RUN --mount=type=cache,target=/c echo c >> /c/c', apply: () => undefined },
    ];
    for (let round = 0; round < 4; round++) {
      const chosen = Array.from({ length: 4 + Math.floor(random() * 5) }, () => pick(steps));
      const model = new Map<string, string>();
      for (const step of chosen) step.apply(model);
      const dockerfile = ['FROM busybox:local', 'RUN mkdir -p /w', ...chosen.map((s) => s.line), ''].join(
        '\n',
      );
      const files = { Dockerfile: dockerfile, 'a.txt': 'a\n', 'b.txt': 'b\n' };
      const label = `seed ${seed}, round ${round}:\n${dockerfile}`;
      const trees: string[][] = [];
      for (const s of SNAPSHOTTERS) {
        const f = fx.get(s)!;
        const ctx = f.context(`random-${round}`, files);
        const out = join(f.work, `random-${round}-out`);
        const result = await runStrata(
          ['build', '--progress', 'plain', '-o', `type=local,dest=${out}`, ctx],
          {
            root: f.root,
            env: env(s),
          },
        );
        assert.equal(result.code, 0, `${s}, ${label}\n${result.stderr}`);
        trees.push(listTree(out));
        const w = Object.fromEntries(
          readdirSync(join(out, 'w'))
            .sort()
            .map((n) => [n, readFileSync(join(out, 'w', n), 'utf8')]),
        );
        assert.deepEqual(w, Object.fromEntries([...model].sort()), `${s}: /w as the steps left it, ${label}`);
      }
      assert.deepEqual(trees[0], trees[1], `overlay and native trees, ${label}`);
      // And as images: the same digest on both (one more build each, cached but for the export).
      await buildBoth(`random-${round}`, files, `dup:random-${round}`, label);
    }
  });
});
