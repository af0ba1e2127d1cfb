import { type ByteAttribution, sourceLabel } from '../analyze/attribute-bytes.ts';
import { shortCreatedBy } from '../analyze/layer-history.ts';
import { formatBytes } from './format.ts';

/**
 * The end-of-build size summary: the final image's compressed bytes by source (base image,
 * stages copied from, context) and by step. For `strata build` to print after a build.
 */
export function formatAttribution(attribution: ByteAttribution): string {
  const out: string[] = [`Image size by source (${formatBytes(attribution.compressedBytes)} compressed):`];
  for (const s of attribution.bySource)
    out.push(
      `  ${formatBytes(s.compressedBytes).padStart(8)}  ${s.label} (${s.layers} layer${s.layers === 1 ? '' : 's'})`,
    );
  out.push('By step:');
  for (const s of attribution.steps) {
    const what = s.step ? `line ${s.step.line}: ${s.step.instruction}` : shortCreatedBy(s.createdBy);
    out.push(
      `  #${s.layer} ${formatBytes(s.compressedBytes).padStart(8)}  ${truncate(what, 80)}  [${sourceLabel(s.source)}]`,
    );
  }
  return `${out.join('\n')}\n`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
