import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { type Digest, digestOf, imageFromParts, MediaTypes, parseDigest } from '../../src/oci/index.ts';
import { Store } from '../../src/store/index.ts';
import { tempDir } from '../support/cli.ts';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('content store', () => {
  const dir = tempDir('strata-store-');
  let store: Store;
  before(async () => {
    store = await Store.open(dir.path);
  });
  after(async () => {
    await store.close();
    dir.cleanup();
  });

  it('is an OCI image layout from the start', () => {
    assert.deepEqual(JSON.parse(readFileSync(join(dir.path, 'oci-layout'), 'utf8')), {
      imageLayoutVersion: '1.0.0',
    });
    assert.equal(JSON.parse(readFileSync(join(dir.path, 'index.json'), 'utf8')).schemaVersion, 2);
  });

  it('ingests a stream and stores it under its sha256', async () => {
    const data = Buffer.from('hello layer');
    const info = await store.blobs.ingest(Readable.from([data]));
    assert.equal(info.digest, digestOf(data));
    assert.equal(info.size, data.length);
    assert.deepEqual(readFileSync(store.blobs.path(info.digest)), data);
    assert.deepEqual(await readAll(await store.blobs.open(info.digest)), data);
  });

  it('rejects content that does not match the expected digest and leaves nothing behind', async () => {
    const expected = digestOf('something else');
    await assert.rejects(store.blobs.ingest(Readable.from([Buffer.from('actual')]), { digest: expected }), {
      code: 'DIGEST_MISMATCH',
    });
    assert.equal(await store.blobs.has(expected), false);
    assert.equal(await store.blobs.has(digestOf('actual')), false);
    assert.deepEqual(readdirSync(join(dir.path, 'tmp')), []);
  });

  it('rejects content of the wrong size', async () => {
    const data = Buffer.from('sized');
    await assert.rejects(
      store.blobs.ingest(Readable.from([data]), { digest: digestOf(data), size: 99 }),
      /size mismatch/,
    );
    assert.equal(await store.blobs.has(digestOf(data)), false);
  });

  it('fails a read of a corrupted blob instead of returning wrong bytes, and verify reports it', async () => {
    const info = await store.blobs.writeBytes(Buffer.from('precious bytes'));
    writeFileSync(store.blobs.path(info.digest), 'tampered bytes');
    await assert.rejects(readAll(await store.blobs.open(info.digest)), { code: 'DIGEST_MISMATCH' });
    await assert.rejects(store.blobs.read(info.digest), { code: 'DIGEST_MISMATCH' });
    const problems = await store.verify();
    assert.ok(problems.some((p) => p.digest === info.digest && /content hashes to/.test(p.problem)));
    await store.blobs.remove(info.digest);
  });

  it('writes an image, names it, and reads it back equal', async () => {
    const layerBytes = Buffer.from('not really a tar, but a blob');
    const layerInfo = await store.blobs.writeBytes(layerBytes);
    const image = imageFromParts({
      config: {
        os: 'linux',
        architecture: 'amd64',
        rootfs: { type: 'layers', diff_ids: [digestOf('uncompressed')] },
      },
      layers: [
        {
          descriptor: { mediaType: MediaTypes.ociLayerGzip, digest: layerInfo.digest, size: layerInfo.size },
          diffId: digestOf('uncompressed'),
          open: () => store.blobs.open(layerInfo.digest),
        },
      ],
    });
    const descriptor = await store.writeImage(image);
    await store.tag({ full: 'docker.io/library/roundtrip:1', short: 'roundtrip:1' }, descriptor);
    const back = await store.image(await store.resolve('docker.io/library/roundtrip:1'));
    assert.equal(back.digest, image.digest);
    assert.deepEqual(back.config, image.config);
    assert.deepEqual(await readAll(await back.layers[0]!.open()), layerBytes);
  });

  it('garbage-collects unreferenced blobs and keeps named, leased and rooted ones', async () => {
    const orphan = await store.blobs.writeBytes(Buffer.from('orphan'));
    const leased = await store.blobs.writeBytes(Buffer.from('leased'));
    const rooted = await store.blobs.writeBytes(Buffer.from('rooted'));
    await store.lease.add(leased.digest);
    await store.setRoots('test-cache', [rooted.digest]);
    const named = await store.resolve('docker.io/library/roundtrip:1');
    const result = await store.collectGarbage();
    assert.ok(result.removedBlobs >= 1);
    assert.equal(await store.blobs.has(orphan.digest), false);
    assert.equal(await store.blobs.has(leased.digest), true);
    assert.equal(await store.blobs.has(rooted.digest), true);
    assert.equal(await store.blobs.has(named.digest), true);
    assert.deepEqual(await store.verify(), []);
  });

  it('protects every digest of a lease written in many appends, even with a half-written last line', async () => {
    const blobs = await Promise.all(
      ['one', 'two', 'three'].map((s) => store.blobs.writeBytes(Buffer.from(`appended ${s}`))),
    );
    for (const b of blobs) await store.lease.add(b.digest);
    await store.lease.add(blobs[0]!.digest); // already leased: no new line
    const [leaseFile] = readdirSync(join(dir.path, 'leases'));
    const path = join(dir.path, 'leases', leaseFile!);
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    // One line per add that leased something new (earlier tests' adds come first).
    assert.deepEqual(
      lines.slice(-3).map((l) => (JSON.parse(l) as { digests: string[] }).digests),
      blobs.map((b) => [b.digest]),
    );
    // A concurrent reader may meet a line still being written: it must not lose the others.
    writeFileSync(path, `${readFileSync(path, 'utf8')}{"pid":${process.pid},"digests":["sha256:ab`);
    await store.collectGarbage();
    for (const b of blobs) assert.equal(await store.blobs.has(b.digest), true);
  });

  it('ignores the lease of a dead process', async () => {
    const blob = await store.blobs.writeBytes(Buffer.from('left by a crashed build'));
    // A lease written by a process that no longer exists (pid of an exited child).
    const pid = Number(execFileSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).trim());
    writeFileSync(
      join(dir.path, 'leases', `${pid}-1-dead.json`),
      JSON.stringify({ pid, start: '1', digests: [blob.digest] }),
    );
    await store.collectGarbage();
    assert.equal(await store.blobs.has(blob.digest), false);
    assert.equal(existsSync(join(dir.path, 'leases', `${pid}-1-dead.json`)), false);
  });

  it('refuses to resolve a name that is not there', async () => {
    await assert.rejects(store.resolve('docker.io/library/nope:latest'), {
      code: 'NOT_FOUND',
      message: /image docker.io\/library\/nope:latest not found/,
    });
  });

  it('reports a missing blob of a named image', async () => {
    const image = await store.image(await store.resolve('docker.io/library/roundtrip:1'));
    const layer: Digest = parseDigest(image.layers[0]!.descriptor.digest);
    const saved = readFileSync(store.blobs.path(layer));
    await store.blobs.remove(layer);
    const problems = await store.verify();
    assert.ok(
      problems.some(
        (p) => p.digest === layer && /missing \(needed by docker.io\/library\/roundtrip:1\)/.test(p.problem),
      ),
    );
    writeFileSync(store.blobs.path(layer), saved);
  });
});
