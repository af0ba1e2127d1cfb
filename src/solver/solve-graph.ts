import { availableParallelism } from 'node:os';
import { type CacheKey, type CacheRecord, cacheKey } from '../cache/index.ts';
import { DEFAULT_PATH, formatPlatform, type Layer, normalizePlatform, type Platform } from '../oci/index.ts';
import type { Stage, Step } from '../plan/index.ts';
import { baseImageStepId } from '../progress/index.ts';
import type { Snapshot } from '../snapshot/index.ts';
import { formatErrorChain, Limiter, type SourceLocation } from '../util/index.ts';
import { LayerCompressor } from './compress-layers.ts';
import { BuildStepError, RunFailedError } from './errors.ts';
import { commitToHistory } from './history.ts';
import { cloneStageImage, getEnv, imageStageFrom, type StageImage, scratchImage } from './image-state.ts';
import type { SharedStepResult } from './shared-solve.ts';
import type { LayerStepPlan, SolveOptions, SolverDeps, StepContext } from './step-context.ts';
import { applyConfigStep } from './steps/config.ts';
import { planCopy } from './steps/copy.ts';
import { planRun } from './steps/run.ts';
import { planWorkdir } from './steps/workdir.ts';
import { unpackLeased } from './unpack-leased.ts';

/** What a solved build produced. */
export interface SolveResult {
  /** The target stage's image. */
  readonly target: StageImage;
  /** Every stage that was built, by index. */
  readonly stages: ReadonlyMap<number, StageImage>;
  /** Steps whose result came from the cache, and steps that ran (`<stage>/<step>` ids). */
  readonly cachedSteps: readonly string[];
  readonly executedSteps: readonly string[];
  /** The cache record of every layer step of every built stage (for `--cache-to mode=max`). */
  readonly records: readonly CacheRecord[];
}

/** The step's display text: the instruction as written, upper-cased keyword (BuildKit's vertex name). */
export function stepName(step: Step): string {
  const original = step.instruction.original;
  const space = original.search(/\s/);
  const name =
    space < 0 ? original.toUpperCase() : original.slice(0, space).toUpperCase() + original.slice(space);
  // BuildKit marks steps that came from a base's ONBUILD triggers.
  return step.onbuild ? `ONBUILD ${name}` : name;
}

/**
 * A step as it enters its cache key: its expanded arguments, without where it sits in the file and
 * without the variable scope (a RUN's plan puts the environment it actually runs with in its
 * inputs; COPY and WORKDIR do not read variables at run time, their words are already expanded).
 */
export function stepDefinition(step: Step): unknown {
  const {
    index: _index,
    location: _location,
    instruction: _instruction,
    unresolved: _unresolved,
    onbuild: _onbuild,
    env: _env,
    buildArgs: _buildArgs,
    ...rest
  } = step;
  if (rest.kind !== 'run') return rest;
  // A cache mount's id and sharing mode name where the cache lives, not what the step makes:
  // BuildKit's ExecOp.CacheMap clears them (unless they are the defaults, which say no more than
  // the target), so renaming a cache never invalidates a step.
  return {
    ...rest,
    mounts: rest.mounts.map((m) => {
      if (m.type !== 'cache') return m;
      const { id: _id, sharing: _sharing, ...kept } = m;
      return kept;
    }),
  };
}

/**
 * Runs a planned build: every needed stage at once, side by side (bounded by the cores), each step
 * in order; a step that reads another stage (FROM, COPY --from, RUN --mount from=) waits for it. A step whose
 * cache key has a record reuses its layer without running; everything else runs and is recorded.
 * Emits progress events; returns the target stage's image (not yet exported).
 */
