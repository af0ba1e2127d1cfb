import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseManifest, validateImage } from '../../src/oci/index.ts';
import { CollectingSink, type TransferEvent } from '../../src/progress/index.ts';
import { parseReference } from '../../src/reference/index.ts';
import {
  pullImage,
  pushImage,
  RegistryError,
  RegistryPool,
  RegistryReader,
} from '../../src/registry/index.ts';
import { Store } from '../../src/store/index.ts';
import { StoreImageReader } from '../../src/transport/index.ts';
import { writeTestImage } from '../support/images.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

describe('registry pull and push (anonymous Distribution registry)', () => {
  let registry: TestRegistry;
  let dir: string;
  let pool: RegistryPool;

  before(async () => {
    registry = await startRegistry();
    dir = await mkdtemp(join(tmpdir(), 'strata-pullpush-'));
    pool = new RegistryPool({ retry: { minDelayMs: 5, maxDelayMs: 50 } });
  });
  after(async () => {
    await pool?.close();
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('pushes an image and pulls it back byte-identical into another store', async () => {
    const source = await Store.open(join(dir, 'a'));
    const image = await writeTestImage(source, { layerSizes: [200_000, 50_000, 3_000], seed: 1 });
    await source.tag({ full: 'x/app:1', short: 'app:1' }, image.manifest);
    const ref = parseReference(`${registry.host}/team/app:1`);
    const pushEvents = new CollectingSink();
    const pushed = await pushImage(pool, new StoreImageReader(source, image.manifest.digest), ref, {
      events: pushEvents,
    });
    assert.equal(pushed.top.descriptor.digest, image.manifest.digest);
    assert.equal(pushed.copiedBlobs, 4);
    const statuses = pushEvents.events
      .filter((e): e is TransferEvent => e.type === 'transfer')
      .map((e) => e.status);
    assert.ok(statuses.includes('done'));

    const target = await Store.open(join(dir, 'b'));
    const events = new CollectingSink();
    const pulled = await pullImage(pool, ref, target.blobs, { events });
    assert.equal(pulled.top.descriptor.digest, image.manifest.digest);
    assert.equal(pulled.copiedBlobs, 4);
    const loaded = await target.image(pulled.top.descriptor.digest);
    assert.deepEqual(validateImage(loaded), []);
    for (const layer of image.layers) {
      assert.deepEqual(await target.blobs.read(layer.digest), await source.blobs.read(layer.digest));
    }
    const done = events.events.filter((e) => e.type === 'transfer' && e.status === 'done');
    assert.equal(done.length, 4);
  });

  it('skips blobs already present on pull and on push', async () => {
    const store = await Store.open(join(dir, 'b'));
    const ref = parseReference(`${registry.host}/team/app:1`);
    const events = new CollectingSink();
    const again = await pullImage(pool, ref, store.blobs, { events });
    assert.equal(again.copiedBlobs, 0);
    assert.equal(again.skippedBlobs, 4);
    assert.ok(events.events.some((e) => e.type === 'transfer' && e.status === 'exists'));
    const pushed = await pushImage(pool, new StoreImageReader(store, again.top.descriptor.digest), ref);
    assert.equal(pushed.copiedBlobs, 0);
  });

  it('pulls by digest and refuses a digest the registry does not have', async () => {
    const store = await Store.open(join(dir, 'c'));
    const reader = new RegistryReader(
      pool.client(registry.host),
      parseReference(`${registry.host}/team/app:1`),
    );
    const top = await reader.resolve();
    const byDigest = parseReference(`${registry.host}/team/app@${top.descriptor.digest}`);
    const result = await pullImage(pool, byDigest, store.blobs);
    assert.equal(result.top.descriptor.digest, top.descriptor.digest);
    const missing = parseReference(`${registry.host}/team/app@sha256:${'0'.repeat(64)}`);
    await assert.rejects(pullImage(pool, missing, store.blobs), (error: unknown) => {
      assert.ok(error instanceof RegistryError);
      assert.equal(error.status, 404);
      assert.equal(error.code, 'REGISTRY_NOT_FOUND');
      assert.equal(error.diagnostics[0]?.code, 'MANIFEST_UNKNOWN');
      assert.equal(error.temporary, false);
      return true;
    });
  });

  it('mounts blobs across repositories of the same registry instead of uploading them', async () => {
    const store = await Store.open(join(dir, 'b'));
    const from = parseReference(`${registry.host}/team/app:1`);
    const to = parseReference(`${registry.host}/other/app:copy`);
    const events = new CollectingSink();
    const result = await pushImage(pool, new RegistryReader(pool.client(registry.host), from), to, {
      events,
    });
    assert.equal(result.copiedBlobs, 0);
    const mounted = events.events.filter((e) => e.type === 'transfer' && e.status === 'mounted');
    assert.equal(mounted.length, 4);
    const pulled = await pullImage(pool, to, store.blobs);
    assert.equal(pulled.top.descriptor.digest, result.top.descriptor.digest);
  });

  it('uploads large blobs in chunks (PATCH with Content-Range) and the registry reassembles them', async () => {
    const source = await Store.open(join(dir, 'd'));
    const image = await writeTestImage(source, { layerSizes: [3_500_000, 10], seed: 7 });
    const ref = parseReference(`${registry.host}/chunked/app:1`);
    const result = await pushImage(pool, new StoreImageReader(source, image.manifest.digest), ref, {
      chunkSize: 1 << 20,
    });
    assert.equal(result.copiedBlobs, 3);
    const target = await Store.open(join(dir, 'e'));
    const pulled = await pullImage(pool, ref, target.blobs);
    const manifest = parseManifest(await target.blobs.read(pulled.top.descriptor.digest));
    assert.equal(manifest.layers[0]!.size, image.layers[0]!.size);
    assert.deepEqual(
      await target.blobs.read(image.layers[0]!.digest),
      await source.blobs.read(image.layers[0]!.digest),
    );
  });

  it('leaves nothing in the store when a pull fails', async () => {
    const store = await Store.open(join(dir, 'f'));
    const missing = parseReference(`${registry.host}/nothing/here:1`);
    await assert.rejects(pullImage(pool, missing, store.blobs), RegistryError);
    assert.deepEqual(await store.blobs.list(), []);
    assert.deepEqual(await readdir(join(dir, 'f', 'tmp')), []);
  });
});

describe('push from the store mounts blobs from the repository the image is named after', () => {
  it('mounts when the source name is another repository of the same registry, uploads otherwise', async () => {
    const registry = await startRegistry();
    const dir = await mkdtemp(join(tmpdir(), 'strata-mountguess-'));
    const pool = new RegistryPool();
    try {
      const store = await Store.open(join(dir, 's'));
      const image = await writeTestImage(store, { layerSizes: [30_000, 2_000], seed: 71 });
      const first = `${registry.host}/team/base:1`;
      await store.tag({ full: first, short: first }, image.manifest);
      const initial = await pushImage(pool, new StoreImageReader(store, first), parseReference(first));
      assert.equal(initial.copiedBlobs, 3, 'the source repository is the target: uploaded');
      const events = new CollectingSink();
      const second = await pushImage(
        pool,
        new StoreImageReader(store, first),
        parseReference(`${registry.host}/team/derived:1`),
        { events },
      );
      assert.equal(second.copiedBlobs, 0);
      assert.equal(events.events.filter((e) => e.type === 'transfer' && e.status === 'mounted').length, 3);
      // A name whose repository never held the blobs: the registry declines the mount (202), the
      // session is cancelled, and the blobs are uploaded.
      const unknown = `${registry.host}/never/pushed:1`;
      await store.tag({ full: unknown, short: unknown }, image.manifest);
      const third = await pushImage(
        pool,
        new StoreImageReader(store, unknown),
        parseReference(`${registry.host}/fresh/x:1`),
      );
      assert.equal(third.copiedBlobs, 3);
    } finally {
      await pool.close();
      await registry.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
