import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type CacheRecord, RemoteCache, StepCache, writeCacheManifest } from '../cache/index.ts';
import { ChecksumCache, ContextView, loadIgnoreFile } from '../context/index.ts';
import { type Dockerfile, parseDockerfile } from '../dockerfile/index.ts';
import {
  type Compression,
  type Descriptor,
  type Image,
  imageFromParts,
  type Platform,
  validateImage,
} from '../oci/index.ts';
import { type BuildGraph, planBuild, type Stage } from '../plan/index.ts';
import { nullSink, type ProgressSink } from '../progress/index.ts';
import type { Reference } from '../reference/index.ts';
import type { RegistryPool } from '../registry/index.ts';
import { type Executor, openExecutor } from '../runtime/index.ts';
import { openSnapshotter } from '../snapshot/index.ts';
import {
  BaseImageError,
  checkEntitlements,
  type Entitlement,
  LayerCompressor,
  type StageImage,
  solveGraph,
  toImageConfig,
} from '../solver/index.ts';
import type { Store } from '../store/index.ts';
import { formatErrorChain, InternalError, NotFoundError } from '../util/index.ts';
import { type UrlFetcher, urlFetcher } from './fetch-url.ts';
import { layersSettled, pendingLayerPull, prefetchLayers, untilAborted } from './image-resolver.ts';
import { imageNameOf } from './images.ts';
import { createdTime } from './import-image.ts';
import type { RegistryAccess } from './registry-access.ts';
import { processSettings, type StrataSettings } from './settings.ts';

/** A cache location: `type=registry,ref=…` or `type=local,src=…|dest=…` (an OCI layout directory). */
export type CacheLocation =
  | { readonly type: 'registry'; readonly ref: string }
  | { readonly type: 'local'; readonly path: string };

/** `--cache-to`: a location and how much to export (`min`: the final image's layers; `max`: every step of every stage). */
export type CacheExport = CacheLocation & { readonly mode: 'min' | 'max' };

/** How base images are found. */
export type PullPolicy = 'missing' | 'always' | 'never';

/** A base image resolver: given a reference, the image (pulling when the policy says so). */
export type ImageResolver = (ref: Reference, platform: Platform, signal?: AbortSignal) => Promise<Image>;

/** Inputs of {@link buildImage}: `strata build`'s flags as data. */
export interface BuildOptions {
  /** The context directory. */
  readonly context: string;
  /** The Dockerfile's path (default `<context>/Dockerfile`), or its text with a display name. */
  readonly dockerfile?: string | { readonly text: string; readonly name: string };
  readonly tags?: readonly string[];
  readonly target?: string;
  readonly buildArgs?: ReadonlyMap<string, string>;
  readonly platform?: Platform;
  readonly labels?: Readonly<Record<string, string>>;
  /** The environment's settings (snapshotter, runtime, cache debugging); default: this process's. */
  readonly settings?: StrataSettings;
  readonly secrets?: ReadonlyMap<string, Uint8Array>;
  readonly network?: 'default' | 'none' | 'host';
  /** `--allow`: what the build is granted (buildx's entitlements); nothing by default. */
  readonly allow?: readonly Entitlement[];
  /** The compression of the image's layers (`--output …,compression=`): default gzip. */
  readonly compression?: Compression;
  /** `compression-level=`: gzip 1–9 (default 6), zstd 1–19 (default 3). */
  readonly compressionLevel?: number;
  /**
   * `force-compression=true`: recompress every layer of the image that is not in `compression`,
   * base-image layers too (otherwise only layers this build's steps made are converted).
   */
  readonly forceCompression?: boolean;
  /** `--no-cache`: run every step. */
  readonly noCache?: boolean;
  /** `--no-cache-filter`: stages whose steps always run. */
  readonly noCacheFilter?: readonly string[];
  /** `--cache-from`: caches to import (a registry reference or an OCI layout directory). */
  readonly cacheFrom?: readonly CacheLocation[];
  /** `--cache-to`: where to export this build's cache. */
  readonly cacheTo?: CacheExport;
  /** Registry access for pulls and cache import/export. */
  readonly registry?: RegistryAccess;
  /** Resolves base images; default: the local store only. */
  readonly resolveImage?: ImageResolver;
  readonly events?: ProgressSink;
  readonly signal?: AbortSignal;
}

/** What a build produced. */
export interface BuildResult {
  readonly image: Image;
  /** The manifest as stored (and tagged). */
  readonly descriptor: Descriptor;
  readonly graph: BuildGraph;
  readonly target: StageImage;
  /** Each built stage's final image state, by stage index. */
  readonly stages: ReadonlyMap<number, StageImage>;
  readonly warnings: BuildGraph['warnings'];
  /** Step ids (`<stage>/<step>`) served from the cache, and those that ran. */
  readonly cachedSteps: readonly string[];
  readonly executedSteps: readonly string[];
  /** The cache manifest exported with `--cache-to`, if any. */
  readonly cacheExported?: Descriptor;
}