export async function solveGraph(options: SolveOptions, deps: SolverDeps): Promise<SolveResult> {
  const { graph } = options;
  const results = new Map<number, Promise<StageImage>>();
  const limiter = new Limiter(Math.max(1, availableParallelism()));
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
  const cachedSteps: string[] = [];
  const executedSteps: string[] = [];
  const records: CacheRecord[] = [];
  const fromSteps = deps.shared?.shownSteps ?? new Set<string>();
  let failed: { error: unknown } | undefined;
  const compressor = new LayerCompressor({
    store: deps.store,
    ...(options.cache ? { steps: options.cache.steps } : {}),
    compression: options.layers.compression,
    ...(options.layers.level !== undefined ? { level: options.layers.level } : {}),
    ...(options.layers.forceCompression ? { force: true } : {}),
    signal,
  });
  // The target and the stages it is built FROM: their layers are the image's.
  const exported = new Set<number>();
  for (let index: number | undefined = graph.target; index !== undefined; ) {
    exported.add(index);
    const base: Stage['base'] | undefined = graph.stages[index]?.base;
    index = base?.kind === 'stage' ? base.stage : undefined;
  }

  const stageResult = (index: number): Promise<StageImage> => {
    const existing = results.get(index);
    if (existing) return existing;
    const stage = graph.stages[index];
    if (!stage) throw new Error(`no stage ${index}`);
    // A stage starts at once and waits for another only where a step needs it (FROM <stage>,
    // COPY --from, RUN --mount from=), giving its slot back meanwhile: the steps before that run
    // side by side with the stage they wait for, as BuildKit schedules each step, not each stage.
    const waitForStage = (d: number): Promise<StageImage> => limiter.yieldWhile(stageResult(d));
    const stageOptions = stageLayerOptions(options, exported.has(index), compressor);
    const directStep = index === graph.target && stageOptions !== options ? lastLayerStep(stage) : undefined;
    const promise = limiter.run(() =>
      buildStage(stage, {
        options: stageOptions,
        ...(directStep !== undefined ? { direct: { step: directStep, options } } : {}),
        deps,
        stageResult: waitForStage,
        signal,
        cachedSteps,
        executedSteps,
        records,
        fromSteps,
      }),
    );
    // One failed stage stops the others (their steps see the abort and clean up); the first
    // failure is the one reported, not the aborts it caused in stages running beside it.
    promise.catch((error: unknown) => {
      if (!failed) failed = { error };
      controller.abort();
    });
    results.set(index, promise);
    return promise;
  };

  for (const index of graph.order) void stageResult(index).catch(() => undefined);
  let target: StageImage;
  try {
    target = await stageResult(graph.target);
  } catch (error) {
    // A failed (or interrupted) build returns once everything it started has stopped: the other
    // stages' steps have killed their containers and released their mounts, and background
    // compressions have removed their temp files. Only then may the caller release the lease
    // and the process exit with nothing left behind.
    controller.abort();
    await Promise.allSettled(results.values());
    await compressor.settled();
    throw failed ? failed.error : error;
  }
  const stages = new Map<number, StageImage>();
  for (const [index, p] of results) stages.set(index, await p);
  // Layers a builder stage stored uncompressed (or that an earlier build made in another
  // compression), reused by the target: compressed as asked now, once — or already, in the
  // background, for the target's own steps.
  target.layers = await compressor.imageLayers(target.layers, records);
  if (options.labels && Object.keys(options.labels).length > 0) {
    target.config.Labels = { ...(target.config.Labels ?? {}), ...options.labels };
  }
  return { target, stages, cachedSteps, executedSteps, records };
}

interface StageRun {
  readonly options: SolveOptions;
  /** A step that runs with other options (the target's last layer step: compressed directly). */
  readonly direct?: { readonly step: Step; readonly options: SolveOptions };
  readonly deps: SolverDeps;
  readonly stageResult: (index: number) => Promise<StageImage>;
  readonly signal: AbortSignal;
  readonly cachedSteps: string[];
  readonly executedSteps: string[];
  readonly records: CacheRecord[];
  /** FROM steps already shown (one per base image and platform). */
  readonly fromSteps: Set<string>;
}

/** The snapshot of an image's layers, unpacking what a cache hit skipped. */
async function ensureSnapshot(image: StageImage, deps: SolverDeps, signal: AbortSignal): Promise<Snapshot> {
  const have = image.snapshot.diffIds;
  const same = have.length === image.layers.length && image.layers.every((l, i) => l.diffId === have[i]);
  if (!same) image.snapshot = await unpackLeased(deps, image.layers, signal);
  return image.snapshot;
}

