import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { StepCache } from '../cache/index.ts';
import { ContextView, copyIgnoredTest, loadIgnoreFile } from '../context/index.ts';
import { type Dockerfile, parseDockerfile } from '../dockerfile/index.ts';
import {
  type Compression,
  type Descriptor,
  formatPlatform,
  type Image,
  type Index,
  imageFromParts,
  type ManifestMediaTypes,
  MediaTypes,
  normalizePlatform,
  type Platform,
  validateImage,
} from '../oci/index.ts';
import { type BuildGraph, type PlanOptions, planBuild } from '../plan/index.ts';
import { nullSink, type ProgressSink } from '../progress/index.ts';
import type { Reference } from '../reference/index.ts';
import {
  chooseIsolation,
  type Executor,
  type IsolationRequest,
  isolationNotice,
  openIsolatedExecutor,
  processIsolationFacts,
} from '../runtime/index.ts';
import { openSnapshotter } from '../snapshot/index.ts';
import {
  checkEntitlements,
  type Entitlement,
  type RunSettings,
  type SolveResult,
  type StageImage,
  sharedSolve,
  solveGraph,
  toImageConfig,
} from '../solver/index.ts';
import type { Store } from '../store/index.ts';
import { formatErrorChain, InternalError, InvalidInputError, NotFoundError } from '../util/index.ts';
import { planWithBases, prefetchTargetBases, resolveOncePerBuild } from './build-bases.ts';
import { type BuildCaches, exportBuildCache, openBuildCaches } from './build-cache.ts';
import { checkNamedContexts, type NamedContext, namedContextResolver } from './build-contexts.ts';
import { urlFetcher } from './fetch-url.ts';
import { layersSettled, pendingLayerPull } from './image-resolver.ts';
import { imageNameOf } from './images.ts';
import { createdTime } from './import-image.ts';
import type { RegistryAccess } from './registry-access.ts';
import { processSettings, type StrataSettings } from './settings.ts';

/** A cache location: `type=registry,ref=…` or `type=local,src=…|dest=…` (an OCI layout directory). */
export type CacheLocation =
  | { readonly type: 'registry'; readonly ref: string }
  | { readonly type: 'local'; readonly path: string };

/** `--cache-to`: a location and how much to export (`min`: the final image's layers; `max`: every step of every stage). */
export type CacheExport = CacheLocation & {
  readonly mode: 'min' | 'max';
  /** `ignore-error=true`: a failed export is a warning, not a failed build. */
  readonly ignoreError?: boolean;
  /** `mounts=all|ID[;ID…]`: the cache mounts to export too (absent: none, docs/cache.md). */
  readonly mounts?: 'all' | readonly string[];
  /** `max-size=`: at most this many bytes of files per exported mount (least recently used dropped). */
  readonly maxSize?: number;
};

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
  /**
   * Whether the build's last step, `exporting to image` (writing the image, naming it), ends when
   * the image is stored (default). The CLI passes false when its image outputs go on in that step
   * (naming to each name, pushing), as BuildKit's exporter does, and ends it itself.
   */
  readonly finishExportStep?: boolean;
  readonly target?: string;
  readonly buildArgs?: ReadonlyMap<string, string>;
  /** The platform to build for (default: the host's); see `platforms` for several. */
  readonly platform?: Platform;
  /**
   * Several target platforms (`--platform a,b`): one image each, stored as an OCI image index, as
   * `docker buildx build --platform` makes. One platform here is the same as `platform`.
   */
  readonly platforms?: readonly Platform[];
  readonly labels?: Readonly<Record<string, string>>;
  /** The environment's settings (snapshotter, runtime, cache debugging); default: this process's. */
  readonly settings?: StrataSettings;
  readonly secrets?: ReadonlyMap<string, Uint8Array>;
  readonly network?: 'default' | 'none' | 'host';
  /** `--add-host`, `--ulimit`, `--shm-size`: for every RUN. */
  readonly run?: RunSettings;
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
  /** `--isolation`: how RUN steps are isolated (runtime/isolation-mode.ts); `default` when absent. */
  readonly isolation?: IsolationRequest;
  /** Resolves base images; default: the local store only. */
  readonly resolveImage?: ImageResolver;
  /** `--build-context`: named contexts, by {@link namedContextKey}, answering for `FROM name` and `COPY --from=name`. */
  readonly buildContexts?: ReadonlyMap<string, NamedContext>;
  readonly events?: ProgressSink;
  readonly signal?: AbortSignal;
}

