import { isLintRule } from '../dockerfile/index.ts';
import type { BuildGraph } from '../plan/index.ts';
import { type BuildOptions, planFirst } from './build.ts';

/** One build check a Dockerfile violates, as `docker buildx build --call check` lists it. */
export interface BuildCheckWarning {
  /** BuildKit's rule name: `StageNameCasing`, `FromAsCasing`, … */
  readonly rule: string;
  readonly message: string;
  /** The rule's page: `https://docs.docker.com/go/dockerfile/rule/<rule-in-kebab-case>/`. */
  readonly url: string;
  readonly file: string;
  readonly line?: number;
}

/**
 * `--call check`: reads and plans the Dockerfile as a build would (build args, target, platform,
 * `# check=` directives; `error=true` fails with the violations) and returns the build-check
 * violations, without running anything.
 */
export async function checkBuild(
  options: Pick<BuildOptions, 'context' | 'dockerfile' | 'buildArgs' | 'target' | 'platform'>,
): Promise<BuildCheckWarning[]> {
  const { graph } = await planFirst(options);
  return checkWarnings(graph);
}

function checkWarnings(graph: BuildGraph): BuildCheckWarning[] {
  return graph.warnings
    .filter((w) => isLintRule(w.rule))
    .map((w) => ({
      rule: w.rule,
      message: w.message,
      url: `https://docs.docker.com/go/dockerfile/rule/${w.rule.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase()}/`,
      file: w.file,
      ...(w.range === undefined ? {} : { line: w.range.line }),
    }));
}
