import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { copyImage } from '../../src/api/copy.ts';
import { digestOf, parseImageConfig, parseManifest } from '../../src/oci/index.ts';
import { Store } from '../../src/store/index.ts';
import { listTarMembers } from '../../src/transport/index.ts';
import { InvalidInputError } from '../../src/util/index.ts';
import { writeTestImage } from '../support/images.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

function skopeo(...args: string[]): string {
  return execFileSync('skopeo', ['--insecure-policy', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('strata copy between transports (skopeo as the oracle)', () => {
  let registry: TestRegistry;
  let dir: string;
  let store: Store;
  let diffIds: readonly string[];
  let configDigest: string;

  before(async () => {
    registry = await startRegistry();
    dir = await mkdtemp(join(tmpdir(), 'strata-copy-'));
    store = await Store.open(join(dir, 'store'));
    const image = await writeTestImage(store, { layerSizes: [120_000, 4_000, 600], seed: 31 });
    await store.tag({ full: 'docker.io/library/copyme:1', short: 'copyme:1' }, image.manifest);
    configDigest = image.config.digest;
    diffIds = parseImageConfig(await store.blobs.read(image.config.digest)).rootfs.diff_ids;
  });
  after(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('strata: → oci:dir:tag writes a layout skopeo reads, and oci: → strata: reads it back', async () => {
    const layout = join(dir, 'layout');
    const result = await copyImage('strata:copyme:1', `oci:${layout}:v1`, { store });
    const inspected = JSON.parse(skopeo('inspect', `oci:${layout}:v1`));
    assert.equal(inspected.Digest, result.descriptor.digest);
    assert.equal(inspected.Layers.length, 3);
    const other = await Store.open(join(dir, 'store-2'));
    const back = await copyImage(`oci:${layout}:v1`, 'strata:roundtrip:1', { store: other });
    assert.equal(back.descriptor.digest, result.descriptor.digest);
    assert.equal((await other.resolve('docker.io/library/roundtrip:1')).digest, result.descriptor.digest);
    assert.deepEqual(await other.verify(), []);
    // No temp files left in the layout.
    assert.deepEqual(
      (await readdir(join(layout, 'blobs', 'sha256'))).filter((n) => n.startsWith('.')),
      [],
    );
  });

  it('writes a docker-archive that skopeo loads with the same diff_ids and RepoTags', async () => {
    const archive = join(dir, 'image.tar');
    await copyImage('strata:copyme:1', `docker-archive:${archive}:example.com/team/app:2`, { store });
    // Its layers are written side by side into one temp directory, removed at the end (three
    // concurrent writes used to make three, and leave two behind).
    assert.deepEqual(
      (await readdir(dir)).filter((n) => n.startsWith('.image.tar')),
      [],
    );
    const members = await listTarMembers(archive);
    const manifest = JSON.parse(
      execFileSync('tar', ['-xOf', archive, 'manifest.json'], { encoding: 'utf8' }),
    );
    assert.deepEqual(manifest[0].RepoTags, ['example.com/team/app:2']);
    assert.equal(manifest[0].Layers.length, 3);
    assert.ok(members.some((m) => m.name === manifest[0].Config));
    // GNU tar agrees on the layer tar bytes: each hashes to its diff_id (uncompressed, as docker save writes).
    for (const [i, name] of (manifest[0].Layers as string[]).entries()) {
      const bytes = execFileSync('tar', ['-xOf', archive, name], { maxBuffer: 1 << 26 });
      assert.equal(digestOf(bytes), diffIds[i]);
    }
    const out = join(dir, 'from-archive');
    skopeo('copy', `docker-archive:${archive}`, `oci:${out}:x`);
    const raw = JSON.parse(skopeo('inspect', '--config', '--raw', `oci:${out}:x`));
    assert.deepEqual(raw.rootfs.diff_ids, diffIds);
  });

  it('reads a docker-archive written by skopeo (docker save format) into the store', async () => {
    const archive = join(dir, 'skopeo.tar');
    skopeo('copy', `oci:${join(dir, 'store')}:copyme:1`, `docker-archive:${archive}:made/by-skopeo:3`);
    const target = await Store.open(join(dir, 'store-3'));
    const result = await copyImage(`docker-archive:${archive}`, 'strata:loaded:3', { store: target });
    const manifest = parseManifest(await target.blobs.read(result.descriptor.digest));
    assert.equal(manifest.config.digest, configDigest);
    assert.deepEqual(
      manifest.layers.map((l) => l.digest),
      diffIds,
      'uncompressed layers: digest = diff_id',
    );
    assert.deepEqual(await target.verify(), []);
    // By name, too.
    const byName = await copyImage(`docker-archive:${archive}:made/by-skopeo:3`, 'strata:loaded:4', {
      store: target,
    });
    assert.equal(byName.descriptor.digest, result.descriptor.digest);
  });

  it('copies registry to registry (docker:// → docker://) and registry to layout', async () => {
    await copyImage('strata:copyme:1', `docker://${registry.host}/c/one:1`, { store });
    const copied = await copyImage(
      `docker://${registry.host}/c/one:1`,
      `docker://${registry.host}/c/two:1`,
      {},
    );
    assert.equal(copied.copiedBlobs, 0, 'same registry: blobs mounted, not uploaded');
    const layout = join(dir, 'from-registry');
    await copyImage(`docker://${registry.host}/c/two:1`, `oci:${layout}:two`, {});
    assert.equal(JSON.parse(skopeo('inspect', `oci:${layout}:two`)).Digest, copied.descriptor.digest);
  });

  it('refuses a location without a transport, with a hint', async () => {
    await assert.rejects(copyImage('alpine', 'oci:/tmp/x'), (error: unknown) => {
      assert.ok(error instanceof InvalidInputError);
      assert.equal(error.message, '"alpine" names no transport');
      assert.match(error.hint ?? '', /docker:\/\/alpine:3\.20/);
      return true;
    });
  });
});
