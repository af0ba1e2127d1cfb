import {
  applyCheckSkip,
  type Dockerfile,
  DockerfileError,
  type DockerfileWarning,
  isLintRule,
  ShellLexer,
} from '../dockerfile/index.ts';
import { formatPlatform, hostPlatform, normalizePlatform, type Platform } from '../oci/index.ts';
import type { Reference } from '../reference/index.ts';
import { proxyEnvFrom } from './build-args.ts';
import type { BuildGraph, Stage, Step, Variable } from './build-graph.ts';
import { warnInvalidDefaultArgInFrom } from './default-arg-bases.ts';
import { type GlobalArgs, resolveGlobalArgs, warnUnusedBuildArgs } from './global-args.ts';
import { PlanContext } from './plan-context.ts';
import { planSteps } from './plan-steps.ts';
import { resolveStageBases, type StageBases, StageInstructions } from './stage-bases.ts';
import { buildStageGraph, type StageGraph } from './stage-graph.ts';
import { resolveStageNames, resolveTarget, type StageNames, stageDisplayName } from './stage-names.ts';
import { initialScope, type StageScope } from './stage-scope.ts';

/** Inputs of {@link planBuild} besides the Dockerfile. */
export interface PlanOptions {
  /** `--build-arg` values. */
  readonly buildArgs?: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
  /** `--target`: the stage to build (by name, case-insensitive); the last stage when omitted. */
  readonly target?: string;
  /** `--platform`: the platform to build for; the host's when omitted. */
  readonly platform?: Platform;
  /** The platform the build runs on; the host's when omitted. */
  readonly buildPlatform?: Platform;
  /**
   * The config `Env` of base images, keyed by normalised reference (`docker.io/library/alpine:3.19`).
   * With it, words that use a base image's variables (`ENV PATH=/app:$PATH`) expand exactly; without
   * it they expand as if unset and the step lists them in `unresolved`.
   */
  readonly baseImageEnv?: ReadonlyMap<string, readonly string[]>;
  /**
   * The config `OnBuild` triggers of base images, keyed like {@link baseImageEnv}: they run first
   * in a stage built FROM that image, as BuildKit runs them.
   */
  readonly baseImageOnBuild?: ReadonlyMap<string, readonly string[]>;
  /**
   * The platform each base image was resolved to, keyed like {@link baseImageEnv}: a base whose OS
   * or architecture differs from its stage's platform is reported (InvalidBaseImagePlatform).
   */
  readonly baseImagePlatforms?: ReadonlyMap<string, Platform>;
  /**
   * Whether a context path is excluded by `.dockerignore`, when the file has patterns and no `!`
   * exceptions (BuildKit checks only then): COPY/ADD of such a path is reported (CopyIgnoredFile).
   */
  readonly isIgnored?: (path: string) => boolean;
  /**
   * Check every stage, as `--call check` does (BuildKit's AllStages); otherwise the checks BuildKit
   * runs while dispatching a stage's instructions report only the stages the target needs.
   */
  readonly checkAllStages?: boolean;
}

/**
 * Plans a build: expands FROM lines with the global ARGs, resolves stage references (`FROM <stage>`,
 * `COPY --from`, `RUN --mount=from=`), prunes to what the target needs, and expands every step's
 * words with the ARG/ENV scope BuildKit gives it. Pure: no I/O.
 *
 * The passes, in BuildKit's order (each in its own file): stage names and the target
 * (stage-names.ts), global ARGs (global-args.ts), stage bases and ONBUILD triggers
 * (stage-bases.ts), the stage graph (stage-graph.ts), then each stage's steps (plan-steps.ts).
 *
 * @throws DockerfileError for unknown targets, bad references, cycles,
 *   forward references and expansion errors, each located in the Dockerfile.
 */
export function planBuild(dockerfile: Dockerfile, options: PlanOptions = {}): BuildGraph {
  const ctx = new PlanContext({
    file: dockerfile.file,
    lexer: new ShellLexer({ escapeToken: dockerfile.escapeToken }),
    buildArgs: toMap(options.buildArgs),
    warnings: [...dockerfile.warnings],
  });
  const targetPlatform = normalizePlatform(options.platform ?? hostPlatform());
  const buildPlatform = normalizePlatform(options.buildPlatform ?? hostPlatform());
  const stages = resolveStageNames(ctx, dockerfile.stages);
  const target = resolveTarget(ctx, stages, options.target);
  const globals = resolveGlobalArgs(ctx, {
    dockerfile,
    buildPlatform,
    targetPlatform,
    targetStage: target.name,
  });
  warnInvalidDefaultArgInFrom(ctx, { dockerfile, buildPlatform, targetPlatform, targetStage: target.name });
  const bases = resolveStageBases(ctx, stages, globals);
  const instructions = new StageInstructions({
    stages,
    bases: bases.bases,
    ...(options.baseImageOnBuild === undefined ? {} : { baseImageOnBuild: options.baseImageOnBuild }),
  });
  const graph = buildStageGraph(ctx, { stages, bases: bases.bases, instructions, target: target.index });
  const planned = planStages(ctx, {
    stages,
    bases,
    graph,
    globals,
    instructions,
    targetPlatform,
    checkAllStages: options.checkAllStages ?? false,
    ...(options.baseImageEnv === undefined ? {} : { baseImageEnv: options.baseImageEnv }),
    ...(options.baseImagePlatforms === undefined ? {} : { baseImagePlatforms: options.baseImagePlatforms }),
    ...(options.isIgnored === undefined ? {} : { isIgnored: options.isIgnored }),
  });
  warnUnusedBuildArgs(ctx, dockerfile, globals);
  const warnings = checkedWarnings(ctx, dockerfile);
  const globalArgs: Variable[] = [...globals.values].map(([name, value]) => ({ name, value }));
  return {
    stages: planned,
    order: [...graph.needed].sort((a, b) => a - b),
    target: target.index,
    platform: targetPlatform,
    buildPlatform,
    globalArgs,
    proxyEnv: proxyEnvFrom(ctx.buildArgs),
    escapeToken: dockerfile.escapeToken,
    warnings,
  };
}

