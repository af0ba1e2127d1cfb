import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { copyImage, imageWriterFor } from '../../src/api/copy.ts';
import { withRegistryPool } from '../../src/api/registry-access.ts';
import { type Descriptor, parseImageConfig, parseManifest, validateImage } from '../../src/oci/index.ts';
import { Store } from '../../src/store/index.ts';
import {
  type ImageReader,
  type ImageWriter,
  parseImageLocation,
  StoreImageReader,
  transferImage,
} from '../../src/transport/index.ts';
import { writeTestImage } from '../support/images.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

/** What one transport under test is: where it writes, what it promises, how to look for leftovers. */
interface TransportCase {
  /** The location for the destination `name` (a fresh name per test). */
  readonly location: (name: string) => string;
  /** The written manifest keeps the source's digest (not so for docker-archive's uncompressed layers). */
  readonly preservesManifest: boolean;
  /** A second write skips the blobs the destination holds (an archive is rewritten whole). */
  readonly skipsPresent: boolean;
  /** The writer for `location(name)`: the store transport writes into `store`. */
  readonly store?: (dir: string) => Promise<Store>;
  /**
   * What a failed write to `location(name)` left behind that it must not: partial files or
   * directories, an unverified or the broken blob, the name it was to be given. Empty when none.
   */
  readonly leftovers: (name: string, broken: Descriptor) => Promise<string[]>;
}

