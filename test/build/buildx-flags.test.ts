import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  checkAttestations,
  parseCacheExport,
  parseCacheLocation,
  parseOutput,
  parsePlatforms,
} from '../../src/cli/build-flags.ts';
import { buildOutputs, parseAnnotationFlag, toBuildOutput } from '../../src/cli/output-attributes.ts';
import { formatPlatform } from '../../src/oci/index.ts';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { runStrata } from '../support/cli.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

const none = { tags: [], annotations: [] };

/** The error message (and hint) a parse throws. */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    const e = error as Error & { hint?: string };
    return `${e.message}${e.hint ? ` (${e.hint})` : ''}`;
  }
  assert.fail('expected an error');
}

describe('--output attributes as buildx and BuildKit take them', () => {
  it('refuses an attribute the output type does not have, listing the ones it has', () => {
    const message = errorOf(() => toBuildOutput(parseOutput('type=image,bogus=1'), none));
    assert.match(message, /^--output type=image: unknown attribute "bogus" \(type=image takes: /);
    for (const key of ['name', 'push', 'oci-mediatypes', 'compression', 'annotation.*', 'store'])
      assert.ok(message.includes(key), `${key} listed: ${message}`);
    assert.match(
      errorOf(() => toBuildOutput(parseOutput('type=local,dest=out,name=x'), none)),
      /type=local: unknown attribute "name" \(type=local takes: attestation-prefix, dest, mode, platform-split, source-date-epoch\)/,
    );
    assert.match(
      errorOf(() => toBuildOutput(parseOutput('type=cacheonly,dest=x'), none)),
      /type=cacheonly: unknown attribute "dest" \(type=cacheonly takes no attributes\)/,
    );
    assert.match(
      errorOf(() => toBuildOutput(parseOutput('type=tar,dest=x,annotation.a=b'), none)),
      /type=tar: unknown attribute "annotation.a"/,
    );
  });

  it('refuses the attributes strata does not implement, by name, and accepts their default values', () => {
    const table: [string, RegExp][] = [
      ['type=image,push-by-digest=true', /push-by-digest=true is not supported/],
      ['type=image,unpack=true', /unpack=true is not supported/],
      ['type=registry,prefer-nondist-layers=true', /prefer-nondist-layers=true is not supported/],
      ['type=docker,dest=x,tar=false', /tar=false is not supported \(type=docker writes an archive/],
      ['type=local,dest=x,mode=delete', /mode=delete is not supported/],
      ['type=image,source-date-epoch=1', /source-date-epoch is not supported \(set SOURCE_DATE_EPOCH/],
      ['type=image,push=maybe', /non-bool value "maybe" for push/],
      [
        'type=image,oci-mediatypes=false,compression=zstd',
        /"compression=zstd" conflicts with "oci-mediatypes=false"/,
      ],
      ['type=image,annotation-bogus.k=v', /unrecognized annotation type bogus/],
    ];
    for (const [text, expected] of table)
      assert.match(
        errorOf(() => toBuildOutput(parseOutput(text), none)),
        expected,
        text,
      );
    for (const text of [
      'type=image,unpack=false',
      'type=image,push-by-digest=false',
      'type=oci,dest=x,oci-artifact=true',
    ])
      assert.doesNotThrow(() => toBuildOutput(parseOutput(text), none), text);
  });

  it('reads several names from a quoted name=, lets -t replace them, and makes type=registry push', () => {
    const quoted = toBuildOutput(parseOutput('type=image,"name=r/a:1,r/b:2",push=true'), none);
    assert.deepEqual(quoted.type === 'image' && [quoted.names, quoted.push, quoted.store], [
      ['r/a:1', 'r/b:2'],
      true,
      true,
    ]);
    // buildx fills name= of image, oci and docker outputs from -t.
    const tagged = toBuildOutput(parseOutput('type=image,name=ignored'), { tags: ['t:1'], annotations: [] });
    assert.deepEqual(tagged.type === 'image' && tagged.names, ['t:1']);
    const registry = toBuildOutput(parseOutput('type=registry,store=false'), {
      tags: ['t:1'],
      annotations: [],
    });
    assert.deepEqual(registry.type === 'image' && [registry.push, registry.store], [true, false]);
    // An unquoted comma starts a new key=value field, as in buildx.
    assert.match(
      errorOf(() => parseOutput('type=image,name=r/a,r/b')),
      /expected key=value pairs/,
    );
  });

  it('adds the implicit store image only when no image output or cacheonly was asked for', () => {
    const types = (texts: string[]) => buildOutputs(texts.map(parseOutput), none).map((o) => o.type);
    assert.deepEqual(types(['type=local,dest=x']), ['image', 'local']);
    assert.deepEqual(types(['type=cacheonly']), ['cacheonly']);
    assert.deepEqual(types(['type=image,push=true']), ['image']);
    assert.deepEqual(types([]), ['image']);
  });

  it('parses annotations from attributes and from --annotation, with types and platforms', () => {
    const output = toBuildOutput(
      parseOutput('type=oci,dest=x,annotation.a=1,annotation-manifest[linux/arm64].b=2,annotation-index.c=3'),
      { tags: [], annotations: parseAnnotationFlag('manifest,index:d=4') },
    );
    assert.ok(output.type === 'oci');
    assert.deepEqual(
      output.manifest.annotations.map((a) => [a.on, a.key, a.value, a.platform?.architecture]),
      [
        ['manifest', 'a', '1', undefined],
        ['manifest', 'b', '2', 'arm64'],
        ['index', 'c', '3', undefined],
        ['manifest', 'd', '4', undefined],
        ['index', 'd', '4', undefined],
      ],
    );
    assert.match(
      errorOf(() => parseAnnotationFlag('nokey')),
      /expected key=value/,
    );
    assert.match(
      errorOf(() => parseAnnotationFlag('bogus:k=v')),
      /unknown --annotation type "bogus"/,
    );
  });

  it('reads every --platform, comma-separated or repeated, normalised and once each', () => {
    const formatted = (values: string[]) => parsePlatforms(values).map(formatPlatform);
    assert.deepEqual(formatted([]), []);
    assert.deepEqual(formatted(['linux/arm64']), ['linux/arm64']);
    assert.deepEqual(formatted(['linux/amd64', 'linux/amd64']), ['linux/amd64']);
    assert.deepEqual(formatted(['linux/amd64,linux/arm/v7', 'linux/arm64']), [
      'linux/amd64',
      'linux/arm/v7',
      'linux/arm64',
    ]);
    // BuildKit normalises: arm64/v8 is arm64, aarch64 is arm64, arm is arm/v7.
    assert.deepEqual(formatted(['linux/arm64/v8,linux/aarch64', 'linux/arm', 'linux/arm/v7']), [
      'linux/arm64',
      'linux/arm/v7',
    ]);
    assert.deepEqual(formatted(['linux/amd64, ,linux/arm64']), ['linux/amd64', 'linux/arm64']);
    assert.match(
      errorOf(() => parsePlatforms(['linux/amd64,linux/arm64/v8/x'])),
      /invalid platform "linux\/arm64\/v8\/x"/,
    );
  });

  it('accepts attestation flags that ask for nothing and refuses those that ask for one', () => {
    for (const ok of [
      { provenance: 'false', attest: [] },
      { sbom: '0', attest: [] },
      { attest: ['type=provenance,disabled=true', 'type=sbom,disabled=true'] },
    ])
      assert.doesNotThrow(() => checkAttestations(ok), JSON.stringify(ok));
    assert.match(
      errorOf(() => checkAttestations({ provenance: 'mode=max', attest: [] })),
      /--provenance=mode=max: strata does not produce provenance attestations/,
    );
    assert.match(
      errorOf(() => checkAttestations({ sbom: 'true', attest: [] })),
      /does not produce SBOM/,
    );
    assert.match(
      errorOf(() => checkAttestations({ attest: ['type=sbom,generator=x'] })),
      /--attest type=sbom,generator=x: strata does not produce SBOM/,
    );
    assert.match(
      errorOf(() => checkAttestations({ attest: ['type=foo'] })),
      /"foo" is not provenance or sbom/,
    );
  });
});

describe('--cache-from and --cache-to attributes', () => {
  it('takes the ones strata implements, and names the others with why', () => {
    assert.deepEqual(
      parseCacheExport(['type=registry,ref=r/c:1,mode=max,ignore-error=true,image-manifest=true']),
      {
        type: 'registry',
        ref: 'r/c:1',
        mode: 'max',
        ignoreError: true,
      },
    );
    assert.deepEqual(parseCacheLocation('type=registry,ref=r/c:1,registry.insecure=true', '--cache-from'), {
      type: 'registry',
      ref: 'r/c:1',
    });
    const table: [() => unknown, RegExp][] = [
      [
        () => parseCacheExport(['type=gha']),
        /--cache-to type=gha is not supported \(the GitHub Actions cache/,
      ],
      [() => parseCacheLocation('type=inline', '--cache-from'), /type=inline is not supported/],
      [
        () => parseCacheExport(['type=registry,ref=r/c,bogus=1']),
        /unknown attribute "bogus" \(type=registry takes: ref, mode, ignore-error/,
      ],
      [
        () => parseCacheExport(['type=registry,ref=r/c,image-manifest=false']),
        /image-manifest=false is not supported/,
      ],
      [
        () => parseCacheExport(['type=local,dest=d,compression=zstd']),
        /compression is not supported \(the cache's layers are the image's/,
      ],
      [
        () => parseCacheLocation('type=local,src=d,digest=sha256:00', '--cache-from'),
        /digest is not supported/,
      ],
      [() => parseCacheExport(['type=local,dest=a', 'type=local,dest=b']), /--cache-to given 2 times/],
    ];
    for (const [fn, expected] of table) assert.match(errorOf(fn), expected);
  });
});

/** Reads a manifest from the test registry. */
async function registryManifest(registry: TestRegistry, repo: string, ref: string) {
  const response = await fetch(`${registry.url}/v2/${repo}/manifests/${ref}`, {
    headers: {
      accept:
        'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
    },
  });
  assert.equal(response.status, 200, `${repo}:${ref} is in the registry`);
  const raw = Buffer.from(await response.arrayBuffer());
  return {
    digest: `sha256:${createHash('sha256').update(raw).digest('hex')}`,
    manifest: JSON.parse(raw.toString()) as {
      mediaType: string;
      config: { mediaType: string; digest: string };
      layers: { mediaType: string }[];
      annotations?: Record<string, string>;
    },
  };
}

describe('strata build image outputs (-o type=image,name=…,push=true)', () => {
  let fx: BuildFixture;
  let registry: TestRegistry;
  let ctx: string;
  before(async () => {
    registry = await startRegistry();
    fx = await buildFixture('strata-bxflags-');
    ctx = fx.context('app', {
      Dockerfile: 'FROM busybox:local\nCOPY a.txt /a.txt\nRUN echo built > /b.txt\n',
      'a.txt': 'a\n',
    });
  });
  after(async () => {
    await registry.stop();
    fx.cleanup();
  });

  it('names the image in the store and pushes each name, with Docker media types and annotations', async () => {
    const a = `${registry.host}/out/a:1`;
    const b = `${registry.host}/out/b:2`;
    const iid = join(fx.work, 'iid');
    const meta = join(fx.work, 'meta.json');
    const result = await runStrata(
      [
        'build',
        '--progress=plain',
        '-o',
        `type=image,"name=${a},${b}",push=true,oci-mediatypes=false,annotation.org.example.k=v`,
        '--iidfile',
        iid,
        '--metadata-file',
        meta,
        ctx,
      ],
      { root: fx.root },
    );
    assert.equal(result.code, 0, result.stderr);
    const pushedA = await registryManifest(registry, 'out/a', '1');
    const pushedB = await registryManifest(registry, 'out/b', '2');
    assert.equal(pushedA.digest, pushedB.digest);
    const { manifest } = pushedA;
    assert.equal(manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(manifest.config.mediaType, 'application/vnd.docker.container.image.v1+json');
    for (const l of manifest.layers)
      assert.equal(l.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    assert.deepEqual(manifest.annotations, { 'org.example.k': 'v' });
    // The iidfile holds the config digest (buildx's image ID), the metadata buildx's keys.
    assert.equal(readFileSync(iid, 'utf8'), manifest.config.digest);
    // …which strata takes wherever it takes an image, as docker does.
    const inspected = await runStrata(['inspect', readFileSync(iid, 'utf8')], { root: fx.root });
    assert.equal(inspected.code, 0, inspected.stderr);
    assert.ok(inspected.stdout.includes(manifest.config.digest), inspected.stdout);
    const metadata = JSON.parse(readFileSync(meta, 'utf8'));
    assert.equal(metadata['containerimage.config.digest'], manifest.config.digest);
    assert.equal(metadata['containerimage.digest'], pushedA.digest);
    assert.equal(metadata['containerimage.descriptor'].mediaType, manifest.mediaType);
    assert.equal(metadata['containerimage.descriptor'].digest, pushedA.digest);
    assert.equal(metadata['image.name'], `${a},${b}`);
    assert.match(metadata['buildx.build.ref'], /^strata\/local\/[a-z0-9]{25}$/);
    // Both names are in strata's store, on the same (Docker-typed) manifest.
    const index = JSON.parse(readFileSync(join(fx.root, 'index.json'), 'utf8')) as {
      manifests: { digest: string; annotations?: Record<string, string> }[];
    };
    for (const name of [a, b]) {
      const entry = index.manifests.find(
        (m) => m.annotations?.['org.opencontainers.image.ref.name'] === name,
      );
      assert.equal(entry?.digest, pushedA.digest, `${name} stored`);
    }
  });

  it('store=false pushes without naming the image in the store', async () => {
    const name = `${registry.host}/out/nostore:1`;
    const result = await runStrata(
      ['build', '--progress=plain', '-o', `type=registry,name=${name},store=false`, ctx],
      {
        root: fx.root,
      },
    );
    assert.equal(result.code, 0, result.stderr);
    await registryManifest(registry, 'out/nostore', '1');
    const index = readFileSync(join(fx.root, 'index.json'), 'utf8');
    assert.ok(!index.includes('out/nostore'), 'not named in the store');
  });

  it('refuses an index annotation for a single-platform image, and pushes nothing', async () => {
    const name = `${registry.host}/out/refused:1`;
    const result = await runStrata(
      [
        'build',
        '--progress=plain',
        '--annotation',
        'index:k=v',
        '-o',
        `type=image,name=${name},push=true`,
        ctx,
      ],
      { root: fx.root },
    );
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /index annotations not supported for single platform export/);
    const response = await fetch(`${registry.url}/v2/out/refused/manifests/1`);
    assert.equal(response.status, 404);
  });

  it('writes annotations into an OCI layout output, and type=cacheonly names nothing', async () => {
    const dest = join(fx.work, 'layout');
    const result = await runStrata(
      [
        'build',
        '--progress=plain',
        '-t',
        'cached:1',
        '-o',
        'type=cacheonly',
        '-o',
        `type=oci,dest=${dest},tar=false`,
        '--annotation',
        'k=v',
        ctx,
      ],
      { root: fx.root },
    );
    assert.equal(result.code, 0, result.stderr);
    const layoutIndex = JSON.parse(readFileSync(join(dest, 'index.json'), 'utf8'));
    const digest: string = layoutIndex.manifests[0].digest;
    const manifest = JSON.parse(readFileSync(join(dest, 'blobs/sha256', digest.slice(7)), 'utf8'));
    assert.deepEqual(manifest.annotations, { k: 'v' });
    assert.ok(!readFileSync(join(fx.root, 'index.json'), 'utf8').includes('cached:1'));
    assert.ok(existsSync(join(fx.root, 'blobs/sha256', digest.slice(7))));
  });
});

describe('--add-host, --ulimit and --shm-size reach every RUN', () => {
  let fx: BuildFixture;
  before(async () => {
    fx = await buildFixture('strata-bxrun-');
  });
  after(() => fx.cleanup());

  it('adds /etc/hosts lines, sets the limits and the size of /dev/shm, and keys the cache on them', async () => {
    const ctx = fx.context('run', {
      Dockerfile: [
        'FROM busybox:local',
        'RUN cp /etc/hosts /hosts && ulimit -Sn > /nofile && ulimit -Hn >> /nofile && ulimit -Ss > /stack && df -k /dev/shm | tail -n 1 > /shm',
        '',
      ].join('\n'),
    });
    const out = join(fx.work, 'out');
    const flags = [
      '--add-host',
      'db.internal:10.1.2.3',
      '--add-host',
      'v6=[::1],10.0.0.9',
      '--ulimit',
      'nofile=1000:2000',
      '--ulimit',
      'stack=16777216',
    ];
    const result = await runStrata(
      ['build', '--progress=plain', ...flags, '--shm-size', '16m', '-o', `type=local,dest=${out}`, ctx],
      { root: fx.root },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      readFileSync(join(out, 'hosts'), 'utf8'),
      '127.0.0.1\tlocalhost buildkitsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n10.1.2.3\tdb.internal\n::1\tv6\n10.0.0.9\tv6\n',
    );
    assert.equal(readFileSync(join(out, 'nofile'), 'utf8'), '1000\n2000\n');
    assert.equal(readFileSync(join(out, 'stack'), 'utf8'), '16384\n'); // bytes in, KiB out (ulimit -s)
    assert.match(readFileSync(join(out, 'shm'), 'utf8'), /^\S+\s+16384\s/);
    // Another --add-host is another RUN: it runs again rather than coming from the cache.
    const again = await runStrata(
      [
        'build',
        '--progress=plain',
        '--add-host',
        'db.internal:10.9.9.9',
        '-o',
        `type=local,dest=${out}`,
        ctx,
      ],
      { root: fx.root },
    );
    assert.equal(again.code, 0, again.stderr);
    assert.match(readFileSync(join(out, 'hosts'), 'utf8'), /10\.9\.9\.9\tdb\.internal\n$/);
  });

  it('refuses malformed values and host-gateway by name', async () => {
    const ctx = fx.context('bad', { Dockerfile: 'FROM busybox:local\n' });
    for (const [flag, value, expected] of [
      ['--add-host', 'nohost', /invalid --add-host "nohost"/],
      ['--add-host', 'h:999.1.1.1', /invalid IP address "999.1.1.1"/],
      ['--add-host', 'gw:host-gateway', /host-gateway is not supported/],
      ['--ulimit', 'bogus=1', /invalid --ulimit "bogus=1"/],
      ['--ulimit', 'nofile=10:5', /soft limit must be less than or equal to hard limit/],
      ['--shm-size', 'lots', /invalid --shm-size "lots"/],
    ] as const) {
      const result = await runStrata(['build', flag, value, ctx], { root: fx.root });
      assert.equal(result.code, 1, `${flag} ${value}: ${result.stderr}`);
      assert.match(result.stderr, expected);
    }
  });
});

describe('SOURCE_DATE_EPOCH', () => {
  let fx: BuildFixture;
  let ctx: string;
  before(async () => {
    fx = await buildFixture('strata-bxepoch-');
    ctx = fx.context('epoch', {
      Dockerfile: 'FROM busybox:local\nCOPY a.txt /a.txt\nRUN echo made > /made.txt\n',
      'a.txt': 'a\n',
    });
  });
  after(() => fx.cleanup());

  /** Builds ctx and returns the manifest digest (from --metadata-file). */
  async function digestOf(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
    const meta = join(fx.work, `meta-${Math.random().toString(16).slice(2)}.json`);
    const result = await runStrata(['build', '--progress=plain', '--metadata-file', meta, ...args, ctx], {
      root: fx.root,
      env: { SOURCE_DATE_EPOCH: '', ...env },
    });
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(readFileSync(meta, 'utf8'))['containerimage.digest'];
  }

  it('gives the same digest from a cache warmed without it as with --no-cache, as a build-arg or in the environment', async () => {
    await digestOf([]); // warms the cache with layers whose files have today's mtimes
    const warm = await digestOf(['--build-arg', 'SOURCE_DATE_EPOCH=1600000000']);
    const cold = await digestOf(['--no-cache', '--build-arg', 'SOURCE_DATE_EPOCH=1600000000']);
    assert.equal(warm, cold, 'the digest does not depend on what the cache held');
    const fromEnv = await digestOf(['-o', 'type=image,rewrite-timestamp=true'], {
      SOURCE_DATE_EPOCH: '1600000000',
    });
    assert.equal(fromEnv, cold, 'the environment variable and the build-arg are one setting');
    const later = await digestOf(['--build-arg', 'SOURCE_DATE_EPOCH=1600000001']);
    assert.notEqual(later, cold, 'another epoch, another image');
  });

  it("reuses the cache across epochs (a CI that sets it from each commit's time)", async () => {
    await digestOf(['--build-arg', 'SOURCE_DATE_EPOCH=1600000000']);
    const result = await runStrata(
      ['build', '--progress=plain', '--build-arg', 'SOURCE_DATE_EPOCH=1600000500', ctx],
      { root: fx.root, env: { SOURCE_DATE_EPOCH: '' } },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /RUN echo made > \/made\.txt\n#\d+ CACHED/);
  });

  it('refuses rewrite-timestamp=false with an epoch, since strata always clamps layer times to it', async () => {
    const result = await runStrata(
      [
        'build',
        '--build-arg',
        'SOURCE_DATE_EPOCH=1600000000',
        '-o',
        'type=image,rewrite-timestamp=false',
        ctx,
      ],
      { root: fx.root },
    );
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /rewrite-timestamp=false is not supported with SOURCE_DATE_EPOCH/);
  });
});

describe('--call check, and the buildx flags strata refuses', () => {
  let fx: BuildFixture;
  before(async () => {
    fx = await buildFixture('strata-bxcheck-');
  });
  after(() => fx.cleanup());

  it('removes an old --iidfile before it builds, so a failed build leaves none', async () => {
    const ctx = fx.context('fails', { Dockerfile: 'FROM busybox:local\nRUN exit 3\n' });
    const iid = join(fx.work, 'stale-iid');
    writeFileSync(iid, 'sha256:stale');
    const result = await runStrata(['build', '--iidfile', iid, ctx], { root: fx.root });
    assert.equal(result.code, 1, result.stderr);
    assert.ok(!existsSync(iid));
  });

  it('runs only the build checks and exits 1 on a violation, as buildx', async () => {
    const bad = fx.context('bad', { Dockerfile: 'FROM busybox:local as base\nRUN exit 3\n' });
    for (const flags of [['--check'], ['--call=check'], ['--call', 'check,format=text']]) {
      const result = await runStrata(['build', ...flags, bad], { root: fx.root });
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stdout,
        /^Check complete, 1 warning has been found!\n\nWARNING: FromAsCasing - https:\/\/docs\.docker\.com\/go\/dockerfile\/rule\/from-as-casing\/\n.*\n.*Dockerfile:1\n$/,
      );
    }
    // RUN exit 3 never ran: a check builds nothing.
    const good = fx.context('good', { Dockerfile: 'FROM busybox:local AS base\nRUN exit 3\n' });
    const clean = await runStrata(['build', '--check', good], { root: fx.root });
    assert.equal(clean.code, 0, clean.stderr);
    assert.equal(clean.stdout, 'Check complete, no warnings found.\n');
  });

  it('refuses --call outline|targets and the flags it does not implement, by name', async () => {
    const ctx = fx.context('any', { Dockerfile: 'FROM busybox:local\n' });
    for (const [args, expected] of [
      [['--call=outline'], /--call=outline is not supported/],
      [['--call=targets'], /--call=targets is not supported/],
      [['--call=bogus'], /invalid --call "bogus"/],
      [['--ssh', 'default'], /--ssh is not supported/],
      [['--builder', 'b'], /--builder is not supported/],
      [['--cgroup-parent', 'x'], /--cgroup-parent is not supported/],
      [['--resource', 'memory=2g'], /--resource is not supported/],
      [['--policy', 'filename=p'], /--policy is not supported/],
      [['--cache-to', 'type=gha'], /--cache-to type=gha is not supported/],
      [['-o', 'type=image,bogus=1'], /unknown attribute "bogus"/],
      [
        ['--platform', 'linux/amd64', '--platform', 'linux/arm64', '--load'],
        /--load cannot export a multi-platform image \(--platform linux\/amd64,linux\/arm64\)/,
      ],
      [['--provenance', 'mode=max'], /strata does not produce provenance attestations/],
      [['-t', 'Upper/Case:1'], /invalid tag "Upper\/Case:1"/],
    ] as const) {
      const result = await runStrata(['build', ...args, ctx], { root: fx.root });
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, expected);
    }
  });
});

describe('--build-context', () => {
  let fx: BuildFixture;
  before(async () => {
    fx = await buildFixture('strata-bxctx-');
  });
  after(() => fx.cleanup());

  it('answers FROM name and COPY --from=name with an image, an OCI layout or a directory', async () => {
    const extra = fx.context('extra', { 'hello.txt': 'from the named context\n' });
    const layout = join(fx.work, 'layout');
    const copied = await runStrata(['copy', 'strata:busybox:local', `oci:${layout}:bb`], { root: fx.root });
    assert.equal(copied.code, 0, copied.stderr);
    const ctx = fx.context('main', {
      Dockerfile: [
        'FROM base',
        'COPY --from=extra hello.txt /hello.txt',
        'COPY --from=tools /bin/busybox /tools-busybox',
        'RUN cat /hello.txt > /out && test -x /tools-busybox',
        '',
      ].join('\n'),
    });
    const out = join(fx.work, 'out');
    const result = await runStrata(
      [
        'build',
        '--progress=plain',
        '--build-context',
        'base=docker-image://busybox:local',
        '--build-context',
        `extra=${extra}`,
        '--build-context',
        `tools=oci-layout://${layout}:bb`,
        '-o',
        `type=local,dest=${out}`,
        ctx,
      ],
      { root: fx.root },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(readFileSync(join(out, 'out'), 'utf8'), 'from the named context\n');
    // FROM base is busybox:local, which has no image named "base" anywhere.
    assert.ok(existsSync(join(out, 'bin/busybox')));
  });

  it('starts a stage FROM a directory context, and refuses what it does not support by name', async () => {
    const rootfs = fx.context('rootfs', { 'etc/marker': 'rootfs dir\n' });
    const ctx = fx.context('fromdir', { Dockerfile: 'FROM tree\nCOPY Dockerfile /Dockerfile\n' });
    const out = join(fx.work, 'out-dir');
    const result = await runStrata(
      ['build', '--progress=plain', '--build-context', `tree=${rootfs}`, '-o', `type=local,dest=${out}`, ctx],
      { root: fx.root },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(readFileSync(join(out, 'etc/marker'), 'utf8'), 'rootfs dir\n');
    const staged = fx.context('staged', { Dockerfile: 'FROM busybox:local AS base\nFROM base\n' });
    for (const [value, expected] of [
      [
        'base=docker-image://busybox:local',
        /--build-context base: replacing the build stage of that name is not supported/,
      ],
      ['x=https://example.com/repo.git#main', /git and HTTP named contexts are not supported/],
      ['x=target:other', /target: contexts are a buildx bake feature/],
      [`x=${join(fx.work, 'missing')}`, /no such directory/],
    ] as const) {
      const r = await runStrata(['build', '--build-context', value, staged], { root: fx.root });
      assert.equal(r.code, 1, `${value}: ${r.stderr}`);
      assert.match(r.stderr, expected);
    }
  });
});
