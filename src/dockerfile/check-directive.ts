import { DockerfileError } from './dockerfile-error.ts';
import type { DockerfileWarning } from './instructions.ts';

/** What `# check=skip=…;error=…` asks for (BuildKit's linter.ParseLintOptions). */
export interface CheckOptions {
  /** Rules whose warnings are dropped, or `all`. */
  readonly skip: readonly string[] | 'all';
  /** Whether remaining rule warnings fail the build. */
  readonly error: boolean;
}

/** No directive: every warning is shown, none fails the build. */
export const DEFAULT_CHECKS: CheckOptions = { skip: [], error: false };

/**
 * Parses the value of a `# check=` directive: up to three `;`-separated options,
 * `skip=<rule,…>|all`, `error=<bool>` and `experimental=<rule,…>|all` (accepted; strata has no
 * experimental rules). Throws {@link DockerfileError} for anything else.
 */
export function parseCheckDirective(value: string): CheckOptions {
  const text = value.trim();
  if (text === '') return DEFAULT_CHECKS;
  let skip: readonly string[] | 'all' = [];
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
    } else if (key !== 'experimental') {
      throw new DockerfileError(`invalid check option ${JSON.stringify(key)}`, {
        hint: 'the options are skip, error and experimental',
      });
    }
  }
  return { skip, error };
}

/** The warnings a `# check=skip=` leaves; warnings that are not lint rules are always kept. */
export function applyCheckSkip(
  warnings: readonly DockerfileWarning[],
  checks: CheckOptions,
): DockerfileWarning[] {
  if (checks.skip === 'all') return warnings.filter((w) => !isLintRule(w.rule));
  const skip = checks.skip;
  return warnings.filter((w) => !skip.includes(w.rule));
}

/** Whether a warning comes from one of BuildKit's lint rules (so `# check=` governs it). */
export function isLintRule(rule: string): boolean {
  return rule !== 'UnusedBuildArg';
}