/** Every stage with its steps, in file order (a stage's base is always earlier). */
function planStages(
  ctx: PlanContext,
  options: {
    readonly stages: StageNames;
    readonly bases: StageBases;
    readonly graph: StageGraph;
    readonly globals: GlobalArgs;
    readonly instructions: StageInstructions;
    readonly targetPlatform: Platform;
    readonly checkAllStages: boolean;
    readonly baseImageEnv?: ReadonlyMap<string, readonly string[]>;
    readonly baseImagePlatforms?: ReadonlyMap<string, Platform>;
    readonly isIgnored?: (path: string) => boolean;
  },
): Stage[] {
  const { stages, graph, globals, instructions } = options;
  const scopes: StageScope[] = [];
  return stages.nodes.map((node, index) => {
    const base = options.bases.bases[index]!;
    const explicit = options.bases.explicitPlatforms[index];
    // A stage built on another stage runs on that stage's platform: BuildKit's dispatchState.init
    // replaces even an explicit FROM --platform with the base stage's.
    const platform =
      base.kind === 'stage' ? scopes[base.stage]!.platform : (explicit ?? options.targetPlatform);
    if (base.kind === 'stage' && explicit !== undefined && graph.needed.has(index)) {
      ctx.warn(
        'PlatformIgnored',
        `FROM --platform has no effect on a stage built on stage "${stageDisplayName(stages, base.stage)}", which sets the platform`,
        node.from.range,
      );
    }
    const checked = options.checkAllStages || graph.needed.has(index);
    // BuildKit dispatches only the stages the target needs, so only they get dispatch-time checks.
    const warningsBefore = ctx.warnings.length;
    if (base.kind === 'image' && checked) {
      const actual = options.baseImagePlatforms?.get(base.ref.toString());
      if (
        actual !== undefined &&
        (actual.os !== platform.os || actual.architecture !== platform.architecture)
      ) {
        ctx.warn(
          'InvalidBaseImagePlatform',
          `Base image ${base.text} was pulled with platform ${JSON.stringify(formatPlatform(normalizePlatform(actual)))}, expected ${JSON.stringify(formatPlatform(platform))} for current build`,
          node.from.range,
        );
      }
    }
    const scope = initialScope({
      base,
      platform,
      ...(base.kind === 'stage' ? { parent: scopes[base.stage]! } : {}),
      ...(options.baseImageEnv === undefined ? {} : { baseImageEnv: options.baseImageEnv }),
    });
    let steps: Step[] = [];
    try {
      steps = planSteps(ctx, {
        stages,
        globals,
        scope,
        instructions: instructions.of(index),
        triggers: instructions.triggerCount(index),
        ...(options.isIgnored === undefined ? {} : { isIgnored: options.isIgnored }),
      });
    } catch (error) {
      // A stage the target does not need is never dispatched by BuildKit, so its expansion errors
      // do not fail the build; it is listed as skipped without steps.
      if (graph.needed.has(index) || !(error instanceof DockerfileError)) throw error;
      steps = [];
    }
    if (!checked) ctx.warnings.length = warningsBefore;
    scopes.push(scope);
    return {
      index,
      ...(node.from.name === undefined ? {} : { name: node.from.name }),
      displayName: stageDisplayName(stages, index),
      base,
      platform,
      platformExplicit: explicit !== undefined && base.kind !== 'stage',
      steps,
      dependsOn: [...graph.dependsOn[index]!],
      imageDependencies: graph.edges[index]!.flatMap((e) =>
        e.source.kind === 'image' ? [e.source.ref] : [],
      ),
      needed: graph.needed.has(index),
      from: node.from,
      location: node.from.range,
    };
  });
}

/**
 * The warnings after `# check=`: skipped rules dropped; with `error=true`, a remaining lint
 * warning fails the build.
 */
function checkedWarnings(ctx: PlanContext, dockerfile: Dockerfile): DockerfileWarning[] {
  const kept = applyCheckSkip(ctx.warnings, dockerfile.checks, dockerfile.instructions);
  const violations = [...new Set(kept.filter((w) => isLintRule(w.rule)).map((w) => w.rule))];
  if (dockerfile.checks.error && violations.length > 0) {
    const first = kept.find((w) => isLintRule(w.rule))!;
    throw new DockerfileError(`lint violation found for rules: ${violations.join(', ')}`, {
      file: ctx.file,
      ...(first.range === undefined ? {} : { range: first.range }),
      hint: `first: ${first.message}; fix it, or skip the rule with # check=skip=${first.rule}`,
    });
  }
  return kept;
}

function toMap(args: PlanOptions['buildArgs']): Map<string, string> {
  if (args === undefined) return new Map();
  if (args instanceof Map) return new Map(args as ReadonlyMap<string, string>);
  return new Map(Object.entries(args as Readonly<Record<string, string>>));
}

/** The reference type, re-exported for callers of the plan. */
export type { Reference };