/** Every file under `dir` (relative paths), or none when it does not exist. */
async function filesUnder(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => !e.isDirectory()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

/** A blob file whose bytes are not its name's digest, a temp file, or the broken blob: all leftovers. */
async function layoutLeftovers(root: string, broken: Descriptor): Promise<string[]> {
  const found: string[] = [];
  for (const file of await filesUnder(root)) {
    const blob = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(file);
    if (!blob) {
      if (file !== 'oci-layout' && file !== 'index.json') found.push(`${file}: not a blob`);
      continue;
    }
    const hex = createHash('sha256')
      .update(await readFile(join(root, file)))
      .digest('hex');
    if (hex !== blob[1]) found.push(`${file}: unverified bytes`);
    if (`sha256:${blob[1]}` === broken.digest) found.push(`${file}: the broken blob`);
  }
  return found;
}

/**
 * One conformance suite for every image transport (an `ImageWriter` and its `ImageReader`):
 * an image written and read back is the same image; a second write skips what is there; a write
 * that meets a corrupt blob, or is aborted, fails and leaves nothing behind — no partial file,
 * directory or blob, and no name for the image.
 */
function describeTransport(name: string, make: (dir: string, registry: TestRegistry) => TransportCase): void {
  describe(`image transport conformance: ${name}`, () => {
    let registry: TestRegistry;
    let dir: string;
    let source: Store;
    let manifestDigest: string;
    let bigLayer: Descriptor;
    let transport: TransportCase;

    before(async () => {
      registry = await startRegistry();
      dir = await mkdtemp(join(tmpdir(), `strata-conformance-${name}-`));
      source = await Store.open(join(dir, 'source'));
      const image = await writeTestImage(source, { layerSizes: [400_000, 3_000, 0], seed: 101 });
      await source.tag({ full: 'docker.io/library/conf:1', short: 'conf:1' }, image.manifest);
      manifestDigest = image.manifest.digest;
      bigLayer = image.layers[0]!;
      transport = make(dir, registry);
    });
    after(async () => {
      await registry?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it('round-trips an image: same config and diff_ids, same bytes, valid, readable back into the store', async () => {
      const location = transport.location('conf');
      const written = await copyImage('strata:conf:1', location, { store: source });
      if (transport.preservesManifest) assert.equal(written.descriptor.digest, manifestDigest);
      // The strata transport's destination is the store itself; the others read back into a fresh one.
      const target = location.startsWith('strata:') ? source : await Store.open(join(dir, 'target'));
      const back = await copyImage(location, 'strata:back:1', { store: target });
      const original = await source.image(manifestDigest as never);
      const copied = await target.image(back.descriptor.digest);
      assert.deepEqual(validateImage(copied), []);
      assert.deepEqual(copied.rawConfig, original.rawConfig);
      assert.deepEqual(parseImageConfig(copied.rawConfig).rootfs.diff_ids, original.config.rootfs.diff_ids);
      assert.equal(parseManifest(copied.rawManifest).layers.length, 3);
      if (transport.preservesManifest) {
        assert.equal(back.descriptor.digest, manifestDigest);
        assert.deepEqual(copied.rawManifest, original.rawManifest);
      }
      assert.deepEqual(await target.verify(), []);
    });

    it('writes again without copying what the destination holds', async () => {
      const again = await copyImage('strata:conf:1', transport.location('conf'), { store: source });
      if (transport.skipsPresent) assert.equal(again.copiedBlobs, 0);
      else assert.equal(again.copiedBlobs, 4);
    });

    /** Writes the source image to `location(destination)` through `reader`; the failure it ends with. */
    async function failedWrite(
      destination: string,
      reader: ImageReader,
      signal?: AbortSignal,
    ): Promise<unknown> {
      const store = transport.store ? await transport.store(dir) : undefined;
      try {
        return await withRegistryPool({}, async (pool) => {
          const location = parseImageLocation(transport.location(destination));
          const writer: ImageWriter = imageWriterFor(location, pool, store ? { store } : {});
          try {
            await transferImage(reader, writer, signal ? { signal } : {});
          } catch (error) {
            return error;
          }
          assert.fail('the write succeeded');
        });
      } finally {
        await store?.close();
      }
    }

    it('refuses a corrupt blob and leaves nothing behind', async () => {
      const reader = readerWith(new StoreImageReader(source, 'conf:1'), bigLayer, (bytes) => {
        const corrupt = Buffer.from(bytes);
        corrupt[corrupt.length >> 1]! ^= 0xff;
        return Readable.from([corrupt]);
      });
      const error = await failedWrite('corrupt', reader);
      assert.ok(isCorruption(error), `not a corruption: ${String(error)}`);
      assert.deepEqual(await transport.leftovers('corrupt', bigLayer), []);
    });

    it('stops an aborted write and leaves nothing behind', async () => {
      const controller = new AbortController();
      const reader = readerWith(new StoreImageReader(source, 'conf:1'), bigLayer, (bytes) => {
        // Half the blob, then the abort; the rest only later, so a writer that ignored the
        // signal would finish (and the test fail) rather than hang.
        const stream = new Readable({ read() {} });
        stream.push(bytes.subarray(0, bytes.length >> 1));
        setImmediate(() => {
          controller.abort();
          setTimeout(() => {
            if (stream.destroyed) return;
            stream.push(bytes.subarray(bytes.length >> 1));
            stream.push(null);
          }, 500);
        });
        return stream;
      });
      const error = await failedWrite('aborted', reader, controller.signal);
      // An abort is reported as one, never as a damaged blob (the blobs in flight are cut short).
      assert.ok(isAbort(error), `not an abort: ${String(error)}`);
      assert.deepEqual(await transport.leftovers('aborted', bigLayer), []);
    });
  });
}

/** The error a writer raises for bytes that are not the blob's: a digest mismatch, a damaged layer, a registry's refusal. */
function isCorruption(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (code === 'DIGEST_MISMATCH' || code === 'BLOB_CORRUPT') return true;
  return code === 'REGISTRY' && /DIGEST_INVALID/.test(String((error as Error).message));
}

/** The error an aborted write ends with: Node's AbortError or strata's AbortedError. */
function isAbort(error: unknown): boolean {
  const { name, code } = error as { name?: unknown; code?: unknown };
  return name === 'AbortError' || code === 'ABORTED' || code === 'ABORT_ERR';
}

/** `inner`, except that `blob` is read through `replace` (given its true bytes). */
function readerWith(inner: ImageReader, blob: Descriptor, replace: (bytes: Buffer) => Readable): ImageReader {
  return {
    name: inner.name,
    resolve: (signal) => inner.resolve(signal),
    readManifest: (descriptor, signal) => inner.readManifest(descriptor, signal),
    async openBlob(descriptor, options) {
      if (descriptor.digest !== blob.digest) return inner.openBlob(descriptor, options);
      const chunks: Buffer[] = [];
      for await (const chunk of await inner.openBlob(descriptor)) chunks.push(chunk as Buffer);
      return replace(Buffer.concat(chunks));
    },
  };
}

describeTransport('oci', (dir) => ({
  location: (name) => `oci:${join(dir, `layout-${name}`)}:conf`,
  preservesManifest: true,
  skipsPresent: true,
  leftovers: async (name, broken) => {
    // The failed writes go to a new directory: the writer made it, so it must remove it. (In a
    // layout that was there before, complete verified blobs may stay, as in the store.)
    const root = join(dir, `layout-${name}`);
    const found = await layoutLeftovers(root, broken);
    if (existsSync(root)) found.push(`${root}: the new layout directory is still there`);
    if (existsSync(join(root, 'index.json'))) {
      const index = JSON.parse(await readFile(join(root, 'index.json'), 'utf8')) as { manifests: unknown[] };
      if (index.manifests.length > 0) found.push('index.json: names an image');
    }
    return found;
  },
}));
describeTransport('docker-archive', (dir) => ({
  location: (name) => `docker-archive:${join(dir, `${name}.tar`)}:conf:1`,
  preservesManifest: false, // layers are stored uncompressed, as docker save does
  skipsPresent: false, // an archive is rewritten whole
  // No archive, and no temp file or directory beside it (`.<name>.tar.tmp-…`, `.<name>.tar.parts-…`).
  leftovers: async (name) =>
    (await readdir(dir)).filter((entry) => entry === `${name}.tar` || entry.startsWith(`.${name}.tar.`)),
}));
describeTransport('docker', (_dir, registry) => ({
  location: (name) => `docker://${registry.host}/conformance/${name}:1`,
  preservesManifest: true,
  skipsPresent: true,
  // A registry verifies what it is sent: the broken blob must not be there, nor the tag. Upload
  // sessions are not checked: distribution keeps the bytes of a refused or aborted upload until
  // its upload purge (a week by default), and once a body was sent the session's `_state` token is
  // stale, so a DELETE to cancel it is refused (404 BLOB_UPLOAD_INVALID) — nothing a client can do.
  leftovers: async (name, broken) => {
    const found: string[] = [];
    const blob = await fetch(`${registry.url}/v2/conformance/${name}/blobs/${broken.digest}`, {
      method: 'HEAD',
    });
    if (blob.status !== 404) found.push(`blob ${broken.digest}: ${blob.status}`);
    const tag = await fetch(`${registry.url}/v2/conformance/${name}/manifests/1`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    if (tag.status !== 404) found.push(`tag ${name}:1: ${tag.status}`);
    return found;
  },
}));
describeTransport('strata', (dir) => ({
  location: (name) => `strata:${name === 'conf' ? 'conf-copy' : name}:1`,
  preservesManifest: true,
  skipsPresent: true,
  // The failing writes go to a store of their own, so that the blobs are really written.
  store: (root) => Store.open(join(root, 'destination')),
  leftovers: async (name, broken) => {
    const store = await Store.open(join(dir, 'destination'));
    const found = (await readdir(join(dir, 'destination', 'tmp')).catch(() => [] as string[]))
      .filter((f) => f !== 'empty')
      .map((f) => `tmp/${f}`);
    if (await store.blobs.has(broken.digest)) found.push(`blob ${broken.digest}`);
    if (await store.refs.get(`docker.io/library/${name}:1`)) found.push(`name ${name}:1`);
    found.push(...(await store.verify()).map((problem) => String(problem)));
    await store.close();
    return found;
  },
}));