/** Resolves images from the local store only (no registry). */
export function storeImageResolver(store: Store): ImageResolver {
  return async (ref, platform) => {
    const descriptor = await store.refs.get(ref.toString());
    if (!descriptor) {
      throw new NotFoundError(`image ${ref.familiar()} not found in the local store`, {
        hint: `pull it first (strata pull ${ref.familiar()}) or import one (strata import)`,
      });
    }
    return store.image(descriptor, platform);
  };
}

async function readDockerfile(options: BuildOptions): Promise<Dockerfile> {
  const spec = options.dockerfile ?? join(options.context, 'Dockerfile');
  if (typeof spec !== 'string') return parseDockerfile(spec.text, { file: spec.name });
  let text: string;
  try {
    text = await readFile(spec, 'utf8');
  } catch (error) {
    throw new NotFoundError(`cannot read Dockerfile ${spec}`, { cause: error });
  }
  return parseDockerfile(text, { file: spec });
}

/**
 * Builds an image from a Dockerfile and a context, as `docker buildx build` does, and stores it
 * (tagged with `tags`). Plans first (pure), resolves the base images the target needs, plans again
 * with their environment, then solves the graph.
 */
export async function buildImage(store: Store, options: BuildOptions): Promise<BuildResult> {
  // Base-image layers may still be downloading in the background when a build fails: stop them
  // then, or the process would wait for them before exiting — and wait until they have stopped
  // (their half-written blobs removed), so the caller releases the lease last.
  const pulls = new AbortController();
  const resolvedBases: Image[] = [];
  try {
    return await buildWith(store, options, { pullsSignal: pulls.signal, resolvedBases });
  } catch (error) {
    pulls.abort();
    // Only a resolved image can be pulling layers into the store; a resolution still under way
    // holds nothing but its connection (which may take its connect timeout to notice the abort).
    await Promise.allSettled(resolvedBases.map(layersSettled));
    throw error;
  }
}

