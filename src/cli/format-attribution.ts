import { type ByteAttribution, type StepBytes, sourceLabel } from '../analyze/attribute-bytes.ts';
import { shortCreatedBy } from '../analyze/layer-history.ts';
import type { BuildGraph } from '../plan/index.ts';
import { stepLabel } from '../progress/index.ts';
import { stagePositions } from '../solver/index.ts';
import { formatBytes } from './format.ts';

/**
 * The end-of-build size summary: the final image's compressed bytes by source (base image,
 * stages copied from, context) and by step. For `strata build` to print after a build. Layers are
 * numbered from 1 as `strata inspect` numbers them; given the build's graph, each step is named as
 * the progress output named it (`[build 2/4] RUN make`, BuildKit's label).
 */
export function formatAttribution(attribution: ByteAttribution, graph?: BuildGraph): string {
  const out: string[] = [`Image size by source (${formatBytes(attribution.compressedBytes)} compressed):`];
  for (const s of attribution.bySource)
    out.push(
      `  ${formatBytes(s.compressedBytes).padStart(8)}  ${s.label} (${s.layers} layer${s.layers === 1 ? '' : 's'})`,
    );
  out.push('By layer:');
  for (const s of attribution.steps) {
    const what = s.step ? stepText(s, graph) : shortCreatedBy(s.createdBy);
    out.push(
      `  #${s.layer + 1} ${formatBytes(s.compressedBytes).padStart(8)}  ${truncate(what, 80)}  [${sourceLabel(s.source)}]`,
    );
  }
  return `${out.join('\n')}\n`;
}

/** `[stage i/n] INSTRUCTION (line N)` as the progress showed the step, or `line N: INSTRUCTION`. */
function stepText(s: StepBytes, graph: BuildGraph | undefined): string {
  const step = s.step!;
  const stage = s.stage === undefined ? undefined : graph?.stages[s.stage.index];
  const position = stage ? stagePositions(stage).steps.get(step.index) : undefined;
  if (!stage || position === undefined) return `line ${step.line}: ${step.instruction}`;
  const label = stepLabel({
    name: step.instruction,
    ...(graph!.stages.length > 1 ? { stage: stage.displayName } : {}),
    index: position,
    total: stagePositions(stage).total,
  });
  return `${label} (line ${step.line})`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
