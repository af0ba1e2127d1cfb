import { cpus } from 'node:os';
import type { Stage, Step } from '../plan/index.ts';
import { formatErrorChain, Limiter, type SourceLocation } from '../util/index.ts';
import { BuildStepError } from './errors.ts';
import {
  cloneStageImage,
  DEFAULT_PATH,
  getEnv,
  imageStageFrom,
  type StageImage,
  scratchImage,
} from './image-state.ts';
import type { SolveOptions, SolverDeps, StepContext } from './step-context.ts';
import { applyConfigStep } from './steps/config.ts';
import { copyStep } from './steps/copy.ts';
import { runStep } from './steps/run.ts';
import { workdirStep } from './steps/workdir.ts';

/** What a solved build produced. */
export interface SolveResult {
  /** The target stage's image. */
  readonly target: StageImage;
  /** Every stage that was built, by index. */
  readonly stages: ReadonlyMap<number, StageImage>;
}

/** The step's display text: the instruction as written, upper-cased keyword (BuildKit's vertex name). */
export function stepName(step: Step): string {
  const original = step.instruction.original;
  const space = original.search(/\s/);
  return space < 0 ? original.toUpperCase() : original.slice(0, space).toUpperCase() + original.slice(space);
}

/**
 * Runs a planned build: every needed stage, each as soon as the stages it depends on are done
 * (independent stages run side by side, bounded by the cores), each step in order. Emits progress
 * events; returns the target stage's image (not yet exported).
 */
export async function solveGraph(options: SolveOptions, deps: SolverDeps): Promise<SolveResult> {
  const { graph } = options;
  const results = new Map<number, Promise<StageImage>>();
  const limiter = new Limiter(Math.max(1, cpus().length));
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;

  const stageResult = (index: number): Promise<StageImage> => {
    const existing = results.get(index);
    if (existing) return existing;
    const stage = graph.stages[index];
    if (!stage) throw new Error(`no stage ${index}`);
    const promise = (async () => {
      // Wait for the stages this one needs before taking a slot, so waiting never holds one.
      await Promise.all(stage.dependsOn.map((d) => stageResult(d)));
      return limiter.run(() => buildStage(stage, options, deps, stageResult, signal));
    })();
    // One failed stage stops the others (their steps see the abort and clean up).
    promise.catch(() => controller.abort());
    results.set(index, promise);
    return promise;
  };

  for (const index of graph.order) void stageResult(index).catch(() => undefined);
  const target = await stageResult(graph.target);
  const stages = new Map<number, StageImage>();
  for (const [index, p] of results) stages.set(index, await p);
  if (options.labels && Object.keys(options.labels).length > 0) {
    target.config.Labels = { ...(target.config.Labels ?? {}), ...options.labels };
  }
  return { target, stages };
}

async function buildStage(
  stage: Stage,
  options: SolveOptions,
  deps: SolverDeps,
  stageResult: (index: number) => Promise<StageImage>,
  signal: AbortSignal,
): Promise<StageImage> {
  const file = options.dockerfile.file;
  const total = stage.steps.length + 1;
  const fromId = `${stage.index}/from`;
  const fromName = `FROM ${stage.base.kind === 'image' ? stage.base.ref.toString() : stage.base.kind === 'stage' ? (options.graph.stages[stage.base.stage]?.displayName ?? '') : 'scratch'}`;
  deps.events.emit({
    type: 'step-started',
    step: fromId,
    name: fromName,
    stage: stage.displayName,
    index: 1,
    total,
    at: Date.now(),
  });
  let image: StageImage;
  try {
    if (stage.base.kind === 'scratch') {
      image = scratchImage(stage.platform, await deps.snapshotter.unpack([], signal));
    } else if (stage.base.kind === 'stage') {
      image = cloneStageImage(await stageResult(stage.base.stage));
    } else {
      const base = await deps.resolveImage(stage.base.ref, stage.platform, signal);
      image = imageStageFrom(base, await deps.snapshotter.unpack(base.layers, signal));
    }
  } catch (error) {
    deps.events.emit({ type: 'step-failed', step: fromId, error: formatErrorChain(error), at: Date.now() });
    throw new BuildStepError({
      stage: stage.displayName,
      step: `1/${total} ${fromName}`,
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
  deps.events.emit({ type: 'step-finished', step: fromId, at: Date.now() });

  for (const step of stage.steps) {
    signal.throwIfAborted();
    const stepId = `${stage.index}/${step.index}`;
    const name = stepName(step);
    const location: SourceLocation = { file, line: step.location.line };
    deps.events.emit({
      type: 'step-started',
      step: stepId,
      name,
      stage: stage.displayName,
      index: step.index + 2,
      total,
      at: Date.now(),
    });
    const ctx: StepContext = { deps, options, stage, step, stepId, location, image, stageResult, signal };
    try {
      await dispatchStep(ctx);
    } catch (error) {
      deps.events.emit({ type: 'step-failed', step: stepId, error: formatErrorChain(error), at: Date.now() });
      throw new BuildStepError({
        stage: stage.displayName,
        step: `${step.index + 2}/${total} ${name}`,
        cause: error,
        location,
      });
    }
    deps.events.emit({ type: 'step-finished', step: stepId, at: Date.now() });
  }
  return image;
}

async function dispatchStep(ctx: StepContext): Promise<void> {
  const step = ctx.step;
  switch (step.kind) {
    case 'run':
      return runStep(ctx, step);
    case 'copy':
    case 'add':
      return copyStep(ctx, step);
    case 'workdir':
      return workdirStep(ctx, step);
    default:
      applyConfigStep(ctx.image, step, ctx.options.created);
  }
}
