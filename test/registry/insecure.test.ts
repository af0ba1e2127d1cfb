import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseReference } from '../../src/reference/index.ts';
import {
  openRemoteImage,
  pullImage,
  pushImage,
  RegistryError,
  RegistryPool,
} from '../../src/registry/index.ts';
import { Store } from '../../src/store/index.ts';
import { StoreImageReader } from '../../src/transport/index.ts';
import { writeTestImage } from '../support/images.ts';
import { externalAddress, startRegistry, type TestRegistry } from '../support/registry.ts';

describe('plain HTTP only for loopback and --insecure-registry hosts', () => {
  let registry: TestRegistry;
  let forwarder: Server;
  let external: string;
  let dir: string;
  const sockets = new Set<Socket>();

  before(async () => {
    registry = await startRegistry();
    dir = await mkdtemp(join(tmpdir(), 'strata-insecure-'));
    // The same plain-HTTP registry, reachable on a non-loopback address.
    const address = externalAddress();
    forwarder = createServer((socket) => {
      const upstream = connect(registry.port, '127.0.0.1');
      sockets.add(socket).add(upstream);
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => forwarder.listen(0, address, resolve));
    const port = (forwarder.address() as { port: number }).port;
    external = `${address}:${port}`;
    const store = await Store.open(join(dir, 'src'));
    const image = await writeTestImage(store, { layerSizes: [4_000], seed: 61 });
    const pool = new RegistryPool();
    try {
      await pushImage(
        pool,
        new StoreImageReader(store, image.manifest.digest),
        parseReference(`${registry.host}/i/app:1`),
      );
    } finally {
      await pool.close();
    }
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => (forwarder ? forwarder.close(() => resolve()) : resolve()));
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses to fall back to HTTP for a host that is not listed (TLS only)', async () => {
    const pool = new RegistryPool({ retry: { attempts: 2, minDelayMs: 1, maxDelayMs: 5 } });
    try {
      const store = await Store.open(join(dir, 'a'));
      await assert.rejects(
        pullImage(pool, parseReference(`${external}/i/app:1`), store.blobs),
        (error: unknown) => {
          assert.ok(error instanceof RegistryError);
          assert.equal(error.status, undefined);
          assert.match(
            error.message,
            new RegExp(`GET https://${external.replace(/\./g, '\\.')}/v2/i/app/manifests/1`),
          );
          return true;
        },
      );
    } finally {
      await pool.close();
    }
  });

  it('uses plain HTTP for a host named by --insecure-registry, and serves a lazy remote image', async () => {
    const pool = new RegistryPool({ insecureRegistries: [external] });
    try {
      const store = await Store.open(join(dir, 'b'));
      const result = await pullImage(pool, parseReference(`${external}/i/app:1`), store.blobs);
      assert.equal(result.copiedBlobs, 2);
      const image = await openRemoteImage(pool, parseReference(`${external}/i/app:1`));
      assert.equal(image.digest, result.top.descriptor.digest);
      const chunks: Buffer[] = [];
      for await (const chunk of await image.layers[0]!.open()) chunks.push(chunk as Buffer);
      assert.deepEqual(Buffer.concat(chunks), await store.blobs.read(image.layers[0]!.descriptor.digest));
    } finally {
      await pool.close();
    }
  });
});
