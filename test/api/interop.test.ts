import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { importImage } from '../../src/api/import-image.ts';
import { pull } from '../../src/api/pull.ts';
import { push } from '../../src/api/push.ts';
import { parseManifest } from '../../src/oci/index.ts';
import { Store } from '../../src/store/index.ts';
import { writeTestImage } from '../support/images.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { makeBusyboxTarball } from '../support/rootfs.ts';

function skopeo(...args: string[]): string {
  return execFileSync('skopeo', ['--insecure-policy', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function layoutBlob(dir: string, digest: string): Promise<Buffer> {
  return readFile(join(dir, 'blobs', 'sha256', digest.slice(7)));
}

describe('interop with skopeo through a real registry', () => {
  let registry: TestRegistry;
  let dir: string;

  before(async () => {
    registry = await startRegistry();
    dir = await mkdtemp(join(tmpdir(), 'strata-interop-'));
  });
  after(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('an image pushed by strata is pulled by skopeo byte-identical (busybox from strata import)', async () => {
    const store = await Store.open(join(dir, 'store'));
    const imported = await importImage(store, { source: makeBusyboxTarball(dir), sourceName: 'busybox' });
    await store.tag(
      { full: `${registry.host}/interop/busybox:1`, short: `${registry.host}/interop/busybox:1` },
      imported.manifest,
    );
    const pushed = await push(store, `${registry.host}/interop/busybox:1`);
    assert.equal(pushed.descriptor.digest, imported.manifest.digest);
    const out = join(dir, 'skopeo-out');
    skopeo(
      'copy',
      '--src-tls-verify=false',
      `docker://${registry.host}/interop/busybox:1`,
      `oci:${out}:busybox`,
    );
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8'));
    assert.equal(index.manifests[0].digest, imported.manifest.digest, 'same manifest digest');
    const rawManifest = await layoutBlob(out, imported.manifest.digest);
    assert.deepEqual(rawManifest, await store.blobs.read(imported.manifest.digest));
    const manifest = parseManifest(rawManifest);
    for (const blob of [manifest.config, ...manifest.layers])
      assert.deepEqual(await layoutBlob(out, blob.digest), await store.blobs.read(blob.digest));
  });

  it('an image pushed by skopeo (converted to docker schema 2) is pulled by strata byte-identical', async () => {
    const scratch = await Store.open(join(dir, 'scratch'));
    const image = await writeTestImage(scratch, { layerSizes: [300_000, 20_000], seed: 21 });
    await scratch.tag({ full: 'docker.io/library/fromskopeo:1', short: 'fromskopeo:1' }, image.manifest);
    // strata's store is an OCI layout: skopeo reads it directly by short name.
    skopeo(
      'copy',
      '--format',
      'v2s2',
      '--dest-tls-verify=false',
      `oci:${join(dir, 'scratch')}:fromskopeo:1`,
      `docker://${registry.host}/interop/fromskopeo:1`,
    );
    const raw = Buffer.from(
      skopeo('inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/interop/fromskopeo:1`),
    );
    const remote = parseManifest(raw);
    assert.equal(remote.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    const store = await Store.open(join(dir, 'pulled'));
    const result = await pull(store, `${registry.host}/interop/fromskopeo:1`);
    assert.equal(result.descriptor.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    assert.deepEqual(
      await store.blobs.read(result.descriptor.digest),
      raw,
      'manifest bytes as skopeo pushed them',
    );
    for (const blob of [image.config, ...image.layers])
      assert.deepEqual(await store.blobs.read(blob.digest), await scratch.blobs.read(blob.digest));
    const named = await store.resolve(`${registry.host}/interop/fromskopeo:1`);
    assert.equal(named.digest, result.descriptor.digest);
  });
});
