import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseReference } from '../../src/reference/index.ts';
import { pullImage, pushImage, RegistryPool } from '../../src/registry/index.ts';
import { Store } from '../../src/store/index.ts';
import { StoreImageReader } from '../../src/transport/index.ts';
import { writeTestImage } from '../support/images.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

describe('registries behind an HTTP proxy (HTTPS_PROXY / HTTP_PROXY / NO_PROXY)', () => {
  let registry: TestRegistry;
  let proxy: Server;
  let proxyUrl: string;
  let dir: string;
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();

  before(async () => {
    registry = await startRegistry();
    dir = await mkdtemp(join(tmpdir(), 'strata-httpproxy-'));
    // A minimal CONNECT proxy, as corporate proxies tunnel registry traffic.
    proxy = createServer((_req, res) => res.writeHead(405).end());
    proxy.on('connect', (req, client: Socket, head: Buffer) => {
      tunnels.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(':');
      const upstream = connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length > 0) upstream.write(head);
        upstream.pipe(client).pipe(upstream);
      });
      sockets.add(client).add(upstream);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    const store = await Store.open(join(dir, 'src'));
    const image = await writeTestImage(store, { layerSizes: [8_000], seed: 91 });
    const direct = new RegistryPool();
    try {
      await pushImage(
        direct,
        new StoreImageReader(store, image.manifest.digest),
        parseReference(`${registry.host}/p/app:1`),
      );
    } finally {
      await direct.close();
    }
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('tunnels every registry request through the proxy', async () => {
    const pool = new RegistryPool({ env: { HTTP_PROXY: proxyUrl, HTTPS_PROXY: proxyUrl } });
    try {
      const store = await Store.open(join(dir, 'a'));
      const result = await pullImage(pool, parseReference(`${registry.host}/p/app:1`), store.blobs);
      assert.equal(result.copiedBlobs, 2);
      assert.ok(tunnels.includes(registry.host), `tunnels: ${tunnels.join(', ')}`);
    } finally {
      await pool.close();
    }
  });

  it('goes direct for hosts in NO_PROXY', async () => {
    const before = tunnels.length;
    const pool = new RegistryPool({
      env: { HTTP_PROXY: proxyUrl, HTTPS_PROXY: proxyUrl, NO_PROXY: '127.0.0.1' },
    });
    try {
      const store = await Store.open(join(dir, 'b'));
      await pullImage(pool, parseReference(`${registry.host}/p/app:1`), store.blobs);
      assert.equal(tunnels.length, before);
    } finally {
      await pool.close();
    }
  });
});
