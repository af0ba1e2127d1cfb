import type { InstructionContext } from './instruction-context.ts';

/**
 * InvalidDefinitionDescription (experimental in BuildKit): a comment directly above a named FROM
 * or an ARG is taken as the definition's description, so its first word should be the stage or
 * argument name (`# builder compiles the binary`). As BuildKit's validateDefinitionDescription,
 * only the last comment line is looked at; several ARG keys are shown as `<arg_key>`.
 */
export function warnDefinitionDescription(
  c: InstructionContext,
  instruction: 'FROM' | 'ARG',
  keys: readonly string[],
): void {
  const comments = c.source.comments;
  if (comments.length === 0 || keys.length === 0) return;
  const first = comments[comments.length - 1]!.split(' ')[0]!;
  if (keys.includes(first)) return;
  const example = keys.length > 1 ? '<arg_key>' : keys[0]!;
  c.warn(
    'InvalidDefinitionDescription',
    `Comment for ${instruction} should follow the format: \`# ${example} <description>\``,
  );
}
