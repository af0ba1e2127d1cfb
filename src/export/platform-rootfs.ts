import { createWriteStream } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { packDirectory } from '../archive/index.ts';
import { formatPlatform, type Image, normalizePlatform, type Platform } from '../oci/index.ts';
import { InvalidInputError } from '../util/index.ts';
import { exportRootfsDirectory } from './rootfs.ts';

/** One platform's image of a multi-platform build, as the rootfs exporters take it. */
export interface PlatformImage {
  readonly platform: Platform;
  readonly image: Image;
}

/**
 * BuildKit's directory for one platform under `platform-split=true`: the normalised platform with
 * `/` turned into `_` (exporter/local: `strings.ReplaceAll(platforms.FormatAll(p), "/", "_")`):
 * `linux_amd64`, `linux_arm_v7`.
 */
export function platformDirectory(platform: Platform): string {
  const { os, architecture, variant } = normalizePlatform(platform);
  return [os, architecture, ...(variant ? [variant] : [])].join('_');
}

/**
 * `--output type=local` of several platforms: each platform's root filesystem under its own
 * {@link platformDirectory} of `dest` (`split`, BuildKit's default for several platforms), or all
 * of them merged into `dest` — refused, as BuildKit refuses it, when two platforms have a file at
 * the same path ("cannot overwrite … when split option is disabled"), before anything is written.
 */
export async function exportPlatformsDirectory(
  images: readonly PlatformImage[],
  dest: string,
  options: { readonly split: boolean; readonly tmpRoot: string; readonly signal?: AbortSignal },
): Promise<void> {
  const { signal } = options;
  if (options.split) {
    for (const { platform, image } of images)
      await exportRootfsDirectory(image, join(dest, platformDirectory(platform)), signal);
    return;
  }
  await refuseOverlappingFiles(images, options.tmpRoot, signal);
  for (const { image } of images) await exportRootfsDirectory(image, dest, signal);
}

/** `--output type=tar` of several platforms: {@link exportPlatformsDirectory}'s tree as one tar. */
export async function exportPlatformsTar(
  images: readonly PlatformImage[],
  sink: string | Writable,
  options: { readonly split: boolean; readonly tmpRoot: string; readonly signal?: AbortSignal },
): Promise<void> {
  const { signal } = options;
  await mkdir(options.tmpRoot, { recursive: true });
  const dir = await mkdtemp(join(options.tmpRoot, 'rootfs-'));
  try {
    await exportPlatformsDirectory(images, dir, options);
    const out = typeof sink === 'string' ? createWriteStream(sink) : sink;
    await pipeline(packDirectory(dir, signal ? { signal } : {}), out, ...(signal ? [{ signal }] : []));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Fails when two platforms' root filesystems hold something other than a directory at one path. */
async function refuseOverlappingFiles(
  images: readonly PlatformImage[],
  tmpRoot: string,
  signal?: AbortSignal,
): Promise<void> {
  const owner = new Map<string, string>();
  await mkdir(tmpRoot, { recursive: true });
  for (const { platform, image } of images) {
    const name = formatPlatform(platform);
    const dir = await mkdtemp(join(tmpRoot, 'rootfs-'));
    try {
      await exportRootfsDirectory(image, dir, signal);
      for await (const path of nonDirectories(dir, '')) {
        const previous = owner.get(path);
        if (previous !== undefined)
          throw new InvalidInputError(
            `cannot overwrite ${path} from ${previous} with ${name} when split option is disabled`,
            { hint: 'leave platform-split at its default (true) for several platforms' },
          );
        owner.set(path, name);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** The paths (relative, `/`-separated) of everything under `root/rel` that is not a directory. */
async function* nonDirectories(root: string, rel: string): AsyncGenerator<string> {
  for (const entry of await readdir(join(root, rel), { withFileTypes: true })) {
    const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
    if (entry.isDirectory() && !(await lstat(join(root, path))).isSymbolicLink())
      yield* nonDirectories(root, path);
    else yield path;
  }
}
