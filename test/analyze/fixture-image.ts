/**
 * Test helper: images whose layers GNU tar makes from real directories (so the layer tars are
 * what a real tool writes, `./dir/` entries and all), written into a strata store and named.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { imageNameOf } from '../../src/api/images.ts';
import {
  type Descriptor,
  digestOf,
  type Image,
  imageFromParts,
  type Layer,
  MediaTypes,
} from '../../src/oci/index.ts';
import { readableFrom, type Store } from '../../src/store/index.ts';

/** A layer: paths relative to the root, each a file of `size` bytes (`/`-ended: a directory). */
export interface FixtureLayer {
  readonly createdBy: string;
  /** `etc/conf: 100`; a key ending in `/` makes an empty directory; `.wh.` names are whiteouts. */
  readonly files: Readonly<Record<string, number>>;
}

/** Builds the layer tars with GNU tar, stores the image and names it `name`. */
export async function writeFixtureImage(
  store: Store,
  workDir: string,
  name: string,
  layers: readonly FixtureLayer[],
  options: { emptyHistory?: readonly { readonly before: number; readonly createdBy: string }[] } = {},
): Promise<{ image: Image; descriptor: Descriptor }> {
  const built: Layer[] = [];
  for (const [i, spec] of layers.entries()) {
    const dir = join(workDir, `${name.replace(/[^a-z0-9]/gi, '_')}-layer-${i}`);
    mkdirSync(dir, { recursive: true });
    for (const [path, size] of Object.entries(spec.files)) {
      if (path.endsWith('/')) {
        mkdirSync(join(dir, path), { recursive: true });
        continue;
      }
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), Buffer.alloc(size, i + 1));
    }
    const tar = execFileSync(
      'tar',
      ['-C', dir, '--numeric-owner', '--owner=0', '--group=0', '--sort=name', '--mtime=@0', '-cf', '-', '.'],
      { maxBuffer: 1 << 30 },
    );
    const blob = gzipSync(tar, { level: 1 });
    const descriptor: Descriptor = {
      mediaType: MediaTypes.ociLayerGzip,
      digest: digestOf(blob),
      size: blob.length,
    };
    await store.blobs.writeBytes(blob);
    built.push({ descriptor, diffId: digestOf(tar), open: async () => readableFrom(blob) });
  }
  const history: { created_by: string; empty_layer?: boolean }[] = [];
  for (const [i, spec] of layers.entries()) {
    for (const e of options.emptyHistory ?? [])
      if (e.before === i) history.push({ created_by: e.createdBy, empty_layer: true });
    history.push({ created_by: spec.createdBy });
  }
  const image = imageFromParts({
    config: {
      created: '2024-01-01T00:00:00Z',
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/bin'] },
      rootfs: { type: 'layers', diff_ids: built.map((l) => l.diffId) },
      history,
    },
    layers: built,
  });
  const descriptor = await store.writeImage(image);
  await store.tag(imageNameOf(name), descriptor);
  return { image, descriptor };
}

/**
 * The fixture docs/analyze.md works through by hand: an overwritten config, a removed temp file,
 * a removed directory and an opaque directory.
 */
export const WORKED_EXAMPLE: readonly FixtureLayer[] = [
  {
    createdBy: '/bin/sh -c #(nop) ADD file:base in /',
    files: { 'bin/tool': 1000, 'etc/conf': 100, 'data/a': 500, 'data/b': 300 },
  },
  {
    createdBy: 'RUN /bin/sh -c make-things # buildkit',
    files: { 'etc/conf': 200, 'tmp/big': 4000, 'cache/x': 700, 'cache/y': 300 },
  },
  {
    createdBy: 'RUN /bin/sh -c rm -rf /tmp/big /cache # buildkit',
    files: { 'tmp/.wh.big': 0, '.wh.cache': 0 },
  },
  {
    createdBy: 'COPY conf /etc/conf # buildkit',
    files: { 'etc/conf': 50, 'data/.wh..wh..opq': 0, 'data/c': 10 },
  },
];
