import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DigestMismatchError } from '../../src/oci/index.ts';
import { CollectingSink } from '../../src/progress/index.ts';
import { parseReference } from '../../src/reference/index.ts';
import { pullImage, pushImage, RegistryPool, staticCredentials } from '../../src/registry/index.ts';
import { Store } from '../../src/store/index.ts';
import { StoreImageReader } from '../../src/transport/index.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { writeTestImage } from '../support/images.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

const PATIENT = { attempts: 12, minDelayMs: 2, maxDelayMs: 20 };

describe('registry faults: dropped connections, 500 and 429 (seeded chaos proxy)', () => {
  let registry: TestRegistry;
  let dir: string;
  let seeded: { manifest: string; layers: string[] };

  before(async () => {
    registry = await startRegistry();
    dir = await mkdtemp(join(tmpdir(), 'strata-faults-'));
    const store = await Store.open(join(dir, 'seed'));
    const image = await writeTestImage(store, { layerSizes: [1_500_000, 900_000, 400_000, 1_000], seed: 11 });
    const pool = new RegistryPool();
    try {
      await pushImage(
        pool,
        new StoreImageReader(store, image.manifest.digest),
        parseReference(`${registry.host}/chaos/app:1`),
      );
    } finally {
      await pool.close();
    }
    seeded = { manifest: image.manifest.digest, layers: image.layers.map((l) => l.digest) };
  });
  after(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('completes a pull through drops, 500s and 429s, resuming blobs with Range, and stores only verified blobs', async () => {
    const proxy = await startFaultProxy(registry.host, {
      seed: 42,
      error500: 0.15,
      error429: 0.1,
      dropBlob: 0.4,
    });
    const pool = new RegistryPool({ retry: PATIENT });
    try {
      const store = await Store.open(join(dir, 'pulled'));
      const events = new CollectingSink();
      const result = await pullImage(pool, parseReference(`${proxy.host}/chaos/app:1`), store.blobs, {
        events,
      });
      assert.equal(result.top.descriptor.digest, seeded.manifest);
      assert.ok(proxy.stats.droppedDownloads > 0, 'some downloads were cut');
      assert.ok(proxy.stats.rangeRequests > 0, 'cut downloads resumed with Range');
      assert.ok(proxy.stats.error500 + proxy.stats.error429 > 0, 'some requests failed');
      assert.ok(events.events.some((e) => e.type === 'transfer' && e.status === 'retrying'));
      assert.deepEqual(await store.verify(), []);
      for (const layer of seeded.layers) assert.ok(await store.blobs.has(layer as never));
      assert.deepEqual(await readdir(join(dir, 'pulled', 'tmp')), []);
    } finally {
      await pool.close();
      await proxy.stop();
    }
  });

  it('completes monolithic and chunked pushes through drops, 500s and 429s; the registry holds the exact bytes', async () => {
    const proxy = await startFaultProxy(registry.host, {
      seed: 7,
      error500: 0.15,
      error429: 0.1,
      dropBlob: 0.3,
    });
    const pool = new RegistryPool({ retry: PATIENT });
    const direct = new RegistryPool();
    try {
      const source = await Store.open(join(dir, 'src'));
      const image = await writeTestImage(source, { layerSizes: [6_000_000, 300_000, 5_000], seed: 12 });
      for (const [tag, chunkSize] of [
        ['mono', 64 << 20],
        ['chunked', 1 << 20],
      ] as const) {
        await pushImage(
          pool,
          new StoreImageReader(source, image.manifest.digest),
          parseReference(`${proxy.host}/chaos/${tag}:1`),
          { chunkSize },
        );
        const check = await Store.open(join(dir, `check-${tag}`));
        const pulled = await pullImage(
          direct,
          parseReference(`${registry.host}/chaos/${tag}:1`),
          check.blobs,
        );
        assert.equal(pulled.top.descriptor.digest, image.manifest.digest);
        assert.deepEqual(await check.verify(), []);
      }
      assert.ok(proxy.stats.droppedUploads > 0, 'some uploads were cut');
      assert.ok(
        proxy.stats.uploadStatusChecks > 0,
        `interrupted chunked uploads asked where to resume: ${JSON.stringify(proxy.stats)}`,
      );
      assert.ok(proxy.stats.error500 + proxy.stats.error429 > 0);
    } finally {
      await pool.close();
      await direct.close();
      await proxy.stop();
    }
  });

  it('refuses corrupted blob bytes: DigestMismatchError and nothing lands in the store', async () => {
    const proxy = await startFaultProxy(registry.host, { seed: 1, corruptBlobs: true });
    const pool = new RegistryPool({ retry: PATIENT });
    try {
      const store = await Store.open(join(dir, 'corrupt'));
      await assert.rejects(
        pullImage(pool, parseReference(`${proxy.host}/chaos/app:1`), store.blobs),
        DigestMismatchError,
      );
      assert.deepEqual(await store.blobs.list(), []);
      assert.deepEqual(await readdir(join(dir, 'corrupt', 'tmp')), []);
    } finally {
      await pool.close();
      await proxy.stop();
    }
  });
});

describe('registry redirects to blob storage', () => {
  it('follows a 307 to another host without sending the registry Authorization there', async () => {
    const registry = await startRegistry({ auth: { kind: 'htpasswd', users: { carol: 'pw-carol' } } });
    const proxy = await startFaultProxy(registry.host, { seed: 3, redirectBlobs: true });
    const dir = await mkdtemp(join(tmpdir(), 'strata-redirect-'));
    const credentials = staticCredentials({
      [registry.host]: { username: 'carol', password: 'pw-carol' },
      [proxy.host]: { username: 'carol', password: 'pw-carol' },
    });
    const pool = new RegistryPool({ credentials, retry: PATIENT });
    try {
      const source = await Store.open(join(dir, 'src'));
      const image = await writeTestImage(source, { layerSizes: [100_000, 2_000], seed: 13 });
      await pushImage(
        pool,
        new StoreImageReader(source, image.manifest.digest),
        parseReference(`${registry.host}/r/app:1`),
      );
      const store = await Store.open(join(dir, 'dst'));
      const result = await pullImage(pool, parseReference(`${proxy.host}/r/app:1`), store.blobs);
      assert.equal(result.top.descriptor.digest, image.manifest.digest);
      assert.ok(proxy.stats.redirected >= 3, 'config and layers were redirected');
      assert.ok(proxy.stats.storageRequests >= 3);
      assert.equal(proxy.stats.storageSawAuthorization, 0);
      assert.deepEqual(await store.verify(), []);
    } finally {
      await pool.close();
      await proxy.stop();
      await registry.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