/**
 * Where BuildKit's progress shows a stage's steps: the `i/n` of `[stage i/n]`. Only instructions
 * that become LLB vertices count (dockerfile2llb's `cmdTotal`): FROM an image (not `scratch`, not
 * another stage), RUN, COPY, ADD and WORKDIR. ENV, CMD, LABEL and the other config-only
 * instructions change the image config and are never shown as steps, by BuildKit or by strata.
 */
export interface StagePositions {
  /** Vertices in the stage: `n`. */
  readonly total: number;
  /** The FROM's position (1), when the base is an image. */
  readonly from?: number;
  /** Each vertex step's position, by `Step.index`. */
  readonly steps: ReadonlyMap<number, number>;
}

/** The BuildKit `i/n` numbering of a stage's steps (see {@link StagePositions}). */
export function stagePositions(stage: Stage): StagePositions {
  let position = stage.base.kind === 'image' ? 1 : 0;
  const steps = new Map<number, number>();
  for (const step of stage.steps) if (isVertexStep(step)) steps.set(step.index, ++position);
  return { total: position, ...(stage.base.kind === 'image' ? { from: 1 } : {}), steps };
}

/** A step BuildKit shows as a vertex of its own (it changes files): RUN, COPY, ADD, WORKDIR. */
export function isVertexStep(step: Step): boolean {
  return step.kind === 'run' || step.kind === 'copy' || step.kind === 'add' || step.kind === 'workdir';
}

