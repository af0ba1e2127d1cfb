/**
 * Test helper: small but real images written into a strata store — each layer a valid tar with
 * one file of seeded pseudo-random (incompressible) content, gzip-compressed, with correct
 * diff_ids and history — so registries and skopeo accept them.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import {
  type Descriptor,
  digestOf,
  imageFromParts,
  type Layer,
  MediaTypes,
  type Platform,
  sha256Digest,
} from '../../src/oci/index.ts';
import { readableFrom, type Store } from '../../src/store/index.ts';
import { seededRandom } from './fault-proxy.ts';

/** Seeded pseudo-random bytes. */
export function randomBytesSeeded(size: number, seed: number): Buffer {
  const random = seededRandom(seed);
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i + 4 <= size; i += 4) out.writeUInt32LE(Math.floor(random() * 2 ** 32), i);
  for (let i = size - (size % 4); i < size; i++) out[i] = Math.floor(random() * 256);
  return out;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** A tar archive (ustar) holding one regular file. */
export function tarWithFile(name: string, content: Uint8Array): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write(octal(0o644, 8), 100);
  header.write(octal(0, 8), 108);
  header.write(octal(0, 8), 116);
  header.write(octal(content.length, 12), 124);
  header.write(octal(1_700_000_000, 12), 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

/** What {@link writeTestImage} made. */
export interface TestImage {
  readonly manifest: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly config: Descriptor;
}

/** Writes an image with one layer per entry of `layerSizes` (bytes of file content) into `store`. */
export async function writeTestImage(
  store: Store,
  options: { layerSizes: readonly number[]; seed: number; platform?: Platform; format?: 'oci' | 'docker' },
): Promise<TestImage> {
  const layers: Layer[] = [];
  const diffIds = [];
  for (const [i, size] of options.layerSizes.entries()) {
    const tar = tarWithFile(`file-${i}.bin`, randomBytesSeeded(size, options.seed * 1000 + i));
    const diffId = sha256Digest(createHash('sha256').update(tar).digest('hex'));
    const blob = gzipSync(tar, { level: 1 });
    const descriptor: Descriptor = {
      mediaType: options.format === 'docker' ? MediaTypes.dockerLayerGzip : MediaTypes.ociLayerGzip,
      digest: digestOf(blob),
      size: blob.length,
    };
    await store.blobs.writeBytes(blob);
    diffIds.push(diffId);
    layers.push({ descriptor, diffId, open: async () => readableFrom(blob) });
  }
  const platform = options.platform ?? { os: 'linux', architecture: 'amd64' };
  const image = imageFromParts({
    format: options.format ?? 'oci',
    config: {
      created: '2024-01-01T00:00:00Z',
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `layer ${i}` })),
    },
    layers,
  });
  const manifest = await store.writeImage(image);
  return { manifest, layers: layers.map((l) => l.descriptor), config: image.manifest.config };
}
