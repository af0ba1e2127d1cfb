import type { Dockerfile } from '../../dockerfile/index.ts';
import type { BuildGraph, Stage } from '../../plan/index.ts';

/** How a Dockerfile's stages are meant to be built, as far as its text shows. */
export interface StageTargets {
  /**
   * True when the Dockerfile is clearly meant for `--target`: two or more named stages that no
   * other stage needs, the target included (BuildKit's own Dockerfile, buildx's, compose's:
   * `binaries`, `test`, `release`, `shell`, …; `update` and `validate`), or one such stage that
   * exists to be exported (`FROM scratch AS test-coverage` with only COPY).
   */
  readonly multiTarget: boolean;
  /** The names of those stages, then the target's (for the note that says how to build them). */
  readonly targets: readonly string[];
  /**
   * Stages a FROM, `COPY --from` or `RUN --mount=from=` picks by a variable (`FROM build-${OS}`
   * chooses `build-alpine` or `build-debian`): used by some value of a build argument.
   */
  readonly selectedByArg: ReadonlySet<number>;
}

/**
 * Which stages of a Dockerfile are targets of their own. A stage that nothing needs is dead code
 * in a Dockerfile with one target; in one with several (see {@link StageTargets.multiTarget}) each
 * is meant for `--target`. Stages whose name matches a
 * `$VAR` pattern of a FROM or `--from` are alternatives chosen by a build argument.
 */
export function stageTargets(dockerfile: Dockerfile, graph: BuildGraph): StageTargets {
  const needed = new Set(graph.stages.flatMap((s) => s.dependsOn));
  const patterns = variableStageReferences(dockerfile)
    .map(patternOf)
    .filter((p) => p !== undefined);
  const selectedByArg = new Set(
    graph.stages
      .filter((s) => s.name !== undefined && patterns.some((p) => p.test(s.name!)))
      .map((s) => s.index),
  );
  const leaves = graph.stages.filter(
    (s) => s.index !== graph.target && !needed.has(s.index) && !selectedByArg.has(s.index),
  );
  const named = leaves.filter((s) => s.name !== undefined).map((s) => s.name!);
  const target = graph.stages[graph.target]!;
  const multiTarget =
    named.length + (target.name !== undefined ? 1 : 0) >= 2 ||
    leaves.some((s) => s.name !== undefined && isExportStage(s));
  return {
    multiTarget,
    targets: multiTarget ? [...named, target.displayName] : [],
    selectedByArg,
  };
}

/**
 * `FROM scratch AS update` with only COPY steps: a stage that exists to be exported
 * (`--target update --output .`), never to be run.
 */
function isExportStage(stage: Stage): boolean {
  return (
    stage.base.kind === 'scratch' &&
    stage.steps.length > 0 &&
    stage.steps.every((s) => s.kind === 'copy' || s.kind === 'arg' || s.kind === 'label')
  );
}

/** The stage references written with a variable: FROM bases, `COPY --from`, `RUN --mount=from=`. */
function variableStageReferences(dockerfile: Dockerfile): string[] {
  const out: string[] = [];
  for (const stage of dockerfile.stages) {
    out.push(stage.from.image);
    for (const instruction of stage.instructions) {
      if (instruction.kind === 'copy' && instruction.from !== undefined) out.push(instruction.from);
      if (instruction.kind === 'run')
        for (const mount of instruction.mounts) if (mount.from !== undefined) out.push(mount.from);
    }
  }
  return out.filter((text) => text.includes('$'));
}

/**
 * `build-${OS}` → /^build-.*$/i: any value of the variables. A reference that is all variable
 * (`FROM ${BASE_IMAGE}`) names an image far more often than a stage: no pattern.
 */
function patternOf(text: string): RegExp | undefined {
  const parts = text.split(/\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*/);
  if (parts.join('').length < 2) return undefined;
  return new RegExp(`^${parts.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
}