async function buildStage(stage: Stage, run: StageRun): Promise<StageImage> {
  const { options, deps, signal } = run;
  const file = options.dockerfile.file;
  const positions = stagePositions(stage);
  const total = positions.total;
  // BuildKit names the stage in its labels only when the Dockerfile has more than one, and the
  // platform when the build has several.
  const stageLabel = {
    ...(options.multiPlatform ? { platform: platformLabel(stage.platform, options.graph.platform) } : {}),
    ...(options.graph.stages.length > 1 ? { stage: stage.displayName } : {}),
  };
  const idPrefix = options.multiPlatform ? `${formatPlatform(options.graph.platform)} ` : '';
  const fromId =
    stage.base.kind === 'image'
      ? baseImageStepId(stage.base.ref.toString(), stage.platform)
      : `${idPrefix}${stage.index}/from`;
  const fromName = `FROM ${stage.base.kind === 'image' ? stage.base.ref.toString() : stage.base.kind === 'stage' ? (options.graph.stages[stage.base.stage]?.displayName ?? '') : 'scratch'}`;
  // Only a FROM that names an image is a step of its own (BuildKit's source vertex); `FROM scratch`
  // and `FROM <stage>` only say where the stage starts. Stages FROM the same image share one step,
  // as they share one vertex in BuildKit: the first stage to start shows it.
  const fromStep = stage.base.kind === 'image' && !run.fromSteps.has(fromId);
  if (fromStep) run.fromSteps.add(fromId);
  if (fromStep)
    deps.events.emit({
      type: 'step-started',
      step: fromId,
      name: fromName,
      ...stageLabel,
      index: 1,
      total,
      at: Date.now(),
    });
  let image: StageImage;
  let pendingLayers: Promise<void> | undefined;
  const empty: Snapshot = { kind: deps.snapshotter.kind, chainId: '', diffIds: [], dirs: [] };
  try {
    if (stage.base.kind === 'scratch') {
      image = scratchImage(stage.platform, empty);
      image.cacheKey = cacheKey(undefined, { from: 'scratch', platform: stage.platform });
    } else if (stage.base.kind === 'stage') {
      image = cloneStageImage(await run.stageResult(stage.base.stage));
    } else {
      const base = await deps.resolveImage(stage.base.ref, stage.platform, signal);
      image = imageStageFrom(base, empty);
      pendingLayers = deps.pendingLayers?.(base);
      image.cacheKey = cacheKey(undefined, { from: base.digest, platform: stage.platform });
    }
  } catch (error) {
    if (fromStep)
      deps.events.emit({
        type: 'step-failed',
        step: fromId,
        error: formatErrorChain(error),
        ...(signal.aborted ? { canceled: true } : {}),
        at: Date.now(),
      });
    throw new BuildStepError({
      stage: stage.displayName,
      ...(stageLabel.platform ? { platform: stageLabel.platform } : {}),
      step: fromStep ? `1/${total} ${fromName}` : fromName,
      cause: error,
      location: { file, line: stage.location.line },
    });
  }
  // ONBUILD triggers of the base are consumed here (the plan turned them into steps), and the
  // new image starts with none, as BuildKit's dispatchState.init does.
  delete image.config.OnBuild;
  // BuildKit makes sure PATH is always set.
  if (getEnv(image.config.Env, 'PATH') === undefined)
    image.config.Env = [...(image.config.Env ?? []), `PATH=${DEFAULT_PATH}`];
  if (fromStep) endFromStep(deps, fromId, pendingLayers, signal);

  const cacheOff =
    options.cache === undefined ||
    options.cache.disabled === true ||
    (stage.name !== undefined && options.cache.disabledStages?.has(stage.name) === true);
  const stageSnapshot = async (index: number) => ensureSnapshot(await run.stageResult(index), deps, signal);
  for (const step of stage.steps) {
    signal.throwIfAborted();
    // A step that reads another stage's files starts when that stage is done.
    for (const dependency of stepStageDependencies(step)) await run.stageResult(dependency);
    signal.throwIfAborted();
    const stepId = `${idPrefix}${stage.index}/${step.index}`;
    const name = stepName(step);
    const location: SourceLocation = { file, line: step.location.line };
    // Config-only steps (ENV, CMD, LABEL, …) are no vertex in BuildKit: they are applied silently.
    const position = positions.steps.get(step.index);
    // A step starts when its inputs are ready, not when it is reached: its cache answer is known,
    // or the filesystem it runs on is there (a base image's layers downloaded and unpacked, shown
    // under its FROM step). Its timer then counts its own work only, as BuildKit's does.
    let started = false;
    const start = (): void => {
      if (started || position === undefined) return;
      started = true;
      deps.events.emit({
        type: 'step-started',
        step: stepId,
        name,
        ...stageLabel,
        index: position,
        total,
        at: Date.now(),
      });
    };
    const current = image;
    const ctx: StepContext = {
      deps,
      options: run.direct?.step === step ? run.direct.options : options,
      stage,
      step,
      stepId,
      location,
      image,
      stageResult: run.stageResult,
      records: run.records,
      snapshot: () => ensureSnapshot(current, deps, signal),
      stageSnapshot,
      signal,
    };
    try {
      const outcome = await dispatchStep(ctx, cacheOff, start);
      start();
      if (outcome === 'cached') {
        run.cachedSteps.push(stepId);
        deps.events.emit({ type: 'step-cached', step: stepId, at: Date.now() });
        continue;
      }
      if (outcome === 'executed') run.executedSteps.push(stepId);
    } catch (error) {
      start();
      if (position !== undefined)
        deps.events.emit({
          type: 'step-failed',
          step: stepId,
          error: formatErrorChain(error),
          ...(signal.aborted ? { canceled: true } : {}),
          at: Date.now(),
        });
      // A failed RUN's error quotes its command already: the summary says it once.
      const label = causedByRunFailure(error) ? '' : name;
      throw new BuildStepError({
        stage: stage.displayName,
        ...(stageLabel.platform ? { platform: stageLabel.platform } : {}),
        step: position !== undefined ? `${position}/${total} ${label}`.trimEnd() : name,
        cause: error,
        location,
      });
    }
    if (position !== undefined) deps.events.emit({ type: 'step-finished', step: stepId, at: Date.now() });
  }
  return image;
}

/**
 * The platform in a step's label of a multi-platform build, as BuildKit's dockerfile2llb writes it
 * (prefixCommand, formatTargetPlatform): the stage's platform, and `->arch` (or `->os/arch`) when
 * the stage runs on another platform than the target (`linux/amd64->arm64`).
 */
export function platformLabel(stage: Platform, target: Platform): string {
  const s = normalizePlatform(stage);
  const t = normalizePlatform(target);
  const base = formatPlatform(s);
  if (s.os === t.os && s.architecture === t.architecture) return base;
  if (s.os !== t.os) return `${base}->${formatPlatform(t)}`;
  return `${base}->${t.architecture}${t.variant ? `/${t.variant}` : ''}`;
}

