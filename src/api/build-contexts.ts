import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { packDirectory, writeLayerBlob } from '../archive/index.ts';
import {
  type Digest,
  type Image,
  imageFromCore,
  imageFromParts,
  isDigest,
  type Platform,
} from '../oci/index.ts';
import type { BuildGraph } from '../plan/index.ts';
import { parseReference, type Reference } from '../reference/index.ts';
import type { Store } from '../store/index.ts';
import type { ImageReader } from '../transport/index.ts';
import { OciLayoutReader } from '../transport/index.ts';
import { InvalidInputError, NotFoundError } from '../util/index.ts';
import type { ImageResolver } from './build.ts';

/**
 * One `--build-context name=VALUE` (Dockerfile 1.4 named contexts): an image from a registry
 * (`docker-image://REF`), an image in an OCI layout (`oci-layout://PATH[:TAG|@sha256:…]`), or a
 * local directory. `FROM name` and `COPY --from=name` use it in place of the image `name` names.
 */
export type NamedContext =
  | { readonly kind: 'image'; readonly ref: Reference }
  | { readonly kind: 'oci-layout'; readonly path: string; readonly tag?: string; readonly digest?: Digest }
  | { readonly kind: 'directory'; readonly path: string };

/**
 * The key BuildKit looks a named context up by: the reference's familiar form without `:latest`
 * (`alpine`, `docker.io/library/alpine:latest` → `alpine`; `ghcr.io/o/app:1` as it is).
 */
export function namedContextKey(name: string): string {
  const familiar = parseReference(name).familiar();
  return familiar.endsWith(':latest') ? familiar.slice(0, -':latest'.length) : familiar;
}

