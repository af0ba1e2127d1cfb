import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseImageConfig, parseManifest, validateImage } from '../../src/oci/index.ts';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { progressEvents } from '../support/build-run.ts';
import { runStrata } from '../support/cli.ts';

function storedImage(root: string, name: string) {
  const index = JSON.parse(readFileSync(join(root, 'index.json'), 'utf8'));
  const entry = index.manifests.find(
    (m: { annotations: Record<string, string> }) =>
      m.annotations['org.opencontainers.image.ref.name'] === name,
  );
  assert.ok(entry, `${name} is in the store`);
  const manifest = parseManifest(readFileSync(join(root, 'blobs/sha256', entry.digest.slice(7))));
  const config = parseImageConfig(readFileSync(join(root, 'blobs/sha256', manifest.config.digest.slice(7))));
  assert.deepEqual(validateImage({ manifest, config }), []);
  return { digest: entry.digest as string, manifest, config };
}

function layerListing(root: string, digest: string): string[] {
  return execFileSync('tar', ['-tzf', join(root, 'blobs/sha256', digest.slice(7))], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
}

describe('strata build', () => {
  let fx: BuildFixture;

  /** Builds `ctx` (no cache) into a local directory once per snapshotter; returns the directories. */
  async function buildLocalWithEachSnapshotter(ctx: string, name: string): Promise<string[]> {
    const outs: string[] = [];
    for (const snapshotter of ['overlay', 'native']) {
      const out = join(fx.work, `out-${name}-${snapshotter}`);
      const result = await runStrata(['build', '--no-cache', '-o', `type=local,dest=${out}`, ctx], {
        root: fx.root,
        env: { STRATA_SNAPSHOTTER: snapshotter },
      });
      assert.equal(result.code, 0, `${snapshotter}: ${result.stderr}`);
      outs.push(out);
    }
    return outs;
  }
  /** Builds with each snapshotter, expecting the build to fail with `message`. */
  async function failsWithEachSnapshotter(ctx: string, message: RegExp): Promise<void> {
    for (const snapshotter of ['overlay', 'native']) {
      const result = await runStrata(['build', '--no-cache', ctx], {
        root: fx.root,
        env: { STRATA_SNAPSHOTTER: snapshotter },
      });
      assert.equal(result.code, 1, `${snapshotter}: ${result.stderr}`);
      assert.match(result.stderr, message, snapshotter);
    }
  }
  before(async () => {
    fx = await buildFixture('strata-build-');
  });
  after(() => fx.cleanup());

  it('builds a multi-stage Dockerfile into a scratch image holding only the copied artifact', async () => {
    const ctx = fx.context('multi', {
      Dockerfile: [
        'FROM busybox:local AS builder',
        'ARG GREETING=hello',
        'WORKDIR /src',
        'COPY main.txt .',
        'RUN echo "$GREETING from $(cat main.txt)" > /src/app && chmod 755 /src/app',
        'FROM scratch',
        'COPY --from=builder /src/app /usr/bin/app',
        'EXPOSE 8080',
        'ENTRYPOINT ["/usr/bin/app"]',
        '',
      ].join('\n'),
      'main.txt': 'strata\n',
    });
    const result = await runStrata(['build', '-t', 'multi:1', '--progress', 'plain', ctx], { root: fx.root });
    assert.equal(result.code, 0, result.stderr);
    const { manifest, config } = storedImage(fx.root, 'multi:1');
    assert.equal(manifest.layers.length, 1);
    assert.deepEqual(layerListing(fx.root, manifest.layers[0]!.digest), ['usr/', 'usr/bin/', 'usr/bin/app']);
    assert.deepEqual(config.config?.Entrypoint, ['/usr/bin/app']);
    assert.deepEqual(config.config?.Env, [
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    ]);
    assert.deepEqual(config.config?.ExposedPorts, { '8080/tcp': {} });
    assert.equal(config.config?.WorkingDir, '/');
    assert.deepEqual(
      config.history?.map((h) => [h.created_by, h.empty_layer ?? false]),
      [
        ['COPY /src/app /usr/bin/app # buildkit', false],
        ['EXPOSE [8080/tcp]', true],
        ['ENTRYPOINT ["/usr/bin/app"]', true],
      ],
    );
    const out = join(fx.work, 'out-multi');
    const local = await runStrata(['build', '-o', `type=local,dest=${out}`, '--progress', 'quiet', ctx], {
      root: fx.root,
    });
    assert.equal(local.code, 0, local.stderr);
    assert.equal(readFileSync(join(out, 'usr/bin/app'), 'utf8'), 'hello from strata\n');
    assert.equal(lstatSync(join(out, 'usr/bin/app')).mode & 0o777, 0o755);
  });

  it('honours --target, --build-arg and skips stages the target does not need', async () => {
    const ctx = fx.context('target', {
      Dockerfile: [
        'FROM busybox:local AS unused',
        'RUN exit 9',
        'FROM busybox:local AS wanted',
        'ARG V=default',
        'RUN echo "$V" > /v',
        'FROM wanted AS final',
        'RUN exit 7',
        '',
      ].join('\n'),
    });
    const result = await runStrata(
      ['build', '--target', 'wanted', '--build-arg', 'V=given', '-t', 'target:1', '--progress', 'plain', ctx],
      { root: fx.root },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /exit 9|exit 7/, 'stages the target does not need are not built');
    const { manifest, config } = storedImage(fx.root, 'target:1');
    assert.equal(config.history?.at(-1)?.created_by, 'RUN |1 V=given /bin/sh -c echo "$V" > /v # buildkit');
    assert.deepEqual(layerListing(fx.root, manifest.layers.at(-1)!.digest), ['v']);
  });

  it('reports a failed RUN with its exit code, command, location and last output', async () => {
    const ctx = fx.context('fail', {
      Dockerfile: 'FROM busybox:local\nRUN echo first\nRUN echo oops >&2; exit 3\n',
    });
    const result = await runStrata(['build', '--progress', 'plain', ctx], { root: fx.root });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Dockerfile:3: .*RUN failed with exit code 3: echo oops >&2; exit 3/);
    assert.match(result.stderr, /oops/);
  });

  it('reports the step that failed, not the steps of other stages it stopped', async () => {
    const ctx = fx.context('fail-beside', {
      Dockerfile: [
        'FROM busybox:local AS b',
        'RUN sleep 1 && echo boom && exit 3',
        'FROM busybox:local',
        'RUN sleep 10 && echo never',
        'COPY --from=b /x /x',
        '',
      ].join('\n'),
    });
    const result = await runStrata(['build', '--progress', 'plain', ctx], { root: fx.root });
    assert.equal(result.code, 1);
    const last = result.stderr.trimEnd().split('\n').pop()!;
    assert.match(
      last,
      /^error: .*Dockerfile:2: .*RUN failed with exit code 3: sleep 1 && echo boom && exit 3$/,
    );
    if (cpus().length > 1) assert.match(result.stderr, /^#\d+ CANCELED$/m); // the RUN beside it, stopped
  });

  it('points a Dockerfile syntax error at file:line', async () => {
    const ctx = fx.context('syntax', { Dockerfile: 'FROM busybox:local\nRUNN echo\n' });
    const result = await runStrata(['build', ctx], { root: fx.root });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /Dockerfile:2:\d+: .*RUNN/i);
    assert.match(result.stderr, /did you mean RUN/i);
  });

  it('copies symlinks as symlinks, keeps modes, applies --chown and --chmod, and honours .dockerignore', async () => {
    const ctx = fx.context('copy', {
      Dockerfile: [
        'FROM busybox:local',
        'COPY --chown=65534:65534 --chmod=0640 data/ /data/',
        'COPY ignored.txt* /maybe/',
        '',
      ].join('\n'),
      'data/a.txt': 'a',
      'data/sub/b.txt': 'b',
      'ignored.txt': 'secret',
      '.dockerignore': 'ignored.txt\n',
    });
    execFileSync('ln', ['-s', 'a.txt', join(ctx, 'data/link')]);
    const out = join(fx.work, 'out-copy');
    const result = await runStrata(['build', '-o', `type=local,dest=${out}`, '--progress', 'plain', ctx], {
      root: fx.root,
    });
    assert.equal(result.code, 0, result.stderr);
    const a = lstatSync(join(out, 'data/a.txt'));
    assert.equal(a.mode & 0o777, 0o640);
    assert.equal(a.uid, 65534);
    assert.equal(readlinkSync(join(out, 'data/link')), 'a.txt');
    assert.equal(readFileSync(join(out, 'data/sub/b.txt'), 'utf8'), 'b');
    assert.throws(() => lstatSync(join(out, 'maybe/ignored.txt')), /ENOENT/);
  });

  it('lets a later COPY source replace what an earlier one put in a directory it made, and keeps set-id bits', async () => {
    const ctx = fx.context('copy-overlap', {
      Dockerfile: 'FROM busybox:local\nCOPY a/ b/ /new/\n',
      'a/sub/same.txt': 'from a',
      'a/sub/only-a.txt': 'a',
      'b/sub/same.txt': 'from b',
      'a/tool': '#!/bin/sh\n',
    });
    chmodSync(join(ctx, 'a/tool'), 0o4755);
    chmodSync(join(ctx, 'b/sub/same.txt'), 0o600);
    for (const out of await buildLocalWithEachSnapshotter(ctx, 'copy-overlap')) {
      assert.equal(readFileSync(join(out, 'new/sub/same.txt'), 'utf8'), 'from b');
      assert.equal(lstatSync(join(out, 'new/sub/same.txt')).mode & 0o7777, 0o600);
      assert.equal(readFileSync(join(out, 'new/sub/only-a.txt'), 'utf8'), 'a');
      assert.equal(lstatSync(join(out, 'new/tool')).mode & 0o7777, 0o4755);
    }
  });

  it('never writes through a symlink an ADDed archive put where an earlier source wrote', async () => {
    const victims = join(fx.work, 'add-victims');
    execFileSync('mkdir', ['-p', join(victims, 'dir')]);
    writeFileSync(join(victims, 'file'), 'host file');
    const ctx = fx.context('add-overlap', {
      Dockerfile: 'FROM busybox:local\nADD d1/ evil.tar d2/ /out/\n',
      'd1/sub/keep': 'd1',
      'd2/sub/f': 'from d2',
    });
    // The archive turns out/sub/f, a place the copy had checked before extracting it, into a link
    // to a host file: the later source replaces the link (as fsutil's copier removes a file
    // target), never writes through it.
    const staging = join(fx.work, 'add-staging');
    execFileSync('mkdir', ['-p', join(staging, 'sub')]);
    execFileSync('ln', ['-s', join(victims, 'file'), join(staging, 'sub/f')]);
    execFileSync('tar', ['-cf', join(ctx, 'evil.tar'), '-C', staging, 'sub']);
    for (const out of await buildLocalWithEachSnapshotter(ctx, 'add-overlap')) {
      assert.equal(readFileSync(join(out, 'out/sub/f'), 'utf8'), 'from d2');
      assert.equal(readFileSync(join(victims, 'file'), 'utf8'), 'host file');
    }
    // A link to a host directory where a later source has a directory: BuildKit's error, and
    // nothing written there.
    const dirCtx = fx.context('add-overlap-dir', {
      Dockerfile: 'FROM busybox:local\nADD d1/ evil.tar d2/ /out/\n',
      'd1/sub2/keep': 'd1',
      'd2/sub2/g': 'from d2',
    });
    const dirStaging = join(fx.work, 'add-staging-dir');
    execFileSync('mkdir', ['-p', dirStaging]);
    execFileSync('ln', ['-s', join(victims, 'dir'), join(dirStaging, 'sub2')]);
    execFileSync('tar', ['-cf', join(dirCtx, 'evil.tar'), '-C', dirStaging, 'sub2']);
    await failsWithEachSnapshotter(dirCtx, /cannot copy to non-directory: \/out\/sub2/);
    assert.deepEqual(readdirSync(join(victims, 'dir')), []);
  });

  it('never writes or links through a symlink that a COPY source put where a later one has a directory', async () => {
    const outside = join(fx.work, 'outside-target');
    // two/sub is a symlink to a host directory, relative and deep enough to leave the rootfs if
    // the kernel followed it from /dst; one/ and three/ have a directory sub/ with files.
    const ctx = fx.context('copy-replace', {
      Dockerfile: 'FROM busybox:local\nCOPY one/ two/ three/ /dst/\n',
      'one/sub/first.txt': 'first',
      'three/sub/third.txt': 'third',
    });
    execFileSync('mkdir', ['-p', join(ctx, 'two'), outside]);
    writeFileSync(join(outside, 'first.txt'), 'host secret');
    execFileSync('ln', ['-s', `../../../../../../../../..${outside}`, join(ctx, 'two/sub')]);
    // As BuildKit: the link cannot replace the directory one/ made…
    await failsWithEachSnapshotter(ctx, /cannot replace to directory \/dst\/sub with file/);
    // …and when it comes first, three/'s directory cannot be copied onto it (nothing below a
    // destination is followed). Both snapshotters: through overlayfs a write out of the mount
    // fails anyway; the native one writes to a plain directory, where it would succeed.
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox:local\nCOPY two/ three/ /dst/\n');
    await failsWithEachSnapshotter(ctx, /cannot copy to non-directory: \/dst\/sub/);
    assert.deepEqual(readdirSync(outside), ['first.txt']);
    assert.equal(readFileSync(join(outside, 'first.txt'), 'utf8'), 'host secret');
  });

  it('compresses layers as --output compression=, compression-level= and force-compression= ask', async () => {
    const ctx = fx.context('compression', {
      Dockerfile: 'FROM busybox:local\nRUN head -c 200000 /dev/zero > /zeros\n',
    });
    const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
    const ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
    const TAR = 'application/vnd.oci.image.layer.v1.tar';
    const build = async (tag: string, ...output: string[]) => {
      const args = ['build', '-t', tag, '--progress', 'plain', ...output.flatMap((o) => ['-o', o]), ctx];
      const result = await runStrata(args, { root: fx.root });
      assert.equal(result.code, 0, result.stderr);
      return storedImage(fx.root, tag);
    };
    const mediaTypes = (image: ReturnType<typeof storedImage>) =>
      image.manifest.layers.map((l) => l.mediaType);

    const gzip = await build('comp:gzip');
    assert.deepEqual(mediaTypes(gzip), [GZIP, GZIP]);
    // The layer this build made is converted; the base image's stays as it came.
    const zstd = await build('comp:zstd', 'type=image,compression=zstd,compression-level=5');
    assert.deepEqual(mediaTypes(zstd), [GZIP, ZSTD]);
    const zstdBlob = join(fx.root, 'blobs/sha256', zstd.manifest.layers[1]!.digest.slice(7));
    const listing = execFileSync('sh', ['-c', `zstd -dc '${zstdBlob}' | tar -t`], { encoding: 'utf8' });
    assert.match(listing, /^zeros$/m);
    const forced = await build('comp:forced', 'type=image,compression=zstd,force-compression=true');
    assert.deepEqual(mediaTypes(forced), [ZSTD, ZSTD]);
    const plain = await build('comp:plain', 'type=image,compression=uncompressed');
    assert.deepEqual(mediaTypes(plain), [GZIP, TAR]);
    // Different bytes, the same filesystem.
    for (const image of [zstd, forced, plain]) assert.deepEqual(image.config.rootfs, gzip.config.rootfs);
    // Back to the default: the layer is gzip again.
    assert.deepEqual(mediaTypes(await build('comp:gzip2')), [GZIP, GZIP]);

    const refused = async (output: string[], message: RegExp) => {
      const result = await runStrata(['build', ...output.flatMap((o) => ['-o', o]), ctx], { root: fx.root });
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, message);
    };
    await refused(['type=image,compression=lz4'], /compression=lz4 is not supported/);
    await refused(
      ['type=image,compression=gzip,compression-level=12'],
      /compression-level=12 is not a gzip level/,
    );
    await refused(['type=image,force-compression=yes'], /force-compression=yes: use true or false/);
    await refused(
      ['type=image,compression=zstd', `type=oci,dest=${join(fx.work, 'c.tar')},compression=gzip`],
      /ask for different layer compression/,
    );
  });

  it("runs a stage's steps before its COPY --from while the stage it copies from still builds", async () => {
    const ctx = fx.context('overlap', {
      Dockerfile: [
        'FROM busybox:local AS slow',
        'RUN sleep 1 && echo built > /artifact',
        'FROM busybox:local',
        'RUN sleep 1 && echo prepared > /prepared',
        'COPY --from=slow /artifact /artifact',
        '',
      ].join('\n'),
    });
    const result = await runStrata(['build', '--no-cache', '--progress', 'json', ctx], { root: fx.root });
    assert.equal(result.code, 0, result.stderr);
    const events = progressEvents(result.stderr);
    const started = new Map(events.filter((e) => e.type === 'step-started').map((e) => [e.name!, e]));
    const at = (type: string, name: string) => {
      const step = started.get(name)!.step;
      return events.find((e) => e.type === type && e.step === step)!.at;
    };
    const builder = 'RUN sleep 1 && echo built > /artifact';
    const prepare = 'RUN sleep 1 && echo prepared > /prepared';
    const copy = 'COPY --from=slow /artifact /artifact';
    // The copy waits for the builder; the RUN before it does not.
    assert.ok(at('step-started', copy) >= at('step-finished', builder));
    if (cpus().length > 1) assert.ok(at('step-started', prepare) < at('step-finished', builder));
    else assert.ok(at('step-started', prepare) >= at('step-finished', builder)); // one slot: in turn
  });

  it('keeps RUN --mount=type=cache contents between builds (shared, locked, private, seeded from a stage) and out of the layers', async () => {
    const ctx = fx.context('cachemount', {
      Dockerfile: [
        'FROM busybox:local AS seed',
        'RUN mkdir -p /seed && echo seeded > /seed/origin',
        'FROM busybox:local',
        'ARG RUN_ID',
        'RUN --mount=type=cache,target=/var/cache/app,id=app-cache echo "$RUN_ID" >> /var/cache/app/runs && cat /var/cache/app/runs > /runs',
        'RUN --mount=type=cache,target=/c2,sharing=locked,from=seed,source=/seed cat /c2/origin > /origin',
        'RUN --mount=type=cache,target=/c3,sharing=private touch /c3/x && ls /c3 > /private',
        '',
      ].join('\n'),
    });
    for (const id of ['one', 'two']) {
      const r = await runStrata(
        [
          'build',
          '--no-cache',
          '--build-arg',
          `RUN_ID=${id}`,
          '-t',
          'cachemount:1',
          '--progress',
          'plain',
          ctx,
        ],
        { root: fx.root },
      );
      assert.equal(r.code, 0, r.stderr);
    }
    const out = join(fx.work, 'out-cachemount');
    const r = await runStrata(
      ['build', '--build-arg', 'RUN_ID=two', '-o', `type=local,dest=${out}`, '--progress', 'quiet', ctx],
      { root: fx.root },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(out, 'runs'), 'utf8'), 'one\ntwo\n');
    assert.equal(readFileSync(join(out, 'origin'), 'utf8'), 'seeded\n');
    assert.equal(readFileSync(join(out, 'private'), 'utf8'), 'x\n');
    const { manifest } = storedImage(fx.root, 'cachemount:1');
    for (const layer of manifest.layers.slice(1)) {
      assert.ok(
        !layerListing(fx.root, layer.digest).some(
          (p) => p.startsWith('var/cache/app/') || p.startsWith('c2/'),
        ),
        'cache contents never land in a layer',
      );
    }
  });

  it('gives RUN a secret as a file, as a variable (env=), or both (env= and target=), never in the image', async () => {
    const ctx = fx.context('secrets', {
      Dockerfile: [
        'FROM busybox:local',
        'ENV TOKEN=from-env',
        'RUN --mount=type=secret,id=tok cat /run/secrets/tok > /file',
        'RUN --mount=type=secret,id=tok,env=TOKEN sh -c \'echo "$TOKEN"; test -e /run/secrets/tok && echo file || echo no-file\' > /env-only',
        'RUN --mount=type=secret,id=tok,env=TOKEN,target=/t echo "$TOKEN $(cat /t)" > /both',
        'RUN echo "$TOKEN" > /after',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, not a template
        'RUN --mount=type=secret,id=absent,env=GONE echo "${GONE-unset}" > /optional',
        'FROM scratch',
        'COPY --from=0 /file /env-only /both /after /optional /',
      ].join('\n'),
    });
    writeFileSync(join(fx.work, 'token'), 's3cr3t');
    const out = join(fx.work, 'out-secrets');
    const result = await runStrata(
      ['build', '--secret', `id=tok,src=${join(fx.work, 'token')}`, '-o', `type=local,dest=${out}`, ctx],
      { root: fx.root },
    );
    assert.equal(result.code, 0, result.stderr);
    const read = (name: string) => readFileSync(join(out, name), 'utf8');
    assert.equal(read('file'), 's3cr3t');
    assert.equal(read('env-only'), 's3cr3t\nno-file\n');
    assert.equal(read('both'), 's3cr3t s3cr3t\n');
    assert.equal(read('after'), 'from-env\n');
    assert.equal(read('optional'), 'unset\n');
    const missing = fx.context('secret-required', {
      Dockerfile: 'FROM busybox:local\nRUN --mount=type=secret,id=absent,env=X,required true\n',
    });
    const failed = await runStrata(['build', missing], { root: fx.root });
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /secret absent is required/);
  });

  it('runs heredoc RUN scripts (shell and #! interpreter) and writes COPY heredocs', async () => {
    const ctx = fx.context('heredoc', {
      Dockerfile: [
        'FROM busybox:local',
        'RUN <<EOF',
        'echo heredoc > /h1',
        'echo second line >> /h1',
        'EOF',
        'RUN <<EOF',
        '#!/bin/sh',
        'echo "script $0" > /h2',
        'EOF',
        'COPY <<EOF /etc/h3.conf',
        'inline content',
        'EOF',
        '',
      ].join('\n'),
    });
    const out = join(fx.work, 'out-heredoc');
    const r = await runStrata(['build', '-o', `type=local,dest=${out}`, '--progress', 'plain', ctx], {
      root: fx.root,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(out, 'h1'), 'utf8'), 'heredoc\nsecond line\n');
    assert.equal(readFileSync(join(out, 'h2'), 'utf8'), 'script /dev/pipes/EOF\n');
    assert.equal(readFileSync(join(out, 'etc/h3.conf'), 'utf8'), 'inline content\n');
    assert.throws(
      () => lstatSync(join(out, 'dev/pipes')),
      /ENOENT/,
      'the script mount leaves nothing behind',
    );
  });

  it('runs the ONBUILD triggers of a base image first, and the new image carries none', async () => {
    const parent = fx.context('onbuild-parent', {
      Dockerfile: [
        'FROM busybox:local',
        'ONBUILD COPY marker.txt /from-trigger.txt',
        'ONBUILD RUN echo triggered > /ran',
        '',
      ].join('\n'),
    });
    assert.equal(
      (await runStrata(['build', '-t', 'onbuild-parent:1', '--progress', 'quiet', parent], { root: fx.root }))
        .code,
      0,
    );
    const child = fx.context('onbuild-child', {
      Dockerfile: 'FROM onbuild-parent:1\nRUN cat /ran /from-trigger.txt > /both\n',
      'marker.txt': 'marker\n',
    });
    const out = join(fx.work, 'out-onbuild');
    const r = await runStrata(
      ['build', '-t', 'onbuild-child:1', '-o', `type=local,dest=${out}`, '--progress', 'plain', child],
      { root: fx.root },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /ONBUILD RUN echo triggered/);
    assert.equal(readFileSync(join(out, 'both'), 'utf8'), 'triggered\nmarker\n');
    const { config } = storedImage(fx.root, 'onbuild-child:1');
    assert.equal(config.config?.OnBuild, undefined);
  });

  it('ADDs a URL (following a redirect), checks --checksum, and re-runs when the content changes', async () => {
    let body = 'downloaded v1\n';
    const server = createServer((req, res) => {
      if (req.url === '/redirect') {
        res.writeHead(302, { location: '/file.txt' }).end();
        return;
      }
      if (req.url === '/file.txt') res.writeHead(200).end(body);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const sum = `sha256:${createHash('sha256').update(body).digest('hex')}`;
      const ctx = fx.context('addurl', {
        Dockerfile: [
          'FROM busybox:local',
          `ADD http://127.0.0.1:${port}/redirect /dl/`,
          `ADD --checksum=${sum} http://127.0.0.1:${port}/file.txt /checked.txt`,
          '',
        ].join('\n'),
      });
      const out = join(fx.work, 'out-addurl');
      const r = await runStrata(['build', '-o', `type=local,dest=${out}`, '--progress', 'plain', ctx], {
        root: fx.root,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(readFileSync(join(out, 'dl/redirect'), 'utf8'), 'downloaded v1\n');
      assert.equal(lstatSync(join(out, 'dl/redirect')).mode & 0o777, 0o600);
      assert.equal(readFileSync(join(out, 'checked.txt'), 'utf8'), 'downloaded v1\n');
      body = 'downloaded v2\n';
      const bad = await runStrata(['build', '--progress', 'plain', ctx], { root: fx.root });
      assert.equal(bad.code, 1, 'the second ADD no longer matches its --checksum');
      assert.match(bad.stderr, /checksum mismatch/);
    } finally {
      server.close();
    }
  });

  it('writes type=oci (tar and directory) that skopeo reads, type=docker, and type=tar', async () => {
    const ctx = fx.context('outputs', { Dockerfile: 'FROM busybox:local\nRUN echo out > /out.txt\n' });
    const ociTar = join(fx.work, 'image-oci.tar');
    const ociDir = join(fx.work, 'image-oci');
    const dockerTar = join(fx.work, 'image-docker.tar');
    const rootfsTar = join(fx.work, 'rootfs.tar');
    const r = await runStrata(
      [
        'build',
        '-t',
        'outputs:1',
        '--progress',
        'quiet',
        '-o',
        `type=oci,dest=${ociTar}`,
        '-o',
        `type=oci,dest=${ociDir},tar=false`,
        '-o',
        `type=docker,dest=${dockerTar}`,
        '-o',
        `type=tar,dest=${rootfsTar}`,
        ctx,
      ],
      { root: fx.root },
    );
    assert.equal(r.code, 0, r.stderr);
    const fromTar = JSON.parse(
      execFileSync('skopeo', ['inspect', `oci-archive:${ociTar}`], { encoding: 'utf8' }),
    );
    const fromDir = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${ociDir}`], { encoding: 'utf8' }));
    const fromDocker = JSON.parse(
      execFileSync('skopeo', ['inspect', `docker-archive:${dockerTar}`], { encoding: 'utf8' }),
    );
    const { manifest } = storedImage(fx.root, 'outputs:1');
    assert.equal(fromTar.Layers.length, manifest.layers.length);
    assert.deepEqual(fromDir.Layers, fromTar.Layers);
    assert.equal(fromDocker.Layers.length, manifest.layers.length);
    assert.match(execFileSync('tar', ['-tf', rootfsTar], { encoding: 'utf8' }), /^out\.txt$/m);
    assert.match(execFileSync('tar', ['-tf', rootfsTar], { encoding: 'utf8' }), /^bin\/busybox$/m);
  });
});
