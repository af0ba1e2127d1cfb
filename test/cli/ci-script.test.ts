import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { arch } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { STRATA_COMMAND } from '../support/cli.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

/**
 * The command docker/build-push-action runs for a push with a registry cache, written as a CI
 * step's shell script; only `docker buildx build` is replaced by `strata build`.
 */
const SCRIPT = `#!/bin/bash
set -euo pipefail
cd "$WORKSPACE"
strata build \\
  --iidfile "$RUNNER_TEMP/iidfile" \\
  --metadata-file "$RUNNER_TEMP/metadata-file" \\
  --provenance=false \\
  --platform "linux/$ARCH" \\
  --cache-from "type=registry,ref=$REGISTRY/ci/app:buildcache" \\
  --cache-to "type=registry,ref=$REGISTRY/ci/app:buildcache,mode=max" \\
  --label org.opencontainers.image.source=https://example.com/ci/app \\
  --label org.opencontainers.image.revision=$GITHUB_SHA \\
  --annotation org.opencontainers.image.description=the-ci-app \\
  --annotation "manifest:org.opencontainers.image.revision=$GITHUB_SHA" \\
  --tag "$REGISTRY/ci/app:$GITHUB_SHA" \\
  --tag "$REGISTRY/ci/app:latest" \\
  --output "type=image,\\"name=$REGISTRY/ci/app:$GITHUB_SHA,$REGISTRY/ci/app:latest\\",push=true" \\
  --progress=plain \\
  .
echo "digest=$(jq -r '."containerimage.digest"' "$RUNNER_TEMP/metadata-file")" >> "$GITHUB_OUTPUT"
echo "imageid=$(cat "$RUNNER_TEMP/iidfile")" >> "$GITHUB_OUTPUT"
`;

describe('a docker/build-push-action CI step, run by strata against a registry', () => {
  let first: BuildFixture;
  let second: BuildFixture;
  let registry: TestRegistry;
  let script: string;
  before(async () => {
    registry = await startRegistry();
    first = await buildFixture('strata-ci-a-');
    second = await buildFixture('strata-ci-b-'); // the next run: a fresh runner, an empty store
    script = join(first.work, 'build.sh');
    writeFileSync(script, SCRIPT, { mode: 0o755 });
  });
  after(async () => {
    await registry.stop();
    first.cleanup();
    second.cleanup();
  });

  /** Runs the script as a runner would: a workspace, RUNNER_TEMP, GITHUB_OUTPUT, strata on PATH. */
  function runStep(runner: BuildFixture) {
    const workspace = runner.context('workspace', {
      Dockerfile: [
        'FROM busybox:local AS build',
        'COPY src.txt /src/',
        'RUN cat /src/src.txt > /src/out && echo compiled >> /src/out',
        'FROM busybox:local',
        'COPY --from=build /src/out /app/out',
        'RUN echo ready > /app/ready',
        '',
      ].join('\n'),
      'src.txt': 'source\n',
    });
    const bin = join(runner.work, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'strata'), `#!/bin/sh\nexec ${STRATA_COMMAND} "$@"\n`, { mode: 0o755 });
    const output = join(runner.work, 'github-output');
    writeFileSync(output, '');
    const result = spawnSync('bash', [script], {
      encoding: 'utf8',
      env: {
        ...process.env,
        PATH: `${bin}:${process.env.PATH}`,
        STRATA_ROOT: runner.root,
        WORKSPACE: workspace,
        RUNNER_TEMP: runner.work,
        GITHUB_OUTPUT: output,
        GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
        REGISTRY: registry.host,
        ARCH: arch() === 'x64' ? 'amd64' : arch(),
        SOURCE_DATE_EPOCH: '1700000000',
      },
      timeout: 300_000,
    });
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    const outputs = Object.fromEntries(
      readFileSync(output, 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split('=', 2) as [string, string]),
    );
    const metadata = JSON.parse(readFileSync(join(runner.work, 'metadata-file'), 'utf8'));
    return { outputs, metadata };
  }

  async function manifestOf(ref: string) {
    const response = await fetch(`${registry.url}/v2/ci/app/manifests/${ref}`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(response.status, 200, `ci/app:${ref} was pushed`);
    return {
      digest: response.headers.get('docker-content-digest'),
      manifest: (await response.json()) as {
        config: { digest: string };
        annotations?: Record<string, string>;
      },
    };
  }

  it('pushes both tags with the annotations and labels, writes the iidfile and metadata, and reuses the cache on the next runner', async () => {
    const { outputs, metadata } = runStep(first);
    const sha = await manifestOf('0123456789abcdef0123456789abcdef01234567');
    const latest = await manifestOf('latest');
    assert.equal(sha.digest, latest.digest);
    assert.equal(outputs.digest, sha.digest);
    assert.deepEqual(sha.manifest.annotations, {
      'org.opencontainers.image.description': 'the-ci-app',
      'org.opencontainers.image.revision': '0123456789abcdef0123456789abcdef01234567',
    });
    // The iidfile is the image ID: the config digest, whose blob carries the labels.
    assert.equal(outputs.imageid, sha.manifest.config.digest);
    const blob = await fetch(`${registry.url}/v2/ci/app/blobs/${sha.manifest.config.digest}`);
    const config = (await blob.json()) as {
      architecture: string;
      config: { Labels: Record<string, string> };
    };
    assert.equal(config.config.Labels['org.opencontainers.image.source'], 'https://example.com/ci/app');
    assert.equal(
      config.config.Labels['org.opencontainers.image.revision'],
      '0123456789abcdef0123456789abcdef01234567',
    );
    assert.equal(config.architecture, arch() === 'x64' ? 'amd64' : arch());
    for (const key of [
      'containerimage.config.digest',
      'containerimage.digest',
      'containerimage.descriptor',
      'image.name',
      'buildx.build.ref',
    ])
      assert.ok(key in metadata, `metadata has ${key}`);
    assert.equal(metadata['containerimage.config.digest'], outputs.imageid);
    assert.equal(
      metadata['image.name'],
      `${registry.host}/ci/app:0123456789abcdef0123456789abcdef01234567,${registry.host}/ci/app:latest`,
    );
    assert.ok(metadata['strata.cache'].executedSteps.length >= 4);

    // The next run, on a runner with an empty store: every step comes from the registry cache.
    const next = runStep(second);
    assert.deepEqual(next.metadata['strata.cache'].executedSteps, []);
    assert.equal(next.outputs.digest, outputs.digest, 'the same image, from the cache');
    assert.equal(next.outputs.imageid, outputs.imageid);
  });
});
