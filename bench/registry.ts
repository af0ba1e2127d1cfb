/**
 * bench/registry: push and pull of a ~500 MB multi-layer image (random, incompressible data in
 * gzip layers) to and from a local CNCF Distribution registry, strata against `skopeo copy`, in
 * the same run. Each tool gets a fresh registry so neither finds the other's blobs.
 *
 *   node --import tsx bench/registry.ts [--mb 500] [--layers 4]
 *
 * Prints one line per measurement and the ratios strata/skopeo (below 1.00 = strata faster).
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pull } from '../src/api/pull.ts';
import { push } from '../src/api/push.ts';
import { type Descriptor, imageFromParts, type Layer, MediaTypes, sha256Digest } from '../src/oci/index.ts';
import { Store } from '../src/store/index.ts';
import { startRegistry } from '../test/support/registry.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

const totalMb = arg('mb', 500);
const layerCount = arg('layers', 4);

/** A tar stream of one file with `size` random bytes (ustar header + data + padding + end). */
function randomTar(size: number): Readable {
  const header = Buffer.alloc(512);
  header.write('random.bin', 0);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  async function* chunks() {
    yield header;
    let left = size;
    while (left > 0) {
      const n = Math.min(left, 1 << 20);
      yield randomBytes(n);
      left -= n;
    }
    yield Buffer.alloc(((512 - (size % 512)) % 512) + 1024);
  }
  return Readable.from(chunks());
}

async function makeImage(store: Store): Promise<Descriptor> {
  const layers: Layer[] = [];
  const diffIds = [];
  const perLayer = Math.floor((totalMb * 1_000_000) / layerCount);
  for (let i = 0; i < layerCount; i++) {
    const pending = await store.blobs.pending();
    const diff = createHash('sha256');
    const blob = createHash('sha256');
    let size = 0;
    await pipeline(
      randomTar(perLayer),
      async function* (source: AsyncIterable<Buffer>) {
        for await (const c of source) {
          diff.update(c);
          yield c;
        }
      },
      createGzip({ level: 1 }),
      async function* (source: AsyncIterable<Buffer>) {
        for await (const c of source) {
          blob.update(c);
          size += c.length;
          yield c;
        }
      },
      createWriteStream(pending.path),
    );
    const info = await pending.commit({ digest: sha256Digest(blob.digest('hex')), size });
    const descriptor: Descriptor = {
      mediaType: MediaTypes.ociLayerGzip,
      digest: info.digest,
      size: info.size,
    };
    diffIds.push(sha256Digest(diff.digest('hex')));
    layers.push({ descriptor, diffId: diffIds[i]!, open: async () => store.blobs.open(info.digest) });
  }
  const image = imageFromParts({
    config: {
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map((_, i) => ({ created_by: `bench layer ${i}` })),
    },
    layers,
  });
  return store.writeImage(image);
}

async function time(label: string, fn: () => Promise<unknown> | unknown): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(
    `${label.padEnd(14)} ${seconds.toFixed(2)} s  ${((totalMb / seconds) | 0).toString().padStart(4)} MB/s`,
  );
  return seconds;
}

const dir = await mkdtemp(join(tmpdir(), 'strata-bench-registry-'));
const registries: Array<{ stop(): Promise<void> }> = [];
try {
  const store = await Store.open(join(dir, 'store'));
  console.log(`building a ${totalMb} MB image in ${layerCount} gzip layers of random data…`);
  const manifest = await makeImage(store);
  await store.tag({ full: 'docker.io/library/bench:1', short: 'bench:1' }, manifest);
  const forStrata = await startRegistry();
  const forSkopeo = await startRegistry();
  registries.push(forStrata, forSkopeo);
  const skopeo = (...args: string[]) =>
    execFileSync('skopeo', ['--insecure-policy', ...args], { stdio: 'inherit' });

  const strataPush = await time('strata push', () =>
    push(store, 'bench:1', { destination: `${forStrata.host}/bench/app:1` }),
  );
  const skopeoPush = await time('skopeo push', () =>
    skopeo(
      'copy',
      '--dest-tls-verify=false',
      `oci:${join(dir, 'store')}:bench:1`,
      `docker://${forSkopeo.host}/bench/app:1`,
    ),
  );
  const pulled = await Store.open(join(dir, 'pulled'));
  const strataPull = await time('strata pull', () => pull(pulled, `${forStrata.host}/bench/app:1`));
  const skopeoPull = await time('skopeo pull', () =>
    skopeo(
      'copy',
      '--src-tls-verify=false',
      `docker://${forSkopeo.host}/bench/app:1`,
      `oci:${join(dir, 'skopeo-out')}:x`,
    ),
  );
  console.log(
    `ratio strata/skopeo: push ${(strataPush / skopeoPush).toFixed(2)}, pull ${(strataPull / skopeoPull).toFixed(2)} (below 1.00 = strata faster)`,
  );
} finally {
  for (const r of registries) await r.stop();
  await rm(dir, { recursive: true, force: true });
}