async function buildWith(
  store: Store,
  options: BuildOptions,
  background: {
    readonly pullsSignal: AbortSignal;
    /** Every base image resolved so far (its layers may be downloading). */
    readonly resolvedBases: Image[];
  },
): Promise<BuildResult> {
  const { pullsSignal, resolvedBases } = background;
  const images = new Map<string, Promise<Image>>();
  const events = options.events ?? nullSink;
  const dockerfile = await readDockerfile(options);
  const contextDir = resolve(options.context);
  const dockerfilePath =
    typeof options.dockerfile === 'string' ? options.dockerfile : join(contextDir, 'Dockerfile');
  const ignore = await loadIgnoreFile({ contextDir, dockerfile: dockerfilePath });
  const resolveImage = options.resolveImage ?? storeImageResolver(store);
  const planOptions = {
    ...(options.buildArgs ? { buildArgs: options.buildArgs } : {}),
    ...(options.target ? { target: options.target } : {}),
    ...(options.platform ? { platform: options.platform } : {}),
  };
  let graph = planBuild(dockerfile, planOptions);
  const entitlements = {
    file: dockerfile.file,
    allow: options.allow ?? [],
    ...(options.network ? { network: options.network } : {}),
  };
  checkEntitlements(graph, entitlements);

  // Resolve every base image the needed stages use, once, and plan again with their Env.
  // One resolution per image and platform, shared by every stage and step that names it, so it
  // runs under the build's signal, not the first caller's.
  const resolveSignal = options.signal ? AbortSignal.any([options.signal, pullsSignal]) : pullsSignal;
  const resolveOnce: ImageResolver = (ref, platform, signal) => {
    const key = `${ref.toString()}|${platform.os}/${platform.architecture}/${platform.variant ?? ''}`;
    let found = images.get(key);
    if (!found) {
      found = resolveImage(ref, platform, resolveSignal);
      images.set(key, found);
      found.then(
        (image) => resolvedBases.push(image),
        () => undefined, // reported to every caller that waits for it
      );
    }
    // A caller that is stopped (a step of a failed build) stops waiting; the resolution goes on
    // for the others until the build's own signal stops it.
    return untilAborted(found, signal);
  };
  const baseImageEnv = new Map<string, readonly string[]>();
  const baseImageOnBuild = new Map<string, readonly string[]>();
  // All bases at once: pulls of different images overlap.
  const bases = graph.order
    .map((index) => graph.stages[index]!)
    .filter((stage) => stage.base.kind === 'image');
  const resolved = await Promise.all(
    bases.map(async (stage) => {
      if (stage.base.kind !== 'image') return undefined;
      const ref = stage.base.ref;
      try {
        return await resolveOnce(ref, stage.platform, options.signal);
      } catch (error) {
        // Located at the FROM line: which of several bases is missing is the first thing to know.
        throw new BaseImageError({
          instruction: `FROM ${ref.toString()}`,
          registry: ref.domain,
          cause: error,
          location: { file: dockerfile.file, line: stage.location.line },
        });
      }
    }),
  );
  bases.forEach((stage, i) => {
    if (stage.base.kind !== 'image') return;
    const image = resolved[i]!;
    baseImageEnv.set(stage.base.ref.toString(), image.config.config?.Env ?? []);
    const triggers = image.config.config?.OnBuild ?? [];
    if (triggers.length > 0) baseImageOnBuild.set(stage.base.ref.toString(), triggers);
  });
  if (baseImageEnv.size > 0)
    graph = planBuild(dockerfile, { ...planOptions, baseImageEnv, baseImageOnBuild });
  checkEntitlements(graph, entitlements); // again: ONBUILD triggers of the bases are in this plan
  // The bases the final image is made of (the target's, through FROM <stage>) are exported whatever
  // the cache holds: a base that is not in the store yet starts downloading now, beside everything
  // else. Other bases download when a step first reads their files — never, when their stage is
  // all cached (a CI machine importing --cache-from need not fetch the builder's toolchain).
  const prefetches: Promise<void>[] = [];
  for (let index: number | undefined = graph.target; index !== undefined; ) {
    const stage: Stage | undefined = graph.stages[index];
    const base: Stage['base'] | undefined = stage?.base;
    if (stage && base?.kind === 'image') {
      // resolveOnce answers from its memo: the very image, for this stage's platform.
      const prefetch = resolveOnce(base.ref, stage.platform).then(prefetchLayers);
      prefetch.catch(() => undefined); // a failure surfaces when the export reads the layers
      prefetches.push(prefetch);
    }
    index = base?.kind === 'stage' ? base.stage : undefined;
  }

  const checksums = await ChecksumCache.open(
    join(
      store.root,
      'cache',
      'checksums',
      `${createHash('sha256').update(contextDir).digest('hex').slice(0, 32)}.json`,
    ),
  );
  const remote: RemoteCache[] = [];
  // The registry client is loaded only when the cache goes to or comes from elsewhere, so a plain
  // build (and a no-op rebuild) starts without it.
  let pool: RegistryPool | undefined;
  let owned = false;
  if ((options.cacheFrom?.length ?? 0) > 0 || options.cacheTo !== undefined) {
    const { registryPoolFor } = await import('./registry-access.ts');
    ({ pool, owned } = registryPoolFor(options.registry ?? {}));
  }
  try {
    for (const from of options.cacheFrom ?? [])
      remote.push(await openRemoteCache(store, from, pool!, options.signal));
    const result = await solveAndStore();
    // The export has read those layers, unless the store had them all: then their pull is just
    // naming the image; let it finish rather than leave it running.
    await Promise.allSettled(prefetches);
    return result;
  } finally {
    if (owned) await pool?.close();
  }

  async function solveAndStore(): Promise<BuildResult> {
    const fetcher = urlFetcher(join(store.root, 'tmp'));
    try {
      return await solveWith(fetcher);
    } finally {
      await fetcher.close();
    }
  }

  async function solveWith(fetcher: UrlFetcher): Promise<BuildResult> {
    let executor: Promise<Executor> | undefined;
    const settings = options.settings ?? processSettings();
    const snapshotter = openSnapshotter(store.root, settings.snapshotter);
    // What a build that died left (mounted overlays, half-made trees) goes before this one starts.
    await snapshotter.sweepStale();
    const created = createdTime();
    const epoch = process.env.SOURCE_DATE_EPOCH;
    const steps = new StepCache(store);
    const solved = await solveGraph(
      {
        graph,
        dockerfile,
        context: { dir: contextDir, view: new ContextView(contextDir, ignore.matcher) },
        ...(options.secrets ? { secrets: options.secrets } : {}),
        layers: {
          compression: options.compression ?? 'gzip',
          ...(options.compressionLevel !== undefined ? { level: options.compressionLevel } : {}),
          ...(options.forceCompression ? { forceCompression: true } : {}),
          // Builder stages' layers stay uncompressed (they are only cache records, as in BuildKit)
          // unless --cache-to mode=max is about to export every one of them.
          internalCompression: options.cacheTo?.mode === 'max' ? (options.compression ?? 'gzip') : 'none',
          ...(epoch && /^\d+$/.test(epoch) ? { sourceDateEpoch: Number(epoch) } : {}),
        },
        created,
        fetchUrl: (url, signal) => fetcher.fetch(url, signal),
        cache: {
          steps,
          checksums,
          disabled: options.noCache === true,
          disabledStages: new Set((options.noCacheFilter ?? []).map((s) => s.toLowerCase())),
          remote,
          ...(settings.debugCache ? { debugKeys: true } : {}),
        },
        ...(options.network ? { network: options.network } : {}),
        ...(options.labels ? { labels: options.labels } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      },
      {
        store,
        snapshotter,
        executor: () => {
          executor ??= openExecutor({
            stateDir: join(store.root, 'runtime'),
            ...(settings.runtime ? { runtime: settings.runtime } : {}),
          });
          return executor;
        },
        resolveImage: resolveOnce,
        pendingLayers: pendingLayerPull,
        events,
        stateDir: store.root,
      },
    );
    await checksums.save();
    const config = toImageConfig(solved.target, {
      fallback: created,
      ...(epoch && /^\d+$/.test(epoch) ? { epoch: createdTime() } : {}),
    });
    const image = imageFromParts({ config, layers: solved.target.layers });
    const problems = validateImage(image);
    if (problems.length > 0) {
      throw new InternalError(
        `built image is invalid: ${problems.map((p) => `${p.section}: ${p.message}`).join('; ')}`,
      );
    }
    // BuildKit's last vertex: the image written (its ID, the config digest) and each name given.
    const exportStep = 'export image';
    events.emit({ type: 'step-started', step: exportStep, name: 'exporting to image', at: Date.now() });
    const note = (text: string) =>
      events.emit({ type: 'message', level: 'info', step: exportStep, text, at: Date.now() });
    let descriptor: Descriptor;
    try {
      descriptor = await store.writeImage(image, options.signal);
      note(`writing image ${image.manifest.config.digest} done`);
      for (const tag of options.tags ?? []) {
        const name = imageNameOf(tag);
        await store.tag(name, descriptor);
        note(`naming to ${name.full} done`);
      }
    } catch (error) {
      events.emit({ type: 'step-failed', step: exportStep, error: formatErrorChain(error), at: Date.now() });
      throw error;
    }
    events.emit({ type: 'step-finished', step: exportStep, at: Date.now() });
    let cacheExported: Descriptor | undefined;
    if (options.cacheTo) {
      const finalLayers = new Set(image.layers.map((l) => l.descriptor.digest));
      const records =
        options.cacheTo.mode === 'max'
          ? [...solved.records]
          : solved.records.filter((r) => finalLayers.has(r.layer.digest));
      // Records an earlier build stored uncompressed (a builder stage's) travel compressed.
      await new LayerCompressor({
        store,
        steps,
        compression: options.compression ?? 'gzip',
        ...(options.compressionLevel !== undefined ? { level: options.compressionLevel } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      }).records(records);
      cacheExported = await exportCache(
        store,
        records,
        options.cacheTo,
        { ...options.registry, pool },
        options.signal,
      );
    }
    return {
      image,
      descriptor,
      graph,
      target: solved.target,
      stages: solved.stages,
      warnings: graph.warnings,
      cachedSteps: solved.cachedSteps,
      executedSteps: solved.executedSteps,
      ...(cacheExported ? { cacheExported } : {}),
    };
  }
}

/** Opens a `--cache-from` location: reads its key table; layers are fetched on hits only. */
async function openRemoteCache(
  store: Store,
  from: CacheLocation,
  pool: RegistryPool,
  signal?: AbortSignal,
): Promise<RemoteCache> {
  const [{ imageReaderFor }, { parseImageLocation }] = await Promise.all([
    import('./copy.ts'),
    import('../transport/index.ts'),
  ]);
  const location = parseImageLocation(
    from.type === 'registry' ? `docker://${from.ref}` : `oci:${from.path}:cache`,
  );
  return RemoteCache.open(imageReaderFor(location, pool, store), signal);
}

/** `--cache-to`: writes the cache manifest into the store, then copies it to the registry or layout. */
async function exportCache(
  store: Store,
  records: readonly CacheRecord[],
  to: CacheExport,
  access: RegistryAccess,
  signal?: AbortSignal,
): Promise<Descriptor> {
  const descriptor = await writeCacheManifest(store, records);
  const { copyImage } = await import('./copy.ts');
  const destination = to.type === 'registry' ? `docker://${to.ref}` : `oci:${to.path}:cache`;
  await copyImage(`strata:${descriptor.digest}`, destination, {
    ...access,
    store,
    ...(signal ? { signal } : {}),
  });
  return descriptor;
}