/** Whether `error` is a failed RUN, or was caused by one. */
function causedByRunFailure(error: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e: unknown = error; e instanceof Error && !seen.has(e); e = e.cause) {
    if (e instanceof RunFailedError) return true;
    seen.add(e);
  }
  return false;
}

/**
 * Ends a FROM step: now, or once its base's layers have downloaded (shown under it meanwhile). The
 * stage does not wait: its steps run beside the download and read the layers when they need them.
 */
function endFromStep(
  deps: SolverDeps,
  step: string,
  pending: Promise<void> | undefined,
  signal: AbortSignal,
): void {
  if (!pending) {
    deps.events.emit({ type: 'step-finished', step, at: Date.now() });
    return;
  }
  pending.then(
    () => deps.events.emit({ type: 'step-finished', step, at: Date.now() }),
    (error: unknown) =>
      deps.events.emit({
        type: 'step-failed',
        step,
        error: formatErrorChain(error),
        ...(signal.aborted ? { canceled: true } : {}),
        at: Date.now(),
      }),
  );
}

/**
 * How a stage writes its layers. One the target image is not made of keeps them in the internal
 * compression. One the image is made of, when that is none, commits them uncompressed too and has
 * them compressed in the background while its next steps run (the target's last layer step, which
 * nothing follows, is compressed directly: see `direct`). Otherwise, the options as they are.
 */
function stageLayerOptions(
  options: SolveOptions,
  exported: boolean,
  compressor: LayerCompressor,
): SolveOptions {
  const internal = options.layers.internalCompression;
  if (internal === undefined) return options;
  if (!exported) return { ...options, layers: { ...options.layers, compression: internal } };
  if (internal !== 'none' || options.layers.compression === 'none') return options;
  return { ...options, layers: { ...options.layers, compression: 'none', background: compressor } };
}

/** The stage's last step that can make a layer (RUN, COPY, ADD, WORKDIR), if any. */
function lastLayerStep(stage: Stage): Step | undefined {
  return stage.steps.findLast(isVertexStep);
}

/** The stages a step reads files from: COPY --from=<stage>, RUN --mount=…,from=<stage>. */
function stepStageDependencies(step: Step): number[] {
  if (step.kind === 'copy' && step.from.kind === 'stage') return [step.from.stage];
  if (step.kind === 'run') return step.mounts.flatMap((m) => (m.from.kind === 'stage' ? [m.from.stage] : []));
  return [];
}

/** Runs one step (or reuses its cached layer). */
async function dispatchStep(
  ctx: StepContext,
  cacheOff: boolean,
  start: () => void,
): Promise<'cached' | 'executed' | 'config'> {
  const { step, image } = ctx;
  let plan: LayerStepPlan | undefined;
  switch (step.kind) {
    case 'run':
      plan = await planRun(ctx, step);
      break;
    case 'copy':
    case 'add':
      plan = await planCopy(ctx, step);
      break;
    case 'workdir':
      plan = planWorkdir(ctx, step);
      if (!plan) {
        commitToHistory(image, { createdBy: 'WORKDIR /', withLayer: false });
        return 'config';
      }
      break;
    default:
      // Config-only steps change no files: the key chain follows the filesystem, as BuildKit's LLB
      // does, and each layer step's key holds the config it reads (env, user, workdir, shell).
      applyConfigStep(image, step);
      return 'config';
  }
  try {
    return await runLayerStep(ctx, plan, { cacheOff, start });
  } finally {
    await plan.dispose?.();
  }
}

