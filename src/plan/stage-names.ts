import { DockerfileError, didYouMean, type Instruction, type StageNode } from '../dockerfile/index.ts';
import { parseReference } from '../reference/index.ts';
import { StrataError } from '../util/index.ts';
import type { FileSource } from './build-graph.ts';
import type { PlanContext } from './plan-context.ts';

/** The stages of a Dockerfile by name (lowercase), as `FROM … AS <name>` gives them. */
export interface StageNames {
  readonly nodes: readonly StageNode[];
  /** Stage name → stage index; of stages sharing a name, the last (BuildKit's statesByName). */
  readonly byName: ReadonlyMap<string, number>;
  /** The names, in file order (for hints). */
  readonly names: readonly string[];
}

/**
 * Names the stages (case-insensitive, as the parser lowercases them), with BuildKit's
 * validateStageNames warnings: ReservedStageName for `scratch` and `context`, DuplicateStageName
 * for a name used before. BuildKit does not fail on a duplicate: a later stage's name replaces the
 * earlier one for `--target`, `--from` and `FROM` lines after it.
 */
export function resolveStageNames(ctx: PlanContext, nodes: readonly StageNode[]): StageNames {
  const byName = new Map<string, number>();
  nodes.forEach((node, index) => {
    const name = node.from.name;
    if (name === undefined) return;
    if (name === 'scratch' || name === 'context') {
      ctx.warn(
        'ReservedStageName',
        `Stage name should not use the same name as reserved stage "${name}"`,
        node.from.range,
      );
    }
    if (byName.has(name)) {
      ctx.warn(
        'DuplicateStageName',
        `Duplicate stage name ${JSON.stringify(name)}, stage names should be unique`,
        node.from.range,
      );
      byName.delete(name); // re-added below, so `names` keeps file order of the last definitions
    }
    byName.set(name, index);
  });
  return { nodes, byName, names: [...byName.keys()] };
}

/**
 * The last stage before `index` named `name`: what `FROM <name>` at stage `index` builds on
 * (BuildKit looks the name up as each stage is added, so only earlier stages count).
 */
export function stageBefore(stages: StageNames, name: string, index: number): number | undefined {
  for (let i = index - 1; i >= 0; i--) if (stages.nodes[i]!.from.name === name) return i;
  return undefined;
}

/**
 * The stage to build: `--target` by name (case-insensitive), else the last stage; and the value of
 * TARGETSTAGE (the target as given, or the last stage's name).
 *
 * @throws DockerfileError when no stage has the target's name.
 */
export function resolveTarget(
  ctx: PlanContext,
  stages: StageNames,
  target: string | undefined,
): { index: number; name: string } {
  const last = stages.nodes.length - 1;
  if (target === undefined) return { index: last, name: stages.nodes[last]!.from.name ?? '' };
  const found = stages.byName.get(target.toLowerCase());
  if (found === undefined) {
    throw new DockerfileError(`target stage ${JSON.stringify(target)} could not be found`, {
      file: ctx.file,
      hint:
        didYouMean(target, stages.names, { caseSensitive: false }) ??
        (stages.names.length > 0
          ? `stages: ${stages.names.join(', ')}`
          : 'no stage has a name (FROM … AS <name>)'),
    });
  }
  return { index: found, name: target };
}

/** A stage's name for messages: its own, or `stage-<index>`. */
export function stageDisplayName(stages: StageNames, index: number): string {
  return stages.nodes[index]!.from.name ?? `stage-${index}`;
}

/**
 * What `COPY --from=<name>` or `RUN --mount=from=<name>` reads: a stage by index or name, `scratch`,
 * or an image reference.
 *
 * @throws DockerfileError for an index out of range or a name that is neither a stage nor a reference.
 */
export function resolveStageSource(
  ctx: PlanContext,
  stages: StageNames,
  name: string,
  instruction: Instruction,
): FileSource {
  const count = stages.nodes.length;
  if (/^[+-]?\d+$/.test(name)) {
    const index = Number(name);
    if (index < 0 || index >= count) {
      throw ctx.fail(`invalid stage index ${index}`, instruction.range, {
        instruction: instruction.keyword,
        hint: `this Dockerfile has ${count} stage${count === 1 ? '' : 's'}, numbered from 0`,
      });
    }
    return { kind: 'stage', stage: index };
  }
  const stage = stages.byName.get(name.toLowerCase());
  if (stage !== undefined) return { kind: 'stage', stage };
  if (name === 'scratch') return { kind: 'scratch' };
  try {
    return { kind: 'image', ref: parseReference(name) };
  } catch (error) {
    if (!(error instanceof StrataError)) throw error;
    throw ctx.fail(
      `${JSON.stringify(name)} is neither a build stage nor a valid image reference`,
      instruction.range,
      {
        instruction: instruction.keyword,
        cause: error,
        hint:
          didYouMean(name, stages.names, { caseSensitive: false }) ??
          (stages.names.length > 0 ? `stages: ${stages.names.join(', ')}` : undefined),
      },
    );
  }
}