/** Parses `name=VALUE`; git and HTTP contexts and `target:` (a bake feature) are refused by name. */
export function parseNamedContext(text: string): { key: string; context: NamedContext } {
  const eq = text.indexOf('=');
  if (eq <= 0)
    throw new InvalidInputError(`invalid --build-context ${JSON.stringify(text)}`, { hint: 'name=VALUE' });
  const name = text.slice(0, eq);
  const value = text.slice(eq + 1);
  let key: string;
  try {
    key = namedContextKey(name);
  } catch (error) {
    throw new InvalidInputError(`invalid --build-context name ${JSON.stringify(name)}`, { cause: error });
  }
  if (value.startsWith('docker-image://'))
    return { key, context: { kind: 'image', ref: parseReference(value.slice(15)) } };
  if (value.startsWith('oci-layout://')) {
    const spec = value.slice(13);
    const at = spec.lastIndexOf('@');
    if (at > 0) {
      const digest = spec.slice(at + 1);
      if (!isDigest(digest))
        throw new InvalidInputError(`--build-context ${name}: invalid digest ${JSON.stringify(digest)}`);
      return {
        key,
        context: {
          kind: 'oci-layout',
          path: resolve(stripTag(spec.slice(0, at)).path),
          digest: digest as Digest,
        },
      };
    }
    const { path, tag } = stripTag(spec);
    return { key, context: { kind: 'oci-layout', path: resolve(path), ...(tag ? { tag } : {}) } };
  }
  if (value.startsWith('target:'))
    throw new InvalidInputError(
      `--build-context ${name}=${value}: target: contexts are a buildx bake feature`,
    );
  if (/^(https?:\/\/|git@|git:\/\/|ssh:\/\/)/.test(value) || /\.git(#|$)/.test(value))
    throw new InvalidInputError(
      `--build-context ${name}=${value}: git and HTTP named contexts are not supported`,
      {
        hint: 'clone or download it, and name the directory',
      },
    );
  if (value.startsWith('input:'))
    throw new InvalidInputError(`--build-context ${name}: input: contexts are internal to BuildKit`);
  const path = resolve(value);
  if (!existsSync(path) || !statSync(path).isDirectory())
    throw new NotFoundError(`--build-context ${name}=${value}: no such directory`);
  if (existsSync(resolve(path, '.dockerignore')))
    throw new InvalidInputError(
      `--build-context ${name}=${value}: its .dockerignore is not applied by strata yet`,
      {
        hint: 'name a directory without .dockerignore (BuildKit would apply it)',
      },
    );
  return { key, context: { kind: 'directory', path } };
}

/** `dir:tag` → the directory and the tag (a colon before the last slash is part of the path). */
function stripTag(spec: string): { path: string; tag?: string } {
  const colon = spec.lastIndexOf(':');
  if (colon > spec.lastIndexOf('/') && colon > 0)
    return { path: spec.slice(0, colon), tag: spec.slice(colon + 1) };
  return { path: spec };
}

/**
 * Named contexts with the name of a stage replace that stage in BuildKit; strata's plan resolves
 * stage names first, so it refuses them rather than build the stage anyway.
 */
export function checkNamedContexts(graph: BuildGraph, contexts: ReadonlyMap<string, NamedContext>): void {
  for (const stage of graph.stages) {
    if (stage.name !== undefined && contexts.has(stage.name.toLowerCase()))
      throw new InvalidInputError(
        `--build-context ${stage.name}: replacing the build stage of that name is not supported`,
        { hint: 'rename the stage, or the context' },
      );
  }
}

/** The image an OCI layout holds under a tag, the only one it holds, or a manifest by digest. */
async function layoutImage(context: Extract<NamedContext, { kind: 'oci-layout' }>): Promise<Image> {
  const reader: ImageReader = new OciLayoutReader(context.path, context.tag);
  const raw = context.digest
    ? await reader.readManifest({ mediaType: '', digest: context.digest, size: 0 })
    : (await reader.resolve()).raw;
  const manifest = JSON.parse(Buffer.from(raw).toString('utf8')) as {
    config?: { digest: Digest; size: number; mediaType: string };
  };
  if (!manifest.config)
    throw new InvalidInputError(
      `oci-layout://${context.path}: an index; name the platform's manifest by digest`,
    );
  const rawConfig = await readAll(await reader.openBlob(manifest.config));
  return imageFromCore({
    rawManifest: raw,
    rawConfig,
    openBlob: (d, signal) => reader.openBlob(d, signal ? { signal } : {}),
  });
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

/**
 * A directory as an image of one layer holding its files, on `platform`: `FROM name` then starts
 * from those files, and `COPY --from=name` copies from them, as BuildKit's local named contexts.
 */
async function directoryImage(
  store: Store,
  path: string,
  platform: Platform,
  signal?: AbortSignal,
): Promise<Image> {
  const pending = await store.blobs.pending();
  let blob: Awaited<ReturnType<typeof writeLayerBlob>>;
  try {
    blob = await writeLayerBlob(packDirectory(path, signal ? { signal } : {}), {
      sink: pending.path,
      compression: 'gzip',
      ...(signal ? { signal } : {}),
    });
    await pending.commit({ digest: blob.digest, size: blob.size });
  } catch (error) {
    await pending.abort();
    throw error;
  }
  await store.lease.add(blob.digest);
  const digest = blob.digest;
  return imageFromParts({
    config: {
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      rootfs: { type: 'layers', diff_ids: [blob.diffId] },
      history: [{ created_by: `named build context ${path}` }],
    },
    layers: [
      {
        descriptor: { mediaType: blob.mediaType, digest, size: blob.size },
        diffId: blob.diffId,
        open: (s) => store.blobs.open(digest, s ? { signal: s } : {}),
      },
    ],
  });
}

/** `resolve`, with the named contexts answering for the images they name. */
export function namedContextResolver(
  resolveImage: ImageResolver,
  contexts: ReadonlyMap<string, NamedContext>,
  store: Store,
): ImageResolver {
  if (contexts.size === 0) return resolveImage;
  return async (ref, platform, signal) => {
    const context = contexts.get(namedContextKey(ref.toString()));
    if (!context) return resolveImage(ref, platform, signal);
    switch (context.kind) {
      case 'image':
        return resolveImage(context.ref, platform, signal);
      case 'oci-layout':
        return layoutImage(context);
      case 'directory':
        return directoryImage(store, context.path, platform, signal);
    }
  };
}