/** A layer step's cache lookups (definition key, then content key) and, on a miss, its work. */
async function runLayerStep(
  ctx: StepContext,
  plan: LayerStepPlan,
  how: { readonly cacheOff: boolean; readonly start: () => void },
): Promise<'cached' | 'executed'> {
  const { step, image } = ctx;
  const parentKey = image.cacheKey;
  const definition = stepDefinition(step);
  // With SOURCE_DATE_EPOCH, a layer's file times are clamped to it when committed, so whether the
  // times are clamped is in the key: a layer cached without an epoch (today's mtimes) is not used
  // for a build with one. The epoch's value is not: a CI that sets it from each commit's time
  // still reuses the steps a commit did not change, their files clamped to the earlier commit's
  // time, as BuildKit's rewrite-timestamp leaves times older than the epoch alone.
  const epoch = ctx.options.layers.sourceDateEpoch === undefined ? undefined : true;
  const key: CacheKey = cacheKey(parentKey, {
    step: definition,
    inputs: plan.inputs,
    ...(epoch !== undefined ? { clampedToEpoch: epoch } : {}),
  });
  const debugKeys = ctx.options.cache?.debugKeys === true;
  // Why a step missed: the parent key and every input (STRATA_DEBUG_CACHE=1).
  if (debugKeys)
    ctx.deps.events.emit({
      type: 'cache-key',
      step: ctx.stepId,
      kind: 'definition',
      key,
      ...(parentKey === undefined ? {} : { parent: parentKey }),
      inputs: {
        step: definition,
        inputs: plan.inputs,
        ...(epoch !== undefined ? { clampedToEpoch: epoch } : {}),
      },
      at: Date.now(),
    });
  // The same step in another platform's solve of this build: its result, once it has one.
  const shared = ctx.deps.shared;
  const running = shared?.steps.get(key);
  if (running) {
    const result = await running;
    ctx.signal?.throwIfAborted();
    if (result) return takeSharedResult(ctx, plan, result);
  }
  let share: ((result: SharedStepResult | undefined) => void) | undefined;
  if (shared && !running) {
    shared.steps.set(
      key,
      new Promise((resolve) => {
        share = resolve;
      }),
    );
  }
  try {
    const outcome = await lookupOrRun(ctx, plan, { ...how, key, definition, epoch, debugKeys });
    share?.(outcome.shared);
    return outcome.kind;
  } catch (error) {
    // A failed step fails its own solve (and with it the build); a waiting solve sees undefined
    // and stops with the build's signal, or runs the step itself if the build goes on.
    share?.(undefined);
    throw error;
  }
}

/**
 * A cache hit's layer on the step's image: read from the store, after `fetchLayer` brought it
 * there when it comes from an imported cache (fetched once, by whoever reads it first), and
 * handed to the background compressor to prefetch.
 */
function pushHitLayer(
  ctx: StepContext,
  hit: CacheRecord,
  fetchLayer: ((signal?: AbortSignal) => Promise<void>) | undefined,
): void {
  const store = ctx.deps.store;
  const layer: Layer = {
    descriptor: hit.layer,
    diffId: hit.diffId,
    open: async (s) => {
      await fetchLayer?.(s);
      return store.blobs.open(hit.layer.digest, s ? { signal: s } : {});
    },
    ...(fetchLayer ? { fetch: fetchLayer } : {}),
  };
  ctx.image.layers.push(layer);
  ctx.options.layers.background?.prefetch(layer);
}

/** A step another platform's solve ran (or found cached): its layer, as a cache hit here. */
async function takeSharedResult(
  ctx: StepContext,
  plan: LayerStepPlan,
  result: SharedStepResult,
): Promise<'cached'> {
  const { image } = ctx;
  const hit = result.record;
  ctx.records.push(hit);
  await ctx.deps.store.lease.add(hit.layer.digest);
  pushHitLayer(ctx, hit, result.fetchLayer);
  image.cacheKey = result.chainKey;
  commitToHistory(image, { createdBy: plan.createdBy, withLayer: true, ran: true, created: hit.created });
  return 'cached';
}

