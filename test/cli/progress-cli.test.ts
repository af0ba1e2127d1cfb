import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Store } from '../../src/store/index.ts';
import { DOCKER, loadIntoDocker } from '../../tools/compare-buildkit.ts';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { runStrata, STRATA_BIN } from '../support/cli.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

/**
 * What `strata build` prints while it works, run as a user runs it: BuildKit's step labels and
 * numbering (checked against docker's BuildKit on the same Dockerfile), the last vertex naming
 * what was written, the tty view, failures, `--progress rawjson|none|quiet`, and image IDs and
 * sizes that agree with `docker images` for the same image.
 */

// Config-only instructions (ENV, LABEL, EXPOSE, USER, CMD, ARG, ENTRYPOINT) between the steps that
// are BuildKit vertices (FROM image, WORKDIR, COPY, RUN); a second stage FROM the first.
const DOCKERFILE = [
  'FROM busybox:local AS base',
  'ENV A=1',
  'WORKDIR /app',
  'COPY a.txt .',
  'RUN echo hello',
  'LABEL x=y',
  'EXPOSE 80',
  'USER root',
  'CMD ["sh"]',
  'FROM base',
  'ARG Z=1',
  'RUN echo second',
  'ENTRYPOINT ["sh"]',
  '',
].join('\n');

