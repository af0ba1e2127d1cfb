import { type CacheKey, cacheKey } from '../../src/cache/index.ts';
import { ContextView } from '../../src/context/index.ts';
import { parseDockerfile } from '../../src/dockerfile/index.ts';
import { type Digest, type Image, parsePlatform } from '../../src/oci/index.ts';
import { type BuildGraph, planBuild, type Stage } from '../../src/plan/index.ts';
import type { Snapshot } from '../../src/snapshot/index.ts';
import { commitToHistory, type StageImage, scratchImage, stepDefinition } from '../../src/solver/index.ts';
import type { LayerStepPlan, StepContext } from '../../src/solver/step-context.ts';
import { applyConfigStep } from '../../src/solver/steps/config.ts';
import { planCopy } from '../../src/solver/steps/copy.ts';
import { planRun } from '../../src/solver/steps/run.ts';
import { planWorkdir } from '../../src/solver/steps/workdir.ts';

const AMD64 = parsePlatform('linux/amd64');
const EMPTY = { kind: 'native', chainId: '', diffIds: [], dirs: [] } as unknown as Snapshot;

/** One step of a stage as the solver plans it, without running anything. */
export interface PlannedSolverStep {
  /** The Dockerfile line (first line) the step came from. */
  readonly line: string;
  /** The history entry's created_by, as the solver writes it. */
  readonly createdBy: string | undefined;
  /** For a layer step: what goes into its cache key, and the key (chained from the previous one). */
  readonly key?: { readonly definition: unknown; readonly inputs: unknown; readonly key: CacheKey };
}

/** Options of {@link planSolverSteps}. */
export interface PlanSolverStepsOptions {
  /** The build context directory (COPY/ADD sources, RUN bind mounts). */
  readonly contextDir: string;
  /** The parent key of the stage's first step (`FROM scratch`'s by default). */
  readonly baseKey?: CacheKey;
  /** The cache key another stage is given when a step reads it. */
  readonly stageKey?: (index: number) => CacheKey;
  /** The digest an image reference resolves to. */
  readonly imageDigest?: (ref: string) => Digest;
}

/**
 * Plans the target stage of `dockerfile` (linux/amd64) step by step exactly as the solver's
 * dispatchStep does — config steps applied to a scratch image, layer steps planned by their
 * handlers (planRun, planCopy, planWorkdir) — and returns each step's history text and cache key
 * inputs. Nothing executes: no runtime, snapshotter or store is needed.
 */
export async function planSolverSteps(
  dockerfile: string,
  options: PlanSolverStepsOptions,
): Promise<PlannedSolverStep[]> {
  const graph = planBuild(parseDockerfile(dockerfile), { platform: AMD64, buildPlatform: AMD64 });
  const stage = graph.stages[graph.target]!;
  const image = scratchImage(AMD64, EMPTY);
  image.cacheKey = options.baseKey ?? cacheKey(undefined, { from: 'scratch', platform: stage.platform });
  const view = new ContextView(options.contextDir);
  const out: PlannedSolverStep[] = [];
  for (const step of stage.steps) {
    const ctx = fakeContext({ graph, stage, step, image, view, options });
    const before = image.history.length;
    let plan: LayerStepPlan | undefined;
    if (step.kind === 'run') plan = await planRun(ctx, step);
    else if (step.kind === 'copy' || step.kind === 'add') plan = await planCopy(ctx, step);
    else if (step.kind === 'workdir') {
      plan = planWorkdir(ctx, step);
      if (!plan) commitToHistory(image, { createdBy: 'WORKDIR /', withLayer: false });
    } else applyConfigStep(image, step);
    const line = step.instruction.original.split('\n')[0]!;
    if (plan === undefined) {
      out.push({
        line,
        createdBy: image.history.length > before ? image.history.at(-1)!.created_by : undefined,
      });
      continue;
    }
    await plan.dispose?.();
    const definition = stepDefinition(step);
    const key = cacheKey(image.cacheKey, { step: definition, inputs: plan.inputs });
    image.cacheKey = key;
    commitToHistory(image, { createdBy: plan.createdBy, withLayer: true, ran: true });
    out.push({
      line,
      createdBy: image.history.at(-1)!.created_by,
      key: { definition, inputs: plan.inputs, key },
    });
  }
  return out;
}

function fakeContext(parts: {
  graph: BuildGraph;
  stage: Stage;
  step: Stage['steps'][number];
  image: StageImage;
  view: ContextView;
  options: PlanSolverStepsOptions;
}): StepContext {
  const { graph, stage, step, image, view, options } = parts;
  const unused = (what: string) => () => {
    throw new Error(`planning a step must not ${what}`);
  };
  return {
    deps: {
      resolveImage: async (ref: { toString(): string }) =>
        ({ digest: options.imageDigest?.(ref.toString()) ?? `sha256:${'0'.repeat(64)}` }) as unknown as Image,
      snapshotter: new Proxy({}, { get: unused('use the snapshotter') }),
      store: new Proxy({}, { get: unused('use the store') }),
      executor: unused('start a runtime'),
      events: { emit: () => {} },
      stateDir: '/nonexistent',
    },
    options: {
      graph,
      dockerfile: parseDockerfile('FROM scratch'),
      context: { dir: options.contextDir, view },
      layers: {},
      created: '2024-01-01T00:00:00Z',
    },
    stage,
    step,
    stepId: `${stage.index}:${step.index}`,
    location: { file: 'Dockerfile', line: step.location.line },
    image,
    stageResult: async (index: number) =>
      ({ cacheKey: options.stageKey?.(index) ?? cacheKey(undefined, { stage: index }) }) as StageImage,
    records: [],
    snapshot: unused('read the snapshot'),
    stageSnapshot: unused('read a stage snapshot'),
  } as unknown as StepContext;
}
