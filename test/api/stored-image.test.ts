/**
 * Naming a stored image as docker does: by digest, name, or image ID (the manifest digest's hex,
 * whole or a unique prefix), in the API and through the CLI commands that take a local image.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { findStoredImage, removeImage, resolveStoredImage, tagImage } from '../../src/api/images.ts';
import { Store } from '../../src/store/index.ts';
import { InvalidInputError, NotFoundError } from '../../src/util/index.ts';
import { runStrata, tempDir } from '../support/cli.ts';
import { type TestImage, writeTestImage } from '../support/images.ts';

describe('stored images by digest, name or ID', () => {
  const work = tempDir('strata-image-id-');
  let store: Store;
  let a: TestImage;
  let b: TestImage;
  const hex = (image: TestImage) => image.manifest.digest.slice(7);

  before(async () => {
    store = await Store.open(work.path);
    a = await writeTestImage(store, { layerSizes: [700], seed: 91 });
    b = await writeTestImage(store, { layerSizes: [800], seed: 92 });
    await store.tag({ full: 'docker.io/library/app:1', short: 'app:1' }, a.manifest);
  });
  after(() => work.cleanup());

  it('finds an image by digest, name, whole hex and unique prefix, named or not', async () => {
    for (const text of [a.manifest.digest, 'app:1', 'app:1', hex(a), hex(a).slice(0, 12), hex(a).slice(0, 4)])
      assert.equal((await findStoredImage(store, text))?.digest, a.manifest.digest, text);
    // b has no name: its ID still finds it (an untagged build), as docker finds dangling images.
    assert.equal((await findStoredImage(store, hex(b).slice(0, 10)))?.digest, b.manifest.digest);
    assert.equal(await findStoredImage(store, 'missing:1'), undefined);
    // A layer's digest is no image; a config's is docker's image ID (what `strata images` shows).
    assert.equal(await findStoredImage(store, a.layers[0]!.digest), undefined);
    const configHex = hex({ manifest: a.config } as TestImage);
    for (const text of [configHex.slice(0, 12), configHex, a.config.digest])
      assert.equal((await findStoredImage(store, text))?.digest, a.manifest.digest, text);
    assert.equal(
      (await findStoredImage(store, hex({ manifest: b.config } as TestImage).slice(0, 12)))?.digest,
      b.manifest.digest,
      'an unnamed image by its image ID',
    );
    await assert.rejects(resolveStoredImage(store, 'missing:1'), NotFoundError);
  });

  it('prefers a name over an ID prefix, and refuses an ambiguous prefix', async () => {
    const prefix = hex(b).slice(0, 6);
    await store.tag({ full: `docker.io/library/${prefix}:latest`, short: `${prefix}:latest` }, a.manifest);
    assert.equal((await findStoredImage(store, prefix))?.digest, a.manifest.digest);
    await removeImage(store, prefix);
    assert.equal((await findStoredImage(store, prefix))?.digest, b.manifest.digest);
    // Two manifests whose digests share their first four hex digits (found by trying annotations).
    const seen = new Map<string, Buffer>();
    let pair: [Buffer, Buffer] | undefined;
    for (let i = 0; !pair; i++) {
      const raw = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: a.config,
          layers: a.layers,
          annotations: { n: String(i) },
        }),
      );
      const key = createHash('sha256').update(raw).digest('hex').slice(0, 4);
      const other = seen.get(key);
      if (other) pair = [other, raw];
      else seen.set(key, raw);
    }
    const [first, second] = await Promise.all(pair.map((raw) => store.blobs.writeBytes(raw)));
    const shared = first!.digest.slice(7, 11);
    await assert.rejects(findStoredImage(store, shared), (error: unknown) => {
      assert.ok(error instanceof InvalidInputError);
      assert.match(error.message, new RegExp(`image ID ${shared} is ambiguous: 2 images`));
      return true;
    });
    assert.equal((await findStoredImage(store, second!.digest.slice(7, 19)))?.digest, second!.digest);
  });

  it('tags and untags by ID; an ID with several names is refused', async () => {
    await tagImage(store, hex(b).slice(0, 8), 'bee:1');
    assert.equal((await store.resolve('docker.io/library/bee:1')).digest, b.manifest.digest);
    assert.deepEqual(await removeImage(store, hex(b).slice(0, 8)), {
      name: 'bee:1',
      digest: b.manifest.digest,
    });
    await assert.rejects(removeImage(store, hex(b).slice(0, 8)), /has no name to remove/);
    await tagImage(store, 'app:1', 'app:2');
    await assert.rejects(removeImage(store, hex(a).slice(0, 8)), /has 2 names: .*app:1.*app:2/);
  });

  it('strata inspect, analyze and tag take the ID that build -q and images print', async () => {
    const id = hex(a).slice(0, 12);
    const inspected = await runStrata(['inspect', id], { root: work.path });
    assert.equal(inspected.code, 0, inspected.stderr);
    assert.match(inspected.stdout, new RegExp(`Digest: +${a.manifest.digest}`));
    const whole = await runStrata(['inspect', hex(a)], { root: work.path });
    assert.equal(whole.code, 0, whole.stderr);
    const analyzed = await runStrata(['analyze', id], { root: work.path });
    assert.equal(analyzed.code, 0, analyzed.stderr);
    assert.match(analyzed.stdout, new RegExp(a.manifest.digest));
    assert.equal((await runStrata(['tag', id, 'cli:1'], { root: work.path })).code, 0);
    const removed = await runStrata(['rmi', 'cli:1'], { root: work.path });
    assert.equal(removed.stdout, `Untagged: cli:1@${a.manifest.digest}\n`);
  });
});
