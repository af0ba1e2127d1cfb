import { DockerfileError } from './dockerfile-error.ts';
import type { DockerfileWarning, Instruction } from './instructions.ts';
import { lintRule } from './lint-rules.ts';

/** What `# check=skip=…;error=…;experimental=…` asks for (BuildKit's linter.ParseLintOptions). */
export interface CheckOptions {
  /** Rules whose warnings are dropped, or `all`. */
  readonly skip: readonly string[] | 'all';
  /** Whether remaining rule warnings fail the build. */
  readonly error: boolean;
  /** Experimental rules to run, or `all` (they are off otherwise). */
  readonly experimental: readonly string[] | 'all';
}

/** No directive: every warning is shown, none fails the build, no experimental rule runs. */
export const DEFAULT_CHECKS: CheckOptions = { skip: [], error: false, experimental: [] };

/**
 * Parses the value of a `# check=` directive: up to three `;`-separated options,
 * `skip=<rule,…>|all`, `error=<bool>` and `experimental=<rule,…>|all`. Throws
 * {@link DockerfileError} for anything else.
 */
export function parseCheckDirective(value: string): CheckOptions {
  const text = value.trim();
  if (text === '') return DEFAULT_CHECKS;
  let skip: readonly string[] | 'all' = [];
  let experimental: readonly string[] | 'all' = [];
  let error = false;
  const parts = text.split(';');
  // BuildKit splits into at most three parts; a fourth stays glued to the third.
  const limited = parts.length > 3 ? [...parts.slice(0, 2), parts.slice(2).join(';')] : parts;
  for (const part of limited) {
    const eq = part.indexOf('=');
    if (eq === -1)
      throw new DockerfileError(`invalid check option ${JSON.stringify(part)}`, {
        hint: 'write # check=skip=<rule,…>;error=true',
      });
    const key = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (key === 'skip') skip = v === 'all' ? 'all' : v.split(',').map((r) => r.trim());
    else if (key === 'error') {
      if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) error = true;
      else if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) error = false;
      else throw new DockerfileError(`failed to parse check option ${JSON.stringify(part)}: invalid syntax`);
    } else if (key === 'experimental') {
      experimental = v === 'all' ? 'all' : v.split(',').map((r) => r.trim());
    } else {
      throw new DockerfileError(`invalid check option ${JSON.stringify(key)}`, {
        hint: 'the options are skip, error and experimental',
      });
    }
  }
  return { skip, error, experimental };
}

/**
 * The warnings `# check=` leaves: a rule skipped by the file's directive or by a `# check=` comment
 * directly above the warning's instruction is dropped (BuildKit's WithMergedConfigFromComments,
 * which adds that comment's skip and experimental lists to the file's); an experimental rule is
 * kept only where enabled. Warnings that are not lint rules are always kept.
 */
export function applyCheckSkip(
  warnings: readonly DockerfileWarning[],
  checks: CheckOptions,
  instructions: readonly Instruction[] = [],
): DockerfileWarning[] {
  const local = commentChecks(instructions);
  return warnings.filter((w) => {
    const rule = lintRule(w.rule);
    if (rule === undefined) return true;
    const here = w.range === undefined ? undefined : local.get(w.range.line);
    if (rule.experimental)
      return names(checks.experimental, rule.name) || names(here?.experimental, rule.name);
    return !(names(checks.skip, rule.name) || names(here?.skip, rule.name));
  });
}

/** Whether a rule list (`all` or names) includes `rule`. */
function names(list: readonly string[] | 'all' | undefined, rule: string): boolean {
  return list === 'all' || (list?.includes(rule) ?? false);
}

/** The `# check=` comments directly above instructions, by the instruction's first line. */
function commentChecks(instructions: readonly Instruction[]): Map<number, CheckOptions> {
  const out = new Map<number, CheckOptions>();
  for (const instruction of instructions) {
    for (const comment of instruction.comments) {
      // BuildKit parses each comment as a directive line; the first `check` one counts, its value
      // up to the first space, and one that does not parse changes nothing.
      const m = /^\s*check\s*=\s*(.*?)\s*$/i.exec(comment.replace(/^#/, ''));
      if (m === null) continue;
      try {
        out.set(instruction.range.line, parseCheckDirective(m[1]!.split(' ')[0]!));
      } catch (error) {
        if (!(error instanceof DockerfileError)) throw error;
      }
      break;
    }
  }
  return out;
}

/** Whether a warning comes from one of BuildKit's lint rules (so `# check=` governs it). */
export function isLintRule(rule: string): boolean {
  return lintRule(rule) !== undefined;
}
