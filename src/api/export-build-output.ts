import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { packDirectory } from '../archive/index.ts';
import {
  exportPlatformsDirectory,
  exportPlatformsTar,
  exportRootfsDirectory,
  exportRootfsTar,
  platformDirectory,
} from '../export/index.ts';
import {
  type Descriptor,
  formatPlatform,
  type Image,
  imageWithManifestFormat,
  type ManifestFormat,
  type ManifestMediaTypes,
  normalizePlatform,
  type Platform,
} from '../oci/index.ts';
import type { ProgressSink } from '../progress/index.ts';
import { parseReference } from '../reference/index.ts';
import type { Store } from '../store/index.ts';
import { imageNameOf } from '../transport/index.ts';
import { InvalidInputError, isErrnoException, StrataError, tempSiblingPath } from '../util/index.ts';
import { type BuildResult, type BuiltIndex, indexOf } from './build.ts';

/** Thrown when `docker load` refuses what strata wrote (or docker is missing). */
export class DockerLoadError extends StrataError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('DOCKER_LOAD_FAILED', message, {
      ...options,
      hint: '--load needs the docker CLI and a running daemon',
    });
  }
}

/** Writing a build output (`-o …,dest=`) failed because the file system refused: no space, no permission. */
export class OutputWriteError extends StrataError {
  constructor(dest: string, cause: unknown) {
    super('OUTPUT_WRITE_FAILED', `writing ${dest}`, { cause });
  }
}

/**
 * Runs `write`; a file-system error it throws (ENOSPC, EACCES, EROFS …) becomes an
 * {@link OutputWriteError} naming `dest` — the user's to fix, not a bug. Other errors pass as they are.
 */
async function writingOutput<T>(dest: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isErrnoException(error) && !(error instanceof StrataError)) throw new OutputWriteError(dest, error);
    throw error;
  }
}

/**
 * Writes the file `dest` through `write` under a temporary name beside it, renamed into place once
 * whole: a failed or interrupted export leaves no partial file at `dest`, nor anything beside it.
 */
