import type { Command } from 'commander';
import { type Dockerfile, parseDockerfile } from '../dockerfile/index.ts';
import { formatPlatform, hostPlatform, parsePlatform } from '../oci/index.ts';
import { type BuildGraph, invalidDefaultBases, planBuild, type Stage } from '../plan/index.ts';
import { InvalidInputError, StrataError } from '../util/index.ts';
import { collect } from './cli-context.ts';
import { formatTable } from './format.ts';
import { printWarnings, readDockerfile } from './parse.ts';

/**
 * `strata stages <Dockerfile> [--target x] [--build-arg k=v]… [--platform p] [--json]`: the stage
 * graph, which stages a build would run or skip, and each stage's resolved base.
 */
export function registerStagesCommand(program: Command): void {
  program
    .command('stages')
    .description('show the stages of a Dockerfile, which ones a build needs, and their bases')
    .argument('<dockerfile>', 'path to the Dockerfile')
    .option('--target <stage>', 'the stage to build (default: the last one)')
    .option(
      '--build-arg <key=value>',
      'a build argument; KEY alone takes the value from the environment',
      collect,
      [],
    )
    .option('--platform <os/arch[/variant]>', 'the platform to build for (default: this host)')
    .option('--json', 'print the build graph as JSON')
    .action(
      async (
        path: string,
        options: { target?: string; buildArg: string[]; platform?: string; json?: boolean },
      ) => {
        const { text, file } = await readDockerfile(path);
        const dockerfile = parseDockerfile(text, { file });
        const buildArgs = parseBuildArgs(options.buildArg);
        let graph: BuildGraph;
        try {
          graph = planBuild(dockerfile, {
            buildArgs,
            ...(options.target === undefined ? {} : { target: options.target }),
            ...(options.platform === undefined ? {} : { platform: parsePlatform(options.platform) }),
          });
        } catch (error) {
          throw withBuildArgHint(error, dockerfile, buildArgs);
        }
        printWarnings(graph.warnings);
        if (options.json) {
          process.stdout.write(`${JSON.stringify(graph, null, 2)}\n`);
          return;
        }
        process.stdout.write(formatStages(graph));
      },
    );
}

/**
 * A FROM that fails because a global ARG it uses has no value (BuildKit's InvalidDefaultArgInFrom)
 * says which `--build-arg` to pass.
 */
function withBuildArgHint(
  error: unknown,
  dockerfile: Dockerfile,
  buildArgs: ReadonlyMap<string, string>,
): unknown {
  if (!(error instanceof StrataError) || error.location === undefined) return error;
  const base = invalidDefaultBases(dockerfile, {
    targetStage: '',
    buildPlatform: hostPlatform(),
    targetPlatform: hostPlatform(),
  }).find((b) => b.from.range.line === error.location?.line);
  const missing = base?.unset.filter((name) => !buildArgs.has(name)) ?? [];
  if (missing.length === 0) return error;
  return new InvalidInputError(`FROM ${base!.from.image} needs a build argument`, {
    cause: error,
    hint: `pass ${missing.map((n) => `--build-arg ${n}=…`).join(' ')}: the Dockerfile gives ${missing.map((n) => `ARG ${n}`).join(', ')} no default`,
  });
}

/** `KEY=value` pairs; `KEY` alone reads the variable from the environment (skipped when unset). */
export function parseBuildArgs(
  values: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Map<string, string> {
  const out = new Map<string, string>();
  for (const value of values) {
    const eq = value.indexOf('=');
    const key = eq === -1 ? value : value.slice(0, eq);
    if (key === '')
      throw new InvalidInputError(`invalid --build-arg ${JSON.stringify(value)}`, {
        hint: 'write --build-arg KEY=value',
      });
    if (eq !== -1) out.set(key, value.slice(eq + 1));
    else if (env[key] !== undefined) out.set(key, env[key]);
  }
  return out;
}

function describeBase(graph: BuildGraph, stage: Stage): string {
  switch (stage.base.kind) {
    case 'scratch':
      return 'scratch';
    case 'image':
      return stage.base.ref.toString();
    case 'stage':
      return `stage ${graph.stages[stage.base.stage]!.displayName}`;
  }
}

/** A table of stages: index, name, base, platform, steps, built or skipped, what it needs. */
export function formatStages(graph: BuildGraph): string {
  const rows = graph.stages.map((stage) => [
    String(stage.index),
    stage.displayName + (stage.index === graph.target ? ' (target)' : ''),
    describeBase(graph, stage),
    formatPlatform(stage.platform),
    stage.needed ? String(stage.steps.length) : '-',
    stage.needed ? 'build' : 'skip',
    [
      ...stage.dependsOn.map((i) => graph.stages[i]!.displayName),
      ...stage.imageDependencies.map((r) => r.toString()),
    ].join(', ') || '-',
  ]);
  return formatTable(['#', 'STAGE', 'BASE', 'PLATFORM', 'STEPS', 'STATUS', 'NEEDS'], rows);
}
