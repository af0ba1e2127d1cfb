import { DockerfileError, didYouMean, type Instruction, type StageNode } from '../dockerfile/index.ts';
import { parseReference } from '../reference/index.ts';
import { StrataError } from '../util/index.ts';
import type { FileSource } from './build-graph.ts';
import type { PlanContext } from './plan-context.ts';

/** The stages of a Dockerfile by name (lowercase, unique), as `FROM … AS <name>` gives them. */
export interface StageNames {
  readonly nodes: readonly StageNode[];
  /** Stage name → stage index. */
  readonly byName: ReadonlyMap<string, number>;
  /** The names, in file order (for hints). */
  readonly names: readonly string[];
}

/**
 * Names the stages: each name once (case-insensitive, as the parser lowercases them), with a
 * warning for the reserved names `scratch` and `context`.
 *
 * @throws DockerfileError for a duplicate name, at the second FROM.
 */
export function resolveStageNames(ctx: PlanContext, nodes: readonly StageNode[]): StageNames {
  const byName = new Map<string, number>();
  nodes.forEach((node, index) => {
    const name = node.from.name;
    if (name === undefined) return;
    const earlier = byName.get(name);
    if (earlier !== undefined) {
      throw ctx.fail(`duplicate stage name ${JSON.stringify(name)}`, node.from.range, {
        instruction: 'FROM',
        hint: `stage ${index} reuses the name of stage ${earlier} (line ${nodes[earlier]!.from.range.line}); stage names must be unique`,
      });
    }
    if (name === 'scratch' || name === 'context') {
      ctx.warn(
        'ReservedStageName',
        `Stage name should not use the same name as reserved stage "${name}"`,
        node.from.range,
      );
    }
    byName.set(name, index);
  });
  return { nodes, byName, names: [...byName.keys()] };
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