/** A layer step's cache lookups and, on a miss, its work; what another solve can take from it. */
async function lookupOrRun(
  ctx: StepContext,
  plan: LayerStepPlan,
  how: {
    readonly cacheOff: boolean;
    readonly start: () => void;
    readonly key: CacheKey;
    readonly definition: unknown;
    readonly epoch: true | undefined;
    readonly debugKeys: boolean;
  },
): Promise<{ kind: 'cached' | 'executed'; shared: SharedStepResult }> {
  const { cacheOff, key, definition, epoch, debugKeys } = how;
  const { image } = ctx;
  const parentKey = image.cacheKey;
  const useCache = ctx.options.cache !== undefined && !cacheOff;
  let found = useCache ? await findRecord(ctx, key) : undefined;
  // BuildKit's second chance: when the definition key misses, a key from the content the step
  // reads (the files a COPY --from selects, not the key of the stage that made them). A builder
  // stage that re-ran but produced the same files then costs no copy, and the steps after the
  // copy chain from the content key, so they hit too.
  let contentKey: CacheKey | undefined;
  if (!found && plan.contentInputs) {
    const content = await plan.contentInputs();
    contentKey = cacheKey(parentKey, {
      step: definition,
      content,
      ...(epoch !== undefined ? { clampedToEpoch: epoch } : {}),
    });
    if (debugKeys)
      ctx.deps.events.emit({
        type: 'cache-key',
        step: ctx.stepId,
        kind: 'content',
        key: contentKey,
        inputs: content,
        at: Date.now(),
      });
    if (useCache) found = await findRecord(ctx, contentKey);
  }
  if (found) {
    const store = ctx.deps.store;
    const hit = found.record;
    let fetchLayer = found.fetchLayer;
    ctx.records.push(hit);
    if (contentKey) {
      // Found by content: remember it under the definition key too, so the next build hits first
      // time — now, or for an imported record once its layer is here.
      const alias: CacheRecord = { ...hit, key, chainKey: contentKey };
      ctx.records.push(alias);
      const steps = ctx.options.cache?.steps;
      if (!fetchLayer) await steps?.put(alias);
      else {
        const fetch = fetchLayer;
        let saved: Promise<void> | undefined;
        fetchLayer = (s) => {
          saved ??= fetch(s).then(() => steps?.put(alias));
          return saved;
        };
      }
    }
    await store.lease.add(hit.layer.digest);
    pushHitLayer(ctx, hit, fetchLayer);
    image.cacheKey = contentKey ?? hit.chainKey ?? hit.key;
    commitToHistory(image, { createdBy: plan.createdBy, withLayer: true, ran: true, created: hit.created });
    return {
      kind: 'cached',
      shared: { record: hit, ...(fetchLayer ? { fetchLayer } : {}), chainKey: image.cacheKey },
    };
  }
  // What the step runs on first (every layer step's execute prepares it), then the step starts.
  plan.prepare?.();
  await ctx.snapshot();
  how.start();
  const committed = await plan.execute();
  image.layers.push(committed.layer);
  ctx.options.layers.background?.prefetch(committed.layer);
  image.snapshot = committed.snapshot;
  image.cacheKey = contentKey ?? key;
  commitToHistory(image, {
    createdBy: plan.createdBy,
    withLayer: true,
    ran: true,
    created: ctx.options.created,
  });
  const made: CacheRecord = {
    key,
    layer: committed.layer.descriptor,
    diffId: committed.layer.diffId,
    uncompressedSize: committed.uncompressedSize,
    created: ctx.options.created,
    createdBy: plan.createdBy,
  };
  const records = contentKey
    ? [
        { ...made, chainKey: contentKey },
        { ...made, key: contentKey },
      ]
    : [made];
  for (const record of records) {
    await ctx.options.cache?.steps.put(record);
    ctx.records.push(record);
  }
  return { kind: 'executed', shared: { record: made, chainKey: image.cacheKey } };
}

/**
 * The record for `key`: in the local step cache, or else in a cache imported with --cache-from,
 * whose layer is then fetched only when something reads it (a later step that misses, or the
 * export of the final image) — a builder stage whose output is all cached costs no download.
 */
async function findRecord(
  ctx: StepContext,
  key: CacheKey,
): Promise<{ record: CacheRecord; fetchLayer?: (signal?: AbortSignal) => Promise<void> } | undefined> {
  const cache = ctx.options.cache;
  if (!cache) return undefined;
  const local = await cache.steps.get(key);
  if (local) return { record: local };
  for (const remote of cache.remote ?? []) {
    const record = remote.get(key);
    if (!record) continue;
    let fetched: Promise<void> | undefined;
    return {
      record,
      fetchLayer: (signal) => {
        fetched ??= remote.fetch(record, ctx.deps.store, signal).then(() => cache.steps.put(record));
        return fetched;
      },
    };
  }
  return undefined;
}