async function writeWhole(dest: string, write: (path: string) => Promise<void>): Promise<void> {
  const temp = tempSiblingPath(dest);
  await writingOutput(dest, async () => {
    try {
      await write(temp);
      await rename(temp, dest);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  });
}

/** Pipes a docker-archive into `docker load`. */
async function dockerLoad(archive: string): Promise<void> {
  const child = spawn('docker', ['load'], { stdio: ['pipe', 'inherit', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (error) => reject(new DockerLoadError('cannot run docker', { cause: error })));
    child.on('close', (code) => resolve(code ?? 1));
  });
  await pipeline(createReadStream(archive), child.stdin).catch(() => undefined); // exit status tells
  const code = await exited;
  if (code !== 0) throw new DockerLoadError(`docker load failed (exit ${code}): ${stderr.trim()}`);
}

/** One annotation an image output writes: `annotation[.platform].key=value` (BuildKit's exporter keys). */
export interface OutputAnnotation {
  /** Where it goes: the manifest, or an index (refused for a single-platform image, as BuildKit does). */
  readonly on: 'manifest' | 'manifest-descriptor' | 'index' | 'index-descriptor';
  readonly key: string;
  readonly value: string;
  /** Only for the image of this platform (`annotation-manifest[linux/amd64].key`). */
  readonly platform?: Platform;
}

/** How an image output writes its manifest: media types and annotations. */
export interface OutputManifest {
  /** `oci-mediatypes=false` → `docker`. */
  readonly mediaTypes: ManifestMediaTypes;
  readonly annotations: readonly OutputAnnotation[];
}

/**
 * One `--output`, as typed data (buildx's exporters). `registry` and `--push` are an `image`
 * output with `push`; `-t` names fill `names` of image, oci and docker outputs, as buildx does.
 */
export type BuildOutput =
  | {
      readonly type: 'image';
      readonly names: readonly string[];
      /** `push=true`: push every name to its registry. */
      readonly push: boolean;
      /** `store=false`: do not name the image in strata's store (push only). */
      readonly store: boolean;
      /** `registry.insecure=true`: the names' registries may be plain HTTP. */
      readonly insecure: boolean;
      /** `name-canonical=true`: also name it `repo@digest` in the store. */
      readonly nameCanonical: boolean;
      /** `dangling-name-prefix=P`: an image with no name is stored as `P@digest`. */
      readonly danglingPrefix?: string;
      readonly manifest: OutputManifest;
    }
  | {
      readonly type: 'oci';
      /** A tar file (`-` for standard output), or a layout directory when `tar` is false. */
      readonly dest: string;
      readonly tar: boolean;
      readonly names: readonly string[];
      readonly manifest: OutputManifest;
    }
  | {
      readonly type: 'docker';
      /** A docker-archive file (`-` for standard output); absent: `docker load` only. */
      readonly dest?: string;
      readonly load: boolean;
      readonly names: readonly string[];
      readonly manifest: OutputManifest;
    }
  | {
      readonly type: 'local';
      readonly dest: string;
      /** `platform-split=`: unset, true for several platforms (BuildKit's default), else false. */
      readonly platformSplit?: boolean;
    }
  | { readonly type: 'tar'; readonly dest: string; readonly platformSplit?: boolean }
  | { readonly type: 'cacheonly' };

/** What one output exported: its metadata (`--metadata-file`) and, for image outputs, the manifest. */
export interface ExportedBuildOutput {
  readonly metadata: Readonly<Record<string, unknown>>;
  /** The manifest this output wrote (image, oci and docker outputs). */
  readonly descriptor?: Descriptor;
}

/**
 * The manifest annotations for `image` from an output's annotations: the unqualified ones and those
 * for its platform. An index annotation, or one for a platform the build did not make, is refused
 * as BuildKit refuses it ("index annotations not supported for single platform export", "no
 * platform … found in source").
 */
function manifestFormatFor(image: Image, manifest: OutputManifest): ManifestFormat {
  const platform: Platform = {
    os: image.config.os,
    architecture: image.config.architecture,
    ...(image.config.variant ? { variant: image.config.variant } : {}),
  };
  const annotations: Record<string, string> = {};
  for (const a of manifest.annotations) {
    if (a.on === 'index' || a.on === 'index-descriptor')
      throw new InvalidInputError(
        `annotation-${a.on}.${a.key}: index annotations not supported for single platform export`,
        {
          hint: 'a single-platform image is a manifest, not an index: use annotation.* or annotation-manifest.*, or build several platforms (--platform a,b) for an index',
        },
      );
    if (
      a.platform &&
      formatPlatform(normalizePlatform(a.platform)) !== formatPlatform(normalizePlatform(platform))
    )
      throw new InvalidInputError(
        `invalid annotation ${a.key}: no platform ${formatPlatform(a.platform)} found in source (this build is ${formatPlatform(platform)})`,
      );
    if (a.on === 'manifest-descriptor')
      throw new InvalidInputError(
        `annotation-manifest-descriptor.${a.key}: manifest descriptor annotations are not supported`,
        { hint: 'a single-platform image has no index to hold the descriptor: use annotation-manifest.*' },
      );
    annotations[a.key] = a.value;
  }
  return { mediaTypes: manifest.mediaTypes, annotations };
}

/**
 * The built image as an output asks for it (media types, annotations), written to the store when
 * it differs from the build's own manifest; its descriptor.
 */
async function outputImage(
  store: Store,
  result: BuildResult,
  manifest: OutputManifest,
  signal?: AbortSignal,
): Promise<Descriptor> {
  const image = imageWithManifestFormat(result.image, manifestFormatFor(result.image, manifest));
  if (image === result.image) return result.descriptor;
  return store.writeImage(image, signal);
}

/** Whether an annotation is for `platform` (it names none, or this one). */
function forPlatform(annotation: OutputAnnotation, platform: Platform): boolean {
  return (
    annotation.platform === undefined ||
    formatPlatform(normalizePlatform(annotation.platform)) === formatPlatform(normalizePlatform(platform))
  );
}

/**
 * A multi-platform build's index as an output asks for it: each platform's manifest in the
 * output's media types (`oci-mediatypes=false`: Docker's schema 2 manifests under a Docker
 * manifest list) with its `annotation-manifest.*`, its descriptor in the index with its
 * `annotation-manifest-descriptor.*`, and the index with `annotation-index.*` — written to the store
 * when it differs from the build's own index; its descriptor.
 */
async function outputIndex(
  store: Store,
  index: BuiltIndex,
  manifest: OutputManifest,
  signal?: AbortSignal,
): Promise<Descriptor> {
  const built = new Set(index.platforms.map((p) => formatPlatform(p.platform)));
  for (const a of manifest.annotations) {
    if (a.platform && !built.has(formatPlatform(normalizePlatform(a.platform))))
      throw new InvalidInputError(
        `invalid annotation ${a.key}: no platform ${formatPlatform(a.platform)} found in source (this build is ${[...built].join(',')})`,
      );
    if (a.on === 'index-descriptor')
      throw new InvalidInputError(
        `annotation-index-descriptor.${a.key}: index descriptor annotations are not supported`,
        { hint: 'use annotation-index.* (on the index itself)' },
      );
  }
  if (manifest.mediaTypes === 'oci' && manifest.annotations.length === 0) return index.descriptor;
  const platforms: { platform: Platform; descriptor: Descriptor }[] = [];
  for (const build of index.platforms) {
    const mine = manifest.annotations.filter((a) => forPlatform(a, build.platform));
    const pick = (on: OutputAnnotation['on']) =>
      Object.fromEntries(mine.filter((a) => a.on === on).map((a) => [a.key, a.value]));
    const image = imageWithManifestFormat(build.image, {
      mediaTypes: manifest.mediaTypes,
      annotations: pick('manifest'),
    });
    const written = image === build.image ? build.descriptor : await store.writeImage(image, signal);
    const descriptorAnnotations = pick('manifest-descriptor');
    platforms.push({
      platform: build.platform,
      descriptor: {
        ...written,
        ...(Object.keys(descriptorAnnotations).length > 0 ? { annotations: descriptorAnnotations } : {}),
      },
    });
  }
  const indexAnnotations = Object.fromEntries(
    manifest.annotations.filter((a) => a.on === 'index').map((a) => [a.key, a.value]),
  );
  return store.writeIndex(indexOf(platforms, manifest.mediaTypes, indexAnnotations), signal);
}

/** The image (or, for several platforms, the index) an image output writes. */
async function outputTarget(
  store: Store,
  result: BuildResult,
  manifest: OutputManifest,
  signal?: AbortSignal,
): Promise<Descriptor> {
  return result.index
    ? outputIndex(store, result.index, manifest, signal)
    : outputImage(store, result, manifest, signal);
}

/** buildx's `containerimage.*` metadata for what an image output wrote. */
function targetMetadata(descriptor: Descriptor, result: BuildResult, names: readonly string[]) {
  if (!result.index) return imageMetadata(descriptor, result, names);
  // An index has no config: BuildKit leaves containerimage.config.digest out, and the descriptor
  // has no platform.
  return {
    'containerimage.digest': descriptor.digest,
    'containerimage.descriptor': {
      mediaType: descriptor.mediaType,
      digest: descriptor.digest,
      size: descriptor.size,
    },
    ...(names.length > 0 ? { 'image.name': names.map((n) => imageNameOf(n).full).join(',') } : {}),
  };
}

/** buildx's `containerimage.*` metadata for a manifest. */
function imageMetadata(descriptor: Descriptor, result: BuildResult, names: readonly string[]) {
  const config = result.image.config;
  return {
    'containerimage.config.digest': result.image.manifest.config.digest,
    'containerimage.digest': descriptor.digest,
    'containerimage.descriptor': {
      mediaType: descriptor.mediaType,
      digest: descriptor.digest,
      size: descriptor.size,
      platform: {
        architecture: config.architecture,
        os: config.os,
        ...(config.variant ? { variant: config.variant } : {}),
      },
    },
    ...(names.length > 0 ? { 'image.name': names.map((n) => imageNameOf(n).full).join(',') } : {}),
  };
}

/**
 * Sends a built image to one output, with buildx's exporters: `image` (strata's store, and the
 * registry with `push`), `local` and `tar` (the root filesystem), `oci` (an OCI layout, a tar unless
 * `tar=false`), `docker` (a docker-archive file; `--load` pipes it to `docker load`).
 */
export async function exportBuildOutput(
  store: Store,
  result: BuildResult,
  output: BuildOutput,
  options: { events?: ProgressSink; insecureRegistries?: readonly string[]; signal?: AbortSignal } = {},
): Promise<ExportedBuildOutput> {
  // Loaded only for outputs that need the transports (and with them the registry client).
  const copyImage = async (...args: Parameters<typeof import('./copy.ts').copyImage>) =>
    (await import('./copy.ts')).copyImage(...args);
  const signal = options.signal;
  const common = {
    store,
    ...(options.events ? { events: options.events } : {}),
    ...(signal ? { signal } : {}),
  };
  switch (output.type) {
    case 'cacheonly':
      return { metadata: {} };
    case 'image': {
      const descriptor = await outputTarget(store, result, output.manifest, signal);
      if (output.store) {
        for (const name of output.names) {
          await store.tag(imageNameOf(name), descriptor);
          options.events?.emit({
            type: 'message',
            level: 'info',
            text: `naming to ${imageNameOf(name).full} done`,
            at: Date.now(),
          });
          if (output.nameCanonical)
            await store.tag(
              imageNameOf(`${parseReference(name).repository()}@${descriptor.digest}`),
              descriptor,
            );
        }
        if (output.names.length === 0 && output.danglingPrefix !== undefined)
          await store.tag(imageNameOf(`${output.danglingPrefix}@${descriptor.digest}`), descriptor);
      }
      if (output.push) {
        if (output.names.length === 0)
          throw new InvalidInputError('tag is needed when pushing to registry', {
            hint: 'add -t registry/repo:tag or name=registry/repo:tag',
          });
        const insecure = [
          ...(options.insecureRegistries ?? []),
          ...(output.insecure ? output.names.map((n) => parseReference(n).domain) : []),
        ];
        for (const name of output.names) {
          // An index goes with every manifest (each pushed before it).
          await copyImage(`strata:${descriptor.digest}`, `docker://${imageNameOf(name).full}`, {
            ...common,
            ...(result.index ? { allPlatforms: true } : {}),
            ...(insecure.length > 0 ? { insecureRegistries: insecure } : {}),
          });
        }
      }
      return { metadata: targetMetadata(descriptor, result, output.names), descriptor };
    }
    case 'local': {
      if (result.index) {
        await exportPlatformsDirectory(result.index.platforms, output.dest, {
          split: output.platformSplit ?? true,
          tmpRoot: join(store.root, 'tmp'),
          ...(signal ? { signal } : {}),
        });
        return { metadata: {} };
      }
      const dest = output.platformSplit
        ? join(output.dest, platformDirectory(imagePlatform(result.image)))
        : output.dest;
      await exportRootfsDirectory(result.image, dest, signal);
      return { metadata: {} };
    }
    case 'tar': {
      const tmpRoot = join(store.root, 'tmp');
      const write = async (sink: string | Writable) => {
        if (result.index)
          return exportPlatformsTar(result.index.platforms, sink, {
            split: output.platformSplit ?? true,
            tmpRoot,
            ...(signal ? { signal } : {}),
          });
        if (!output.platformSplit) return exportRootfsTar(result.image, sink, tmpRoot, signal);
        // platform-split=true: the files under linux_amd64/ in the tar, as BuildKit writes them.
        const dir = await mkdtemp(join(tmpRoot, 'rootfs-'));
        try {
          await exportRootfsDirectory(
            result.image,
            join(dir, platformDirectory(imagePlatform(result.image))),
            signal,
          );
          const out = typeof sink === 'string' ? createWriteStream(sink) : sink;
          await pipeline(packDirectory(dir, signal ? { signal } : {}), out, ...(signal ? [{ signal }] : []));
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      };
      if (output.dest === '-') await write(process.stdout);
      else await writeWhole(output.dest, (path) => write(path));
      return { metadata: {} };
    }
    case 'docker': {
      // The CLI refuses this before the build; an API caller is told the same.
      if (result.index)
        throw new InvalidInputError('docker exporter does not currently support exporting manifest lists', {
          hint: 'build one platform for docker, or use an oci or image output',
        });
      const descriptor = await outputImage(store, result, output.manifest, signal);
      const source = `strata:${descriptor.digest}`;
      const tmp = await mkdtemp(join(store.root, 'tmp', 'docker-'));
      const file = output.dest && output.dest !== '-' ? output.dest : join(tmp, 'image.tar');
      try {
        const ref = output.names[0] ? `:${imageNameOf(output.names[0]).short}` : '';
        // The docker-archive writer itself writes beside `file` and renames it into place.
        await writingOutput(file, () => copyImage(source, `docker-archive:${file}${ref}`, common));
        if (output.dest === '-')
          await pipeline(createReadStream(file), process.stdout, ...(signal ? [{ signal }] : []));
        if (output.load) await dockerLoad(file);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
      return { metadata: imageMetadata(descriptor, result, output.names), descriptor };
    }
    case 'oci': {
      const descriptor = await outputTarget(store, result, output.manifest, signal);
      const source = `strata:${descriptor.digest}`;
      const tag = output.names[0] ? imageNameOf(output.names[0]).short : undefined;
      const copyOptions = { ...common, ...(result.index ? { allPlatforms: true } : {}) };
      if (!output.tar) {
        await copyImage(source, `oci:${output.dest}${tag ? `:${tag}` : ''}`, copyOptions);
      } else {
        const tmp = await mkdtemp(join(store.root, 'tmp', 'oci-'));
        try {
          await copyImage(source, `oci:${join(tmp, 'layout')}${tag ? `:${tag}` : ''}`, copyOptions);
          const pack = (sink: Writable) =>
            pipeline(packDirectory(join(tmp, 'layout')), sink, ...(signal ? [{ signal }] : []));
          if (output.dest === '-') await pack(process.stdout);
          else await writeWhole(output.dest, (path) => pack(createWriteStream(path)));
        } finally {
          await rm(tmp, { recursive: true, force: true });
        }
      }
      return { metadata: targetMetadata(descriptor, result, output.names), descriptor };
    }
  }
}

/** The platform an image's config names. */
function imagePlatform(image: Image): Platform {
  const { os, architecture, variant } = image.config;
  return { os, architecture, ...(variant ? { variant } : {}) };
}