/** The `#N <label>` lines of plain progress: each step's label, in order. */
function stepLabels(plain: string): string[] {
  return plain
    .split('\n')
    .map((line) => /^#\d+ (\[[^\]]+\] .*|exporting to image|\[internal\] .*)$/.exec(line)?.[1])
    .filter((label): label is string => label !== undefined);
}

describe('build progress as BuildKit prints it', () => {
  let fx: BuildFixture;
  let ctx: string;
  before(async () => {
    fx = await buildFixture('strata-progress-cli-');
    ctx = fx.context('app', { Dockerfile: DOCKERFILE, 'a.txt': 'hi\n' });
  });
  after(() => fx.cleanup());

  it("numbers only the steps BuildKit shows, as docker's BuildKit does, and ends with what it wrote", async () => {
    const r = await runStrata(['build', '--progress=plain', '-t', 'progress-labels', ctx], { root: fx.root });
    assert.equal(r.code, 0, r.stderr);
    const labels = stepLabels(r.stderr);
    assert.deepEqual(labels, [
      '[internal] load metadata for docker.io/library/busybox:local',
      '[base 1/4] FROM docker.io/library/busybox:local',
      '[base 2/4] WORKDIR /app',
      '[base 3/4] COPY a.txt .',
      '[base 4/4] RUN echo hello',
      '[stage-1 1/1] RUN echo second',
      'exporting to image',
    ]);
    assert.doesNotMatch(r.stderr, /^#\d+ .*\b(ENV|LABEL|EXPOSE|USER|CMD|ARG|ENTRYPOINT) /m);
    // The last vertex: the image ID (the config digest, as `strata inspect` shows it) and the name.
    const inspect = await runStrata(['inspect', '--json', 'progress-labels'], { root: fx.root });
    const id = (JSON.parse(inspect.stdout) as { id: string; config: { digest: string } }).id;
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    const exporting = /^#(\d+) exporting to image$/m.exec(r.stderr)![1];
    assert.match(r.stderr, new RegExp(`^#${exporting} writing image ${id} done$`, 'm'));
    assert.match(
      r.stderr,
      new RegExp(`^#${exporting} naming to docker\\.io/library/progress-labels:latest done$`, 'm'),
    );
    // The size table numbers layers as `inspect` does and names steps as the progress did.
    assert.match(r.stderr, /^ {2}#3 +\S+ {2}\[base 3\/4\] COPY a\.txt \. \(line 4\) {2}\[context\]$/m);
    const text = await runStrata(['inspect', 'progress-labels'], { root: fx.root });
    assert.match(text.stdout, /^ {2}3 +sha256:[0-9a-f]{64} +\S+ +COPY a\.txt \.$/m);
    assert.match(text.stdout, /^Image ID: +sha256:[0-9a-f]{64}$/m);
  });

  it("labels the steps exactly as docker's BuildKit does on the same Dockerfile", async (t) => {
    if (spawnSync(DOCKER, ['info'], { stdio: 'ignore' }).status !== 0)
      assert.fail('a Docker daemon is required for the BuildKit oracle (dockerd is started by .ci/run)');
    const store = await Store.open(fx.root);
    try {
      await loadIntoDocker(store, ['busybox:local'], fx.work);
    } finally {
      await store.close();
    }
    const docker = spawnSync(DOCKER, ['build', '--progress=plain', '--no-cache', ctx], {
      env: { ...process.env, DOCKER_BUILDKIT: '1' },
      encoding: 'utf8',
    });
    assert.equal(docker.status, 0, docker.stderr);
    const theirs = stepLabels(docker.stderr)
      .map((l) => l.replace(/@sha256:[0-9a-f]{64}/, ''))
      .filter((l) => !l.startsWith('[internal] load build') && !l.startsWith('[internal] load .docker'));
    const ours = stepLabels(
      (await runStrata(['build', '--progress=plain', '--no-cache', ctx], { root: fx.root })).stderr,
    );
    t.diagnostic(`docker: ${JSON.stringify(theirs)}`);
    assert.deepEqual(
      ours.filter((l) => l.startsWith('[') && !l.startsWith('[internal]')),
      theirs.filter((l) => l.startsWith('[') && !l.startsWith('[internal]')),
    );
  });

  it('shows a failed step with all its output and says the command once in the error', async () => {
    const command = 'for i in $(seq 1 30); do echo out-line-$i; done; echo the-cause >&2; exit 3';
    const failing = fx.context('failing', { Dockerfile: `FROM busybox:local\nENV X=1\nRUN ${command}\n` });
    const plain = await runStrata(['build', '--progress=plain', failing], { root: fx.root });
    assert.equal(plain.code, 1, plain.stderr);
    for (let i = 1; i <= 30; i++)
      assert.match(plain.stderr, new RegExp(`^#3 \\d+\\.\\d{3} out-line-${i}$`, 'm'));
    assert.match(plain.stderr, /^#3 \d+\.\d{3} the-cause$/m);
    const summary = plain.stderr.trimEnd().split('\n').at(-1)!;
    assert.match(
      summary,
      /^error: .*Dockerfile:3: building stage "stage-0": step 2\/2: RUN failed with exit code 3: /,
    );
    assert.equal(summary.split(command).length - 1, 1, summary);

    // On a terminal: the live view shows the last lines; after the error, all of them.
    const tty = spawnSync(
      'script',
      ['-qec', `${process.execPath} ${STRATA_BIN} build --progress=tty ${failing}`, '/dev/null'],
      { env: { ...process.env, STRATA_ROOT: fx.root, NO_COLOR: '1', COLUMNS: '200' }, encoding: 'utf8' },
    );
    assert.equal(tty.status, 1, tty.stdout);
    const screen = tty.stdout.replace(/\r/g, '');
    const final = screen.slice(screen.lastIndexOf('\x1b[J') + 3);
    assert.match(final, /^\[\+\] Building \d+\.\ds \(3\/3\) FINISHED$/m);
    assert.match(
      final,
      /^=> ERROR \[2\/2\] RUN for i in/m,
      'a one-stage Dockerfile: no stage name, as BuildKit',
    );
    const box = final.slice(final.indexOf('------\n'));
    assert.match(box, /^------\n > \[2\/2\] RUN for i in .*:\n/);
    for (let i = 1; i <= 30; i++) assert.match(box, new RegExp(`^\\d+\\.\\d{3} out-line-${i}$`, 'm'));
    // stdout and stderr lines arrive as the process wrote them; the box ends after the last.
    assert.match(box, /^\d+\.\d{3} the-cause$/m);
    assert.ok(box.indexOf('\n------\n') > box.indexOf('out-line-30'), box);
  });

  it('--progress rawjson writes BuildKit solve-status JSON lines; none prints nothing; quiet prints the ID', async () => {
    const raw = await runStrata(['build', '--progress=rawjson', '--no-cache', ctx], { root: fx.root });
    assert.equal(raw.code, 0, raw.stderr);
    const statuses = raw.stderr
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, { [key: string]: unknown }[]>);
    const vertexes = statuses.flatMap((s) => s.vertexes ?? []);
    const workdir = vertexes.filter((v) => v.name === '[base 2/4] WORKDIR /app');
    assert.equal(workdir.length, 2, 'started, then completed');
    assert.match(String(workdir[1]!.digest), /^sha256:[0-9a-f]{64}$/);
    assert.ok(workdir[1]!.started && workdir[1]!.completed);
    const run = vertexes.find((v) => v.name === '[base 4/4] RUN echo hello')!;
    const logs = statuses.flatMap((s) => s.logs ?? []).filter((l) => l.vertex === run.digest);
    assert.equal(logs.map((l) => Buffer.from(String(l.data), 'base64').toString()).join(''), 'hello\n');
    assert.equal(logs[0]!.stream, 1);
    const named = statuses.flatMap((s) => s.statuses ?? []).map((s) => s.id);
    assert.ok(
      named.some((id) => /^writing image sha256:[0-9a-f]{64} done$/.test(String(id))),
      named.join('\n'),
    );
    assert.doesNotMatch(raw.stderr, /Image size by source/);

    const none = await runStrata(['build', '--progress=none', ctx], { root: fx.root });
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stderr, '');
    assert.equal(none.stdout, '');

    const quiet = await runStrata(['build', '--progress=quiet', '-t', 'progress-quiet', ctx], {
      root: fx.root,
    });
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stderr, '');
    const inspect = JSON.parse(
      (await runStrata(['inspect', '--json', 'progress-quiet'], { root: fx.root })).stdout,
    );
    assert.equal(
      quiet.stdout,
      `${(inspect as { id: string }).id}\n`,
      'buildx prints the image ID (config digest)',
    );
    // And that ID names the image, as in docker.
    const byId = await runStrata(['inspect', '--json', quiet.stdout.trim().slice(7, 19)], { root: fx.root });
    assert.equal(byId.code, 0, byId.stderr);

    const both = await runStrata(['build', '--progress=plain', '-q', ctx], { root: fx.root });
    assert.equal(both.code, 1, both.stderr);
    assert.match(both.stderr, /--progress=plain and --quiet cannot be used together/);
    const bad = await runStrata(['build', '--progress=fancy', ctx], { root: fx.root });
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /invalid --progress "fancy".*auto, tty, plain, rawjson, json, quiet, none/s);
  });

  it('shows a local export as a step of its own, not as a docker pull', async () => {
    const out = join(fx.work, 'layout');
    const r = await runStrata(['build', '--progress=plain', '-o', `type=oci,dest=${out},tar=false`, ctx], {
      root: fx.root,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(out, 'index.json')));
    const step = /^#(\d+) exporting to oci image format$/m.exec(r.stderr)?.[1];
    assert.ok(step, r.stderr);
    assert.match(r.stderr, new RegExp(`^#${step} sha256:[0-9a-f]{64} \\S+ / \\S+ done$`, 'm'));
    assert.match(r.stderr, new RegExp(`^#${step} DONE \\d+\\.\\ds$`, 'm'));
    assert.doesNotMatch(r.stderr, /Pulling fs layer|Pull complete/);

    const copied = await runStrata(
      ['copy', '--progress=plain', 'strata:busybox:local', `oci:${out}-copy:x`],
      {
        root: fx.root,
      },
    );
    assert.equal(copied.code, 0, copied.stderr);
    assert.match(copied.stderr, /^#1 copying strata:busybox:local to oci:.*-copy:x$/m);
    assert.match(copied.stderr, /^#1 DONE /m);
    assert.doesNotMatch(copied.stderr, /Pulling fs layer|Pull complete/);
  });

  it("lists docker's image ID and size for an image loaded into docker, with the compressed size beside", async () => {
    if (spawnSync(DOCKER, ['info'], { stdio: 'ignore' }).status !== 0)
      assert.fail('a Docker daemon is required (dockerd is started by .ci/run)');
    const tag = `strata-progress-images:${process.pid}`;
    try {
      const built = await runStrata(['build', '--progress=plain', '--load', '-t', tag, ctx], {
        root: fx.root,
      });
      assert.equal(built.code, 0, built.stderr);
      assert.match(built.stderr, /^#\d+ sending tarball$/m);
      const [dockerId, dockerSize] = execFileSync(DOCKER, ['images', '--format', '{{.ID}} {{.Size}}', tag], {
        encoding: 'utf8',
      })
        .trim()
        .split(' ');
      const images = await runStrata(['images'], { root: fx.root });
      assert.equal(images.code, 0, images.stderr);
      assert.match(images.stdout, /^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE +COMPRESSED$/m);
      const row = images.stdout.split('\n').find((l) => l.startsWith('strata-progress-images '));
      assert.ok(row, images.stdout);
      const cells = row.split(/ {2,}/);
      assert.equal(cells[2], dockerId);
      assert.equal(cells[4], dockerSize);
      assert.notEqual(cells[5], dockerSize, 'the compressed size differs from the unpacked one');
      const json = JSON.parse((await runStrata(['images', '--json'], { root: fx.root })).stdout) as {
        name: string;
        id: string;
        size: number;
        contentSize: number;
      }[];
      const entry = json.find((i) => i.name === tag)!;
      const inspected = JSON.parse(execFileSync(DOCKER, ['image', 'inspect', tag], { encoding: 'utf8' })) as {
        Id: string;
        Size: number;
      }[];
      assert.equal(entry.id, inspected[0]!.Id);
      assert.equal(entry.contentSize, inspected[0]!.Size);
    } finally {
      spawnSync(DOCKER, ['rmi', '-f', tag], { stdio: 'ignore' });
    }
  });
});

describe('base-image downloads in build progress', () => {
  let registry: TestRegistry;
  let fx: BuildFixture;
  before(async () => {
    registry = await startRegistry();
    fx = await buildFixture('strata-progress-pull-');
    const pushed = await runStrata(['push', 'busybox:local', `${registry.host}/progress/base:1`], {
      root: fx.root,
    });
    assert.equal(pushed.code, 0, pushed.stderr);
  });
  after(async () => {
    await registry.stop();
    fx.cleanup();
  });

  it('shows the layers downloading under the FROM step, not as docker pull lines', async () => {
    const ref = `${registry.host}/progress/base:1`;
    const ctx = fx.context('pulls', { Dockerfile: `FROM ${ref}\nCMD ["sh"]\nRUN echo ran\n` });
    const fresh = join(fx.work, 'fresh-store');
    const result = await runStrata(['build', '--progress=plain', ctx], { root: fresh });
    assert.equal(result.code, 0, result.stderr);
    const from = /^#(\d+) \[1\/2\] FROM (\S+)$/m.exec(result.stderr);
    assert.ok(from, result.stderr);
    assert.equal(from[2], ref);
    assert.match(result.stderr, new RegExp(`^#${from[1]} sha256:[0-9a-f]{64} \\S+ / \\S+ done$`, 'm'));
    assert.match(result.stderr, new RegExp(`^#${from[1]} DONE \\d+\\.\\ds$`, 'm'));
    assert.match(result.stderr, /^#\d+ \[2\/2\] RUN echo ran$/m);
    assert.doesNotMatch(result.stderr, /Pulling fs layer|Pull complete|Pulling from|Digest: |Status: /);
    // The FROM step's line comes before any line about its layers.
    const first = result.stderr.indexOf(`#${from[1]} `);
    assert.equal(first, result.stderr.indexOf(from[0]));
  });

  it("starts a step's timer when its base image is in, not while the download is under way", async () => {
    // Every blob over 100 kB (the busybox layer) arrives 2 s late.
    const proxy = await startFaultProxy(registry.host, {
      seed: 3,
      slowBlobs: { minBytes: 100_000, delayMs: 2000 },
    });
    try {
      const ctx = fx.context('slow-base', {
        Dockerfile: `FROM ${proxy.host}/progress/base:1\nRUN echo ran\n`,
      });
      const r = await runStrata(['build', '--progress=json', ctx], { root: join(fx.work, 'slow-store') });
      assert.equal(r.code, 0, r.stderr);
      const events = r.stderr
        .trimEnd()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map(
          (l) => JSON.parse(l) as { type: string; step?: string; name?: string; at: number; status?: string },
        );
      const from = events.find((e) => e.type === 'step-started' && e.name?.startsWith('FROM '))!;
      const layerDone = events.find(
        (e) => e.type === 'transfer' && e.status === 'done' && e.step === from.step,
      );
      assert.ok(layerDone, 'the layer downloads under the FROM step');
      const fromDone = events.find((e) => e.type === 'step-finished' && e.step === from.step)!;
      const run = events.find((e) => e.type === 'step-started' && e.name === 'RUN echo ran')!;
      assert.ok(events.some((e) => e.type === 'step-finished' && e.step === run.step));
      assert.ok(fromDone.at >= layerDone.at, 'FROM ends when its layers are in');
      assert.ok(run.at >= layerDone.at, 'RUN starts once the filesystem it runs on is there');
      assert.ok(
        fromDone.at - from.at >= 1900,
        `the FROM step took the download's time (${fromDone.at - from.at} ms)`,
      );
    } finally {
      await proxy.stop();
    }
  });
});
