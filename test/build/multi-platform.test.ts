import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { runStrata } from '../support/cli.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

function skopeo(...args: string[]): string {
  return execFileSync('skopeo', ['--insecure-policy', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * The cross-compile pattern: a builder stage on the build platform whose first RUN does not read
 * the target (so it is the same step for every target: /stamp is random, and equal in both images
 * only if it ran once) and whose second RUN writes a TARGETARCH-dependent file; the target stage,
 * FROM scratch, runs nothing on the target platform.
 */
const CROSS = `FROM --platform=$BUILDPLATFORM busybox:local AS builder
RUN cat /proc/sys/kernel/random/uuid > /stamp
ARG TARGETARCH
RUN echo "built for $TARGETARCH" > /out
FROM scratch
COPY --from=builder /out /stamp /
COPY hello.txt /
`;

interface Metadata {
  readonly 'containerimage.digest': string;
  readonly 'containerimage.config.digest'?: string;
  readonly 'containerimage.descriptor': { mediaType: string; digest: string; size: number };
  readonly 'strata.cache': { cachedSteps: string[]; executedSteps: string[] };
}

describe('multi-platform builds (--platform a,b)', () => {
  let fx: BuildFixture;
  let registry: TestRegistry;
  before(async () => {
    fx = await buildFixture('strata-mp-');
    registry = await startRegistry();
  });
  after(async () => {
    await registry?.stop();
    fx?.cleanup();
  });

  const build = (args: readonly string[], ctx: string) =>
    runStrata(['build', '--progress=plain', ...args, ctx], { root: fx.root, timeoutMs: 300_000 });

  it('builds an index with one manifest per platform, runs the $BUILDPLATFORM step once, and pushes it', async () => {
    const ctx = fx.context('cross', { Dockerfile: CROSS, 'hello.txt': 'hello\n' });
    const ref = `${registry.host}/mp/cross:1`;
    const out = join(fx.work, 'cross-out');
    const meta = join(fx.work, 'cross-meta.json');
    const built = await build(
      [
        '--platform',
        'linux/amd64,linux/arm64/v8',
        '-t',
        ref,
        '--push',
        '-o',
        `type=local,dest=${out}`,
        '--metadata-file',
        meta,
      ],
      ctx,
    );
    assert.equal(built.code, 0, built.stderr);
    // Progress names each platform, as buildx does; the builder stage runs on amd64 for arm64.
    assert.match(built.stderr, /\[linux\/amd64 builder 2\/3\] RUN cat/);
    assert.match(built.stderr, /\[linux\/amd64->arm64 builder 3\/3\] RUN echo/);
    assert.match(built.stderr, /\[linux\/arm64 stage-1 1\/2\] COPY --from=builder/);

    // type=local of several platforms: one directory per platform, named as BuildKit names them.
    assert.deepEqual(readdirSync(out).sort(), ['linux_amd64', 'linux_arm64']);
    const file = (platform: string, name: string) => readFileSync(join(out, platform, name), 'utf8');
    assert.equal(file('linux_amd64', 'out'), 'built for amd64\n');
    assert.equal(file('linux_arm64', 'out'), 'built for arm64\n');
    assert.equal(file('linux_arm64', 'hello.txt'), 'hello\n');
    // The target-independent RUN ran once: both images hold the same random stamp.
    assert.equal(file('linux_amd64', 'stamp'), file('linux_arm64', 'stamp'));

    const metadata = JSON.parse(readFileSync(meta, 'utf8')) as Metadata;
    const executed = metadata['strata.cache'].executedSteps;
    assert.equal(executed.filter((s) => s.endsWith('0/0')).length, 1, `stamp RUN ran once: ${executed}`);
    assert.equal(
      executed.filter((s) => s.endsWith('0/2')).length,
      2,
      `TARGETARCH RUN ran per target: ${executed}`,
    );

    // The registry holds an OCI index with both manifests, each with its platform.
    const raw = JSON.parse(skopeo('inspect', '--tls-verify=false', '--raw', `docker://${ref}`));
    assert.equal(raw.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.deepEqual(
      raw.manifests.map((m: { platform: { os: string; architecture: string }; mediaType: string }) => [
        m.platform.os,
        m.platform.architecture,
        m.mediaType,
      ]),
      [
        ['linux', 'amd64', 'application/vnd.oci.image.manifest.v1+json'],
        ['linux', 'arm64', 'application/vnd.oci.image.manifest.v1+json'],
      ],
    );
    for (const arch of ['amd64', 'arm64']) {
      const config = JSON.parse(
        skopeo('inspect', '--tls-verify=false', '--override-arch', arch, '--config', `docker://${ref}`),
      );
      assert.equal(config.architecture, arch);
      assert.equal(config.os, 'linux');
    }
    // skopeo copies the whole index out of the registry.
    const layout = join(fx.work, 'cross-layout');
    skopeo('copy', '--all', '--src-tls-verify=false', `docker://${ref}`, `oci:${layout}:v1`);
    const copied = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    assert.equal(copied.manifests[0].mediaType, 'application/vnd.oci.image.index.v1+json');

    // The index digest is the image's ID and containerimage.digest, as buildx writes them.
    assert.equal(metadata['containerimage.digest'], copied.manifests[0].digest);
    assert.equal(metadata['containerimage.descriptor'].mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.equal(metadata['containerimage.config.digest'], undefined);

    // The store names the index: images lists it, inspect picks a platform's image from it.
    const images = await runStrata(['images'], { root: fx.root });
    assert.equal(images.code, 0, images.stderr);
    assert.match(images.stdout, /mp\/cross/);
    const inspected = await runStrata(['inspect', '--json', '--platform', 'linux/arm64', ref], {
      root: fx.root,
    });
    assert.equal(inspected.code, 0, inspected.stderr);
    const shown = JSON.parse(inspected.stdout);
    assert.equal(shown.digest, metadata['containerimage.digest']);
    assert.deepEqual(
      shown.platforms.map((p: { platform: string }) => p.platform),
      ['linux/amd64', 'linux/arm64'],
    );
    assert.equal(shown.config.platform, 'linux/arm64');
  });

  it('serves every step of every platform from the cache on a rebuild', async () => {
    const ctx = fx.context('cross', { Dockerfile: CROSS, 'hello.txt': 'hello\n' });
    const meta = join(fx.work, 'rebuild-meta.json');
    const iid = join(fx.work, 'rebuild-iid');
    const again = await build(
      ['--platform', 'linux/arm64,linux/amd64', '--metadata-file', meta, '--iidfile', iid],
      ctx,
    );
    assert.equal(again.code, 0, again.stderr);
    const metadata = JSON.parse(readFileSync(meta, 'utf8')) as Metadata;
    // The image ID of an index is its digest (it has no config), as buildx writes it.
    assert.equal(readFileSync(iid, 'utf8'), metadata['containerimage.digest']);
    const cache = metadata['strata.cache'];
    // -q prints the image ID: the index's digest, which the store names.
    const quiet = await runStrata(
      ['build', '-q', '-t', 'mp/quiet:1', '--platform', 'linux/arm64,linux/amd64', ctx],
      { root: fx.root },
    );
    assert.equal(quiet.code, 0, quiet.stderr);
    const named = await runStrata(['inspect', '--json', 'mp/quiet:1'], { root: fx.root });
    assert.equal(named.code, 0, named.stderr);
    assert.equal(quiet.stdout, `${JSON.parse(named.stdout).digest}\n`);
    assert.deepEqual(cache.executedSteps, []);
    for (const platform of ['linux/amd64', 'linux/arm64'])
      assert.ok(
        cache.cachedSteps.some((s) => s.startsWith(`${platform} 1/`)),
        `${platform}'s own COPY steps hit: ${cache.cachedSteps}`,
      );
  });

  it('picks each platform from a base index and writes a Docker manifest list with oci-mediatypes=false', async () => {
    const ctx = fx.context('from-index', {
      Dockerfile: `FROM ${registry.host}/mp/cross:1\nENV ON=$TARGETARCH\nCOPY extra.txt /\n`,
      'extra.txt': 'extra\n',
    });
    const out = join(fx.work, 'from-index-out');
    const ref = `${registry.host}/mp/docker-types:1`;
    const built = await build(
      [
        '--platform',
        'linux/arm64',
        '--platform',
        'linux/amd64',
        '-o',
        `type=registry,name=${ref},oci-mediatypes=false`,
        '-o',
        `type=local,dest=${out}`,
      ],
      ctx,
    );
    assert.equal(built.code, 0, built.stderr);
    for (const platform of ['linux/amd64', 'linux/arm64'])
      assert.match(
        built.stderr,
        new RegExp(`\\[${platform} internal\\] load metadata for ${registry.host}/mp/cross:1`),
      );
    assert.equal(readFileSync(join(out, 'linux_arm64', 'out'), 'utf8'), 'built for arm64\n');
    assert.equal(readFileSync(join(out, 'linux_amd64', 'out'), 'utf8'), 'built for amd64\n');
    assert.equal(readFileSync(join(out, 'linux_amd64', 'extra.txt'), 'utf8'), 'extra\n');
    assert.doesNotMatch(built.stderr, /InvalidBaseImagePlatform/);
    const raw = JSON.parse(skopeo('inspect', '--tls-verify=false', '--raw', `docker://${ref}`));
    assert.equal(raw.mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json');
    assert.deepEqual(
      raw.manifests.map((m: { platform: { architecture: string }; mediaType: string }) => [
        m.platform.architecture,
        m.mediaType,
      ]),
      [
        ['arm64', 'application/vnd.docker.distribution.manifest.v2+json'],
        ['amd64', 'application/vnd.docker.distribution.manifest.v2+json'],
      ],
    );
  });

  it('writes the index into an OCI layout that skopeo reads', async () => {
    const ctx = fx.context('scratch', {
      Dockerfile: 'FROM scratch\nARG TARGETPLATFORM\nENV PLATFORM=$TARGETPLATFORM\nCOPY hello.txt /\n',
      'hello.txt': 'hi\n',
    });
    const layout = join(fx.work, 'scratch-layout');
    const built = await build(
      [
        '--platform',
        'linux/amd64,linux/arm/v7',
        '--annotation',
        'index:org.opencontainers.image.title=both',
        '--annotation',
        'manifest[linux/arm/v7]:only=arm',
        '-o',
        `type=oci,tar=false,dest=${layout},annotation-manifest-descriptor.described=yes`,
      ],
      ctx,
    );
    assert.equal(built.code, 0, built.stderr);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    assert.equal(index.manifests.length, 1);
    assert.equal(index.manifests[0].mediaType, 'application/vnd.oci.image.index.v1+json');
    const blob = (digest: string) =>
      JSON.parse(readFileSync(join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length)), 'utf8'));
    const inner = blob(index.manifests[0].digest);
    assert.deepEqual(inner.annotations, { 'org.opencontainers.image.title': 'both' });
    assert.deepEqual(
      inner.manifests.map((m: { platform: { architecture: string }; annotations: object }) => [
        m.platform.architecture,
        m.annotations,
      ]),
      [
        ['amd64', { described: 'yes' }],
        ['arm', { described: 'yes' }],
      ],
    );
    assert.equal(blob(inner.manifests[0].digest).annotations, undefined);
    assert.deepEqual(blob(inner.manifests[1].digest).annotations, { only: 'arm' });
    for (const [arch, variant, env] of [
      ['amd64', '', 'linux/amd64'],
      ['arm', 'v7', 'linux/arm/v7'],
    ] as const) {
      const config = JSON.parse(
        skopeo(
          'inspect',
          '--override-arch',
          arch,
          ...(variant ? ['--override-variant', variant] : []),
          '--config',
          `oci:${layout}`,
        ),
      );
      assert.equal(config.architecture, arch);
      assert.ok(config.config.Env.includes(`PLATFORM=${env}`), JSON.stringify(config.config.Env));
    }
  });

  it('refuses type=docker and --load of several platforms before building, naming the fix', async () => {
    const ctx = fx.context('refused', { Dockerfile: 'FROM scratch\nCOPY hello.txt /\n', 'hello.txt': 'x\n' });
    for (const args of [['--load'], ['-o', `type=docker,dest=${join(fx.work, 'refused.tar')}`]]) {
      const refused = await build(['--platform', 'linux/amd64,linux/arm64', ...args], ctx);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(
        refused.stderr,
        /cannot export a multi-platform image \(--platform linux\/amd64,linux\/arm64\)/,
      );
      assert.match(refused.stderr, /--platform linux\/amd64\b.*-o type=oci/);
      assert.doesNotMatch(refused.stderr, /#\d+ /, 'nothing was built');
    }
    assert.equal(existsSync(join(fx.work, 'refused.tar')), false);
  });

  it('merges platforms into one directory with platform-split=false, refusing files two platforms both have', async () => {
    const ctx = fx.context('split', { Dockerfile: 'FROM scratch\nCOPY hello.txt /\n', 'hello.txt': 'x\n' });
    const out = join(fx.work, 'split-out');
    const refused = await build(
      ['--platform', 'linux/amd64,linux/arm64', '-o', `type=local,dest=${out},platform-split=false`],
      ctx,
    );
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(
      refused.stderr,
      /cannot overwrite hello\.txt from linux\/amd64 with linux\/arm64 when split option is disabled/,
    );
    const tarOut = join(fx.work, 'split.tar');
    const tarred = await build(
      ['--platform', 'linux/amd64,linux/arm64', '-o', `type=tar,dest=${tarOut}`],
      ctx,
    );
    assert.equal(tarred.code, 0, tarred.stderr);
    const listing = execFileSync('tar', ['-tf', tarOut], { encoding: 'utf8' });
    assert.match(listing, /^linux_amd64\/hello\.txt$/m);
    assert.match(listing, /^linux_arm64\/hello\.txt$/m);
  });

  it('fails the build when one platform fails, stopping the others and leaving nothing mounted', async () => {
    const ctx = fx.context('one-fails', {
      Dockerfile: `FROM --platform=$BUILDPLATFORM busybox:local AS builder
ARG TARGETARCH
RUN if [ "$TARGETARCH" = arm64 ]; then echo "no arm64 here" >&2; exit 3; fi; sleep 5; echo ok > /ok
FROM scratch
COPY --from=builder /ok /
`,
    });
    const failed = await build(['--platform', 'linux/amd64,linux/arm64'], ctx);
    assert.equal(failed.code, 1, failed.stderr);
    const error = failed.stderr.split('\n').find((l) => l.startsWith('error: '));
    assert.match(
      error ?? '',
      /building stage "builder" \(linux\/amd64->arm64\): step 2\/2: RUN failed with exit code 3/,
    );
    assert.match(failed.stderr, /no arm64 here/);
    // The amd64 RUN was stopped, not left to finish, and reported as canceled.
    assert.match(failed.stderr, /CANCELED/);
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
    assert.equal(mounts.includes(fx.root), false, 'no mount left under the store');
  });

  it('exports one cache for every platform (--cache-to) that a fresh store builds both platforms from', async () => {
    const ctx = fx.context('cache-to', { Dockerfile: CROSS, 'hello.txt': 'cache me\n' });
    const cacheDir = join(fx.work, 'mp-cache');
    const first = await build(
      ['--platform', 'linux/amd64,linux/arm64', '--cache-to', `type=local,dest=${cacheDir},mode=max`],
      ctx,
    );
    assert.equal(first.code, 0, first.stderr);
    const other = await buildFixture('strata-mp-fresh-');
    try {
      const meta = join(other.work, 'meta.json');
      const fresh = await runStrata(
        [
          'build',
          '--platform',
          'linux/amd64,linux/arm64',
          '--cache-from',
          `type=local,src=${cacheDir}`,
          '--metadata-file',
          meta,
          ctx,
        ],
        { root: other.root, timeoutMs: 300_000 },
      );
      assert.equal(fresh.code, 0, fresh.stderr);
      const cache = (JSON.parse(readFileSync(meta, 'utf8')) as Metadata)['strata.cache'];
      assert.deepEqual(cache.executedSteps, []);
      assert.equal(cache.cachedSteps.filter((s) => s.endsWith(' 0/2')).length, 2, `${cache.cachedSteps}`);
    } finally {
      other.cleanup();
    }
  });

  it('warns InvalidBaseImagePlatform for the platform a base lacks, once', async () => {
    const ctx = fx.context('base-platform', {
      Dockerfile: 'FROM busybox:local\nCOPY hello.txt /\n',
      'hello.txt': 'x\n',
    });
    const built = await build(['--platform', 'linux/amd64,linux/arm64'], ctx);
    assert.equal(built.code, 0, built.stderr);
    const warnings = built.stderr.split('\n').filter((l) => l.includes('InvalidBaseImagePlatform'));
    assert.equal(warnings.length, 1, built.stderr);
    assert.match(warnings[0]!, /expected "linux\/arm64"/);
  });

  it('keeps a single platform a plain manifest, as buildx does', async () => {
    const ctx = fx.context('single', { Dockerfile: 'FROM scratch\nCOPY hello.txt /\n', 'hello.txt': 'x\n' });
    const layout = join(fx.work, 'single-layout');
    const built = await build(
      ['--platform', 'linux/arm64,linux/arm64/v8', '-o', `type=oci,tar=false,dest=${layout}`],
      ctx,
    );
    assert.equal(built.code, 0, built.stderr);
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    assert.equal(index.manifests[0].mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.doesNotMatch(built.stderr, /\[linux\//);
  });
});
