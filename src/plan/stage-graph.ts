import type { Instruction } from '../dockerfile/index.ts';
import type { FileSource, StageBase } from './build-graph.ts';
import type { PlanContext } from './plan-context.ts';
import type { StageInstructions } from './stage-bases.ts';
import { resolveStageSource, type StageNames, stageDisplayName } from './stage-names.ts';

/** A reference from one stage to another (or to an image), with the instruction that made it. */
export interface Edge {
  readonly source: FileSource;
  readonly instruction: Instruction;
}

/** How the stages depend on each other, and which of them the target needs. */
export interface StageGraph {
  /** Per stage: its `COPY --from` and `RUN --mount=from=` references, in instruction order. */
  readonly edges: readonly (readonly Edge[])[];
  /** Per stage: the stages it reads (its base stage and its edges), ascending. */
  readonly dependsOn: readonly (readonly number[])[];
  /** The stages the target needs, itself included. */
  readonly needed: ReadonlySet<number>;
}

/**
 * The stage graph: edges from every stage's instructions (ONBUILD triggers included), checked for
 * self-references and cycles (BuildKit: "circular dependency detected on stage"), pruned to what
 * `target` needs, and checked that no needed stage reads a later one.
 *
 * @throws DockerfileError at the instruction that makes a bad reference, a cycle or a forward reference.
 */
export function buildStageGraph(
  ctx: PlanContext,
  options: {
    readonly stages: StageNames;
    readonly bases: readonly StageBase[];
    readonly instructions: StageInstructions;
    readonly target: number;
  },
): StageGraph {
  const { stages, bases, instructions, target } = options;
  const edges = stages.nodes.map((_, index) => stageEdges(ctx, stages, instructions.of(index)));
  const dependsOn = edges.map((list, index) => {
    const out = new Set<number>();
    const base = bases[index]!;
    if (base.kind === 'stage') out.add(base.stage);
    for (const edge of list) if (edge.source.kind === 'stage') out.add(edge.source.stage);
    return [...out].sort((a, b) => a - b);
  });
  const graph = { edges, dependsOn, needed: new Set<number>() };
  checkSelfReferences(ctx, stages, edges);
  checkCycles(ctx, stages, graph);
  markNeeded(graph, target);
  checkForwardReferences(ctx, stages, graph);
  return graph;
}

function stageEdges(ctx: PlanContext, stages: StageNames, instructions: readonly Instruction[]): Edge[] {
  const out: Edge[] = [];
  for (const instruction of instructions) {
    if (instruction.kind === 'copy' && instruction.from !== undefined) {
      out.push({ source: resolveStageSource(ctx, stages, instruction.from, instruction), instruction });
    } else if (instruction.kind === 'run') {
      for (const mount of instruction.mounts) {
        if (mount.from !== undefined && mount.from !== '') {
          out.push({ source: resolveStageSource(ctx, stages, mount.from, instruction), instruction });
        }
      }
    }
  }
  return out;
}

function checkSelfReferences(
  ctx: PlanContext,
  stages: StageNames,
  edges: readonly (readonly Edge[])[],
): void {
  edges.forEach((list, index) => {
    for (const edge of list) {
      if (edge.source.kind === 'stage' && edge.source.stage === index) {
        const name = stageDisplayName(stages, index);
        throw ctx.fail(`circular dependency detected on stage: ${name}`, edge.instruction.range, {
          instruction: edge.instruction.keyword,
          hint: `stage "${name}" refers to itself; copy from an earlier stage instead`,
        });
      }
    }
  });
}

/** Depth-first over every stage, in file order; the first cycle found is reported. */
function checkCycles(ctx: PlanContext, stages: StageNames, graph: StageGraph): void {
  const visiting = new Set<number>();
  const done = new Set<number>();
  const visit = (index: number, path: number[]): void => {
    if (done.has(index)) return;
    if (visiting.has(index)) throw cycleError(ctx, stages, graph, [...path, index]);
    visiting.add(index);
    for (const dep of graph.dependsOn[index]!) visit(dep, [...path, index]);
    visiting.delete(index);
    done.add(index);
  };
  for (let i = 0; i < stages.nodes.length; i++) visit(i, []);
}

/** The error for a cycle: `path` ends with the stage it reached again. */
function cycleError(ctx: PlanContext, stages: StageNames, graph: StageGraph, path: number[]) {
  const index = path[path.length - 1]!;
  const from = path[path.length - 2]!;
  const name = (i: number) => stageDisplayName(stages, i);
  const cycle = path.slice(path.indexOf(index)).map(name).join(' -> ');
  const edge = graph.edges[from]!.find((e) => e.source.kind === 'stage' && e.source.stage === index);
  return ctx.fail(
    `circular dependency detected on stage: ${name(index)}`,
    edge?.instruction.range ?? stages.nodes[index]!.from.range,
    { instruction: edge?.instruction.keyword ?? 'FROM', hint: `the stages form a cycle: ${cycle}` },
  );
}

function markNeeded(
  graph: { dependsOn: readonly (readonly number[])[]; needed: Set<number> },
  index: number,
): void {
  if (graph.needed.has(index)) return;
  graph.needed.add(index);
  for (const dep of graph.dependsOn[index]!) markNeeded(graph, dep);
}

function checkForwardReferences(ctx: PlanContext, stages: StageNames, graph: StageGraph): void {
  for (const index of graph.needed) {
    for (const edge of graph.edges[index]!) {
      if (edge.source.kind === 'stage' && edge.source.stage > index) {
        const what = edge.instruction.kind === 'run' ? 'mount from' : 'copy from';
        throw ctx.fail(
          `cannot ${what} stage ${JSON.stringify(stageDisplayName(stages, edge.source.stage))}, it needs to be defined before current stage ${JSON.stringify(stageDisplayName(stages, index))}`,
          edge.instruction.range,
          { instruction: edge.instruction.keyword, hint: 'move the stage it refers to above this one' },
        );
      }
    }
  }
}
