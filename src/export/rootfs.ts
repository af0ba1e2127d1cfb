import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { applyLayer, openDecompressed, packDirectory } from '../archive/index.ts';
import type { Image } from '../oci/index.ts';
import { makeDirectories } from '../util/index.ts';

/**
 * `--output type=local,dest=DIR`: the image's root filesystem, written into `dest` by applying
 * every layer in order (whiteouts applied, ownership, modes and xattrs kept).
 */
export async function exportRootfsDirectory(image: Image, dest: string, signal?: AbortSignal): Promise<void> {
  await makeDirectories(dest); // a user's path: not mkdir -p, which hangs under /proc
  for (const layer of image.layers) {
    const blob = await layer.open(signal);
    await applyLayer(openDecompressed(blob), dest, { whiteouts: 'apply', ...(signal ? { signal } : {}) });
  }
}

/**
 * `--output type=tar,dest=FILE|-`: the image's root filesystem as one tar. The tree is assembled in
 * a temp directory next to `tmpRoot` and packed deterministically.
 */
export async function exportRootfsTar(
  image: Image,
  sink: string | Writable,
  tmpRoot: string,
  signal?: AbortSignal,
): Promise<void> {
  await mkdir(tmpRoot, { recursive: true });
  const dir = await mkdtemp(join(tmpRoot, 'rootfs-'));
  try {
    await exportRootfsDirectory(image, dir, signal);
    const out = typeof sink === 'string' ? createWriteStream(sink) : sink;
    await pipeline(packDirectory(dir, signal ? { signal } : {}), out, ...(signal ? [{ signal }] : []));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