/** One platform's image of a multi-platform build. */
export interface PlatformBuild {
  /** The target platform it was built for (normalised), as the index's descriptor names it. */
  readonly platform: Platform;
  readonly image: Image;
  /** Its manifest as stored. */
  readonly descriptor: Descriptor;
  readonly graph: BuildGraph;
  readonly target: StageImage;
  readonly stages: ReadonlyMap<number, StageImage>;
  readonly cachedSteps: readonly string[];
  readonly executedSteps: readonly string[];
}

/** What a multi-platform build stored: the index, and each platform's image. */
export interface BuiltIndex {
  /** The OCI image index as stored (and tagged). */
  readonly descriptor: Descriptor;
  readonly platforms: readonly PlatformBuild[];
}

/**
 * What a build produced. A multi-platform build (`index` set) describes its first platform in
 * `image`, `graph`, `target` and `stages`, stores and names the index (`descriptor`), and lists the
 * steps of every platform (ids prefixed with the platform).
 */
export interface BuildResult {
  readonly image: Image;
  /** The manifest as stored (and tagged); the index, for several platforms. */
  readonly descriptor: Descriptor;
  /** Several platforms: the index and each platform's image. */
  readonly index?: BuiltIndex;
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

/**
 * The target platforms of a build: none (the host), one, or several, normalised and each once.
 * One platform builds a plain manifest, as buildx does; several build an index.
 */
export function targetPlatforms(options: Pick<BuildOptions, 'platform' | 'platforms'>): Platform[] {
  const all = [...(options.platforms ?? []), ...(options.platform ? [options.platform] : [])];
  const distinct = new Map(all.map((p) => [formatPlatform(p), normalizePlatform(p)] as const));
  return [...distinct.values()];
}

/** A build's steps, in order: plan, resolve bases, open caches, solve, store and tag, export cache. */
async function buildWith(
  store: Store,
  options: BuildOptions,
  background: {
    readonly pullsSignal: AbortSignal;
    /** Every base image resolved so far (its layers may be downloading). */
    readonly resolvedBases: Image[];
  },
): Promise<BuildResult> {
  const platforms = targetPlatforms(options);
  const multi = platforms.length > 1;
  const first = platforms[0];
  const {
    dockerfile,
    contextDir,
    ignore,
    graph: firstPlan,
    planOptions,
  } = await planFirst({ ...options, ...(first ? { platform: first } : {}) });
  const entitlements = {
    file: dockerfile.file,
    allow: options.allow ?? [],
    ...(options.network ? { network: options.network } : {}),
  };
  // Each platform is planned on its own (TARGETARCH and the stages' platforms differ); the
  // Dockerfile, the context's ignore file and every base image (once per reference and platform)
  // are read once for all.
  const firstPlans = [
    firstPlan,
    ...platforms.slice(1).map((platform) => planBuild(dockerfile, { ...planOptions, platform })),
  ];
  for (const plan of firstPlans) {
    checkEntitlements(plan, entitlements);
    if (options.buildContexts) checkNamedContexts(plan, options.buildContexts);
  }
  const buildSignal = options.signal
    ? AbortSignal.any([options.signal, background.pullsSignal])
    : background.pullsSignal;
  const resolveOnce = resolveOncePerBuild(
    namedContextResolver(
      options.resolveImage ?? storeImageResolver(store),
      options.buildContexts ?? new Map(),
      store,
    ),
    buildSignal,
    background.resolvedBases,
  );
  const graphs = await Promise.all(
    firstPlans.map((plan, i) =>
      planWithBases(
        dockerfile,
        plan,
        { ...planOptions, ...(platforms[i] ? { platform: platforms[i] } : {}) },
        resolveOnce,
        options.signal,
      ),
    ),
  );
  for (const graph of graphs) checkEntitlements(graph, entitlements); // again: ONBUILD triggers of the bases
  const prefetches = graphs.flatMap((graph) => prefetchTargetBases(graph, resolveOnce));

  const caches = await openBuildCaches(store, contextDir, options);
  try {
    const settings = options.settings ?? processSettings();
    const steps = new StepCache(store);
    const epoch = sourceDateEpoch(options);
    const created = epoch === undefined ? createdTime() : epochTime(epoch);
    const solvedAll = await solve(store, options, {
      graphs,
      dockerfile,
      context: { dir: contextDir, view: new ContextView(contextDir, ignore.matcher) },
      settings,
      steps,
      caches,
      created,
      resolveOnce,
      ...(epoch !== undefined ? { epoch } : {}),
    });
    await caches.checksums.save();
    const time = { created, epoch };
    const stored = multi
      ? await storeIndexAndTag(store, solvedAll, graphs, time, options)
      : await storeAndTag(store, solvedAll[0]!.target, time, options);
    const built = multi ? stored.index!.platforms : undefined;
    const images = built ? built.map((b) => b.image) : [stored.image];
    // One cache for every platform (BuildKit's export holds every platform's records too): mode=min
    // keeps the layers of each platform's image.
    const cacheExported = options.cacheTo
      ? await exportBuildCache(
          store,
          { layers: images.flatMap((image) => image.layers) },
          solvedAll.flatMap((s) => s.records),
          options.cacheTo,
          {
            steps,
            mounts: caches.mounts,
            compression: options.compression ?? 'gzip',
            level: options.compressionLevel,
            access: { ...options.registry, ...(caches.pool ? { pool: caches.pool } : {}) },
            events: options.events,
            signal: options.signal,
          },
        )
      : undefined;
    // The export has read those layers, unless the store had them all: then their pull is just
    // naming the image; let it finish rather than leave it running.
    await Promise.allSettled(prefetches);
    const solved = solvedAll[0]!;
    const graph = graphs[0]!;
    return {
      image: stored.image,
      descriptor: stored.descriptor,
      ...(stored.index ? { index: stored.index } : {}),
      graph,
      target: solved.target,
      stages: solved.stages,
      warnings: uniqueWarnings(graphs.flatMap((g) => g.warnings)),
      cachedSteps: solvedAll.flatMap((s) => s.cachedSteps),
      executedSteps: solvedAll.flatMap((s) => s.executedSteps),
      ...(cacheExported ? { cacheExported } : {}),
    };
  } finally {
    await caches.close();
  }
}

/** Warnings of several platforms' plans, each once (most do not depend on the platform). */
function uniqueWarnings(warnings: BuildGraph['warnings']): BuildGraph['warnings'] {
  const seen = new Set<string>();
  return warnings.filter((w) => {
    const key = JSON.stringify(w);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Reads the Dockerfile and the context's ignore file, and plans without the bases' config. */
export async function planFirst(
  options: Pick<BuildOptions, 'context' | 'dockerfile' | 'buildArgs' | 'target' | 'platform'>,
) {
  const dockerfile = await readDockerfile(options);
  const contextDir = resolve(options.context);
  const dockerfilePath =
    typeof options.dockerfile === 'string' ? options.dockerfile : join(contextDir, 'Dockerfile');
  const ignore = await loadIgnoreFile({ contextDir, dockerfile: dockerfilePath });
  // CopyIgnoredFile: COPY/ADD of a path the ignore file excludes.
  const isIgnored = copyIgnoredTest(ignore.matcher);
  const planOptions: PlanOptions = {
    ...(isIgnored ? { isIgnored } : {}),
    ...(options.buildArgs ? { buildArgs: options.buildArgs } : {}),
    ...(options.target ? { target: options.target } : {}),
    ...(options.platform ? { platform: options.platform } : {}),
  };
  return { dockerfile, contextDir, ignore, graph: planBuild(dockerfile, planOptions), planOptions };
}

/** What {@link solve} needs besides the options: the plan, the context and the open caches. */
interface SolveInputs {
  /** One plan per target platform. */
  readonly graphs: readonly BuildGraph[];
  readonly dockerfile: Dockerfile;
  readonly context: { readonly dir: string; readonly view: ContextView };
  readonly settings: StrataSettings;
  readonly steps: StepCache;
  readonly caches: BuildCaches;
  readonly created: string;
  readonly resolveOnce: ImageResolver;
  /** SOURCE_DATE_EPOCH in seconds, when set. */
  readonly epoch?: number;
}

/**
 * Runs the graphs, one per target platform, side by side: opens the snapshotter (sweeping what a
 * dead build left), the URL fetcher, and the executor on first RUN, once for all of them. Several
 * platforms share their steps' results by cache key (a `FROM --platform=$BUILDPLATFORM` stage runs
 * once); one failing stops the others, and the build fails once they all have stopped.
 */
async function solve(store: Store, options: BuildOptions, inputs: SolveInputs): Promise<SolveResult[]> {
  const { settings } = inputs;
  const snapshotter = openSnapshotter(store.root, settings.snapshotter);
  // What a build that died left (mounted overlays, half-made trees) goes before this one starts.
  await snapshotter.sweepStale();
  const epoch = inputs.epoch;
  const fetcher = urlFetcher(join(store.root, 'tmp'));
  let executor: Promise<Executor> | undefined;
  const isolation = chooseIsolation(options.isolation ?? 'default', await processIsolationFacts());
  const notice = isolationNotice(isolation);
  if (notice) options.events?.emit({ type: 'message', level: 'warning', text: notice, at: Date.now() });
  const multi = inputs.graphs.length > 1;
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const shared = multi ? sharedSolve() : undefined;
  const solveOne = (graph: BuildGraph) =>
    solveGraph(
      {
        graph,
        dockerfile: inputs.dockerfile,
        context: inputs.context,
        ...(options.secrets ? { secrets: options.secrets } : {}),
        layers: {
          compression: options.compression ?? 'gzip',
          ...(options.compressionLevel !== undefined ? { level: options.compressionLevel } : {}),
          ...(options.forceCompression ? { forceCompression: true } : {}),
          // Builder stages' layers stay uncompressed (they are only cache records, as in BuildKit)
          // unless --cache-to mode=max is about to export every one of them.
          internalCompression: options.cacheTo?.mode === 'max' ? (options.compression ?? 'gzip') : 'none',
          ...(epoch !== undefined ? { sourceDateEpoch: epoch } : {}),
        },
        created: inputs.created,
        fetchUrl: (url, s) => fetcher.fetch(url, s),
        cache: {
          steps: inputs.steps,
          checksums: inputs.caches.checksums,
          disabled: options.noCache === true,
          disabledStages: new Set((options.noCacheFilter ?? []).map((n) => n.toLowerCase())),
          remote: inputs.caches.remote,
          mounts: inputs.caches.mounts,
          ...(settings.debugCache ? { debugKeys: true } : {}),
        },
        ...(options.network ? { network: options.network } : {}),
        ...(options.run ? { run: options.run } : {}),
        ...(options.labels ? { labels: options.labels } : {}),
        ...(multi ? { multiPlatform: true } : {}),
        ...(multi ? { signal } : options.signal ? { signal: options.signal } : {}),
      },
      {
        store,
        snapshotter,
        executor: () => {
          executor ??= openIsolatedExecutor(isolation.mode, {
            stateDir: join(store.root, 'runtime'),
            ...(settings.runtime ? { runtime: settings.runtime } : {}),
          });
          return executor;
        },
        resolveImage: inputs.resolveOnce,
        pendingLayers: pendingLayerPull,
        events: options.events ?? nullSink,
        stateDir: store.root,
        ...(shared ? { shared } : {}),
      },
    );
  try {
    let failure: { error: unknown } | undefined;
    const solves = inputs.graphs.map((graph) =>
      solveOne(graph).catch((error: unknown) => {
        // The first platform to fail is the build's error; the others are stopped (their steps
        // kill their containers and release their mounts) and their aborts are not reported.
        failure ??= { error };
        stop.abort();
        throw error;
      }),
    );
    const settled = await Promise.allSettled(solves);
    if (failure) throw failure.error;
    const results = settled.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    await closeExecutor(executor);
    return results as SolveResult[];
  } catch (error) {
    // The build's own error wins; a failure to close after it is secondary.
    await closeExecutor(executor).catch(() => undefined);
    throw error;
  } finally {
    await fetcher.close();
  }
}

/**
 * Closes the executor, if a step opened one: the network it made ahead for a next RUN goes, and
 * the networks of finished RUNs are gone when this resolves.
 */
async function closeExecutor(executor: Promise<Executor> | undefined): Promise<void> {
  // An executor that failed to open was the error of the step that asked for it; nothing to close.
  const opened = await executor?.catch(() => undefined);
  await opened?.close?.();
}

/**
 * `SOURCE_DATE_EPOCH` in seconds: the build-arg (Dockerfile 1.5+; buildx passes the environment
 * variable as this build-arg), else the environment variable. An empty value means none; anything
 * but a number of seconds is refused, as BuildKit refuses it.
 */
export function sourceDateEpoch(options: Pick<BuildOptions, 'buildArgs'>): number | undefined {
  const fromArg = options.buildArgs?.get('SOURCE_DATE_EPOCH');
  const text = fromArg ?? process.env.SOURCE_DATE_EPOCH;
  if (text === undefined || text === '') return undefined;
  if (!/^\d+$/.test(text))
    throw new InvalidInputError(`invalid SOURCE_DATE_EPOCH ${JSON.stringify(text)}`, {
      hint: 'a number of seconds since 1970-01-01T00:00:00Z',
    });
  return Number(text);
}

/** An epoch in seconds as the RFC 3339 time written into the config. */
function epochTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

/** The target stage's image: config and manifest, validated. */
function targetImage(
  target: StageImage,
  time: { readonly created: string; readonly epoch: number | undefined },
): Image {
  const config = toImageConfig(target, {
    fallback: time.created,
    ...(time.epoch !== undefined ? { epoch: epochTime(time.epoch) } : {}),
  });
  const image = imageFromParts({ config, layers: target.layers });
  const problems = validateImage(image);
  if (problems.length > 0) {
    throw new InternalError(
      `built image is invalid: ${problems.map((p) => `${p.section}: ${p.message}`).join('; ')}`,
    );
  }
  return image;
}

/**
 * BuildKit's last vertex, `exporting to image`: `write` stores the result (noting what it wrote),
 * then the result is named with each tag.
 */
async function exportStep<T extends { readonly descriptor: Descriptor }>(
  store: Store,
  options: BuildOptions,
  write: (note: (text: string) => void) => Promise<T>,
): Promise<T> {
  const events = options.events ?? nullSink;
  const step = 'export image';
  events.emit({ type: 'step-started', step, name: 'exporting to image', at: Date.now() });
  const note = (text: string) => events.emit({ type: 'message', level: 'info', step, text, at: Date.now() });
  let written: T;
  try {
    written = await write(note);
    for (const tag of options.tags ?? []) {
      const name = imageNameOf(tag);
      await store.tag(name, written.descriptor);
      note(`naming to ${name.full} done`);
    }
  } catch (error) {
    events.emit({ type: 'step-failed', step, error: formatErrorChain(error), at: Date.now() });
    throw error;
  }
  if (options.finishExportStep !== false) events.emit({ type: 'step-finished', step, at: Date.now() });
  return written;
}

/** The target stage's image written to the store and tagged. */
async function storeAndTag(
  store: Store,
  target: StageImage,
  time: { readonly created: string; readonly epoch: number | undefined },
  options: BuildOptions,
): Promise<{ image: Image; descriptor: Descriptor; index?: BuiltIndex }> {
  const image = targetImage(target, time);
  return exportStep(store, options, async (note) => {
    // The image written (its ID, the config digest) and each name given.
    const descriptor = await store.writeImage(image, options.signal);
    note(`writing image ${image.manifest.config.digest} done`);
    return { image, descriptor };
  });
}

/**
 * Every platform's image written to the store, then the OCI image index over them (each manifest
 * with its `platform`, in the order the platforms were asked for, as buildx writes it), tagged.
 */
async function storeIndexAndTag(
  store: Store,
  solved: readonly SolveResult[],
  graphs: readonly BuildGraph[],
  time: { readonly created: string; readonly epoch: number | undefined },
  options: BuildOptions,
): Promise<{ image: Image; descriptor: Descriptor; index: BuiltIndex }> {
  const images = solved.map((s) => targetImage(s.target, time));
  return exportStep(store, options, async (note) => {
    const platforms: PlatformBuild[] = [];
    for (const [i, image] of images.entries()) {
      const graph = graphs[i]!;
      const result = solved[i]!;
      const descriptor = await store.writeImage(image, options.signal);
      note(`exporting manifest ${descriptor.digest} done`);
      note(`exporting config ${image.manifest.config.digest} done`);
      platforms.push({
        platform: normalizePlatform(graph.platform),
        image,
        descriptor,
        graph,
        target: result.target,
        stages: result.stages,
        cachedSteps: result.cachedSteps,
        executedSteps: result.executedSteps,
      });
    }
    const descriptor = await store.writeIndex(indexOf(platforms, 'oci'));
    note(`exporting manifest list ${descriptor.digest} done`);
    return { image: images[0]!, descriptor, index: { descriptor, platforms } };
  });
}

/** The index over a multi-platform build's manifests, in OCI's or Docker's media types. */
export function indexOf(
  platforms: readonly { readonly platform: Platform; readonly descriptor: Descriptor }[],
  mediaTypes: ManifestMediaTypes,
  annotations?: Readonly<Record<string, string>>,
): Index {
  return {
    schemaVersion: 2,
    mediaType: mediaTypes === 'oci' ? MediaTypes.ociIndex : MediaTypes.dockerManifestList,
    manifests: platforms.map(({ platform, descriptor }) => ({
      mediaType: descriptor.mediaType,
      digest: descriptor.digest,
      size: descriptor.size,
      ...(descriptor.annotations ? { annotations: descriptor.annotations } : {}),
      platform,
    })),
    ...(annotations && Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
}
