import {
  type Dockerfile,
  didYouMean,
  type ExpansionEnv,
  type FromInstruction,
  type Instruction,
} from '../dockerfile/index.ts';
import type { Platform } from '../oci/index.ts';
import { isPredefinedArg, predefinedArgs } from './build-args.ts';
import type { PlanContext } from './plan-context.ts';

/** The global scope: what FROM lines expand with, and what a stage's `ARG <name>` can take. */
export interface GlobalArgs {
  /** Predefined ARGs, then the ARGs before the first FROM, with their values. */
  readonly values: ReadonlyMap<string, string>;
  /** The names the ARGs before the first FROM declare. */
  readonly declared: ReadonlySet<string>;
  /** {@link values} for the lexer. */
  readonly env: ExpansionEnv;
}

/**
 * BuildKit's buildMetaArgs: the predefined ARGs (platforms, TARGETSTAGE, proxies given as build
 * args), then each ARG before the first FROM — a `--build-arg` wins over its default, which is
 * expanded with the ARGs before it.
 */
export function resolveGlobalArgs(
  ctx: PlanContext,
  options: {
    readonly dockerfile: Dockerfile;
    readonly buildPlatform: Platform;
    readonly targetPlatform: Platform;
    readonly targetStage: string;
  },
): GlobalArgs {
  const values = new Map<string, string>();
  for (const v of predefinedArgs({
    buildPlatform: options.buildPlatform,
    targetPlatform: options.targetPlatform,
    targetStage: options.targetStage,
    overrides: ctx.buildArgs,
  }))
    values.set(v.name, v.value);
  const declared = new Set<string>();
  const env = mapEnv(values);
  for (const arg of options.dockerfile.globalArgs) {
    for (const decl of arg.args) {
      declared.add(decl.key);
      const override = ctx.buildArgs.get(decl.key);
      if (override !== undefined) values.set(decl.key, override);
      else if (decl.defaultValue !== undefined) {
        values.set(
          decl.key,
          ctx.placed(arg, () => ctx.lexer.processWord(decl.defaultValue!, env)),
        );
      }
    }
  }
  return { values, declared, env };
}

/** Warns (UndefinedArgInFrom) about each variable a FROM line uses that no global ARG declares. */
export function warnUndeclaredInFrom(
  ctx: PlanContext,
  globals: GlobalArgs,
  unmatched: ReadonlySet<string>,
  from: FromInstruction,
): void {
  for (const name of unmatched) {
    if (globals.declared.has(name)) continue;
    const suggestion = didYouMean(name, globals.values.keys(), { caseSensitive: true });
    ctx.warn(
      'UndefinedArgInFrom',
      `FROM argument '${name}' is not declared${suggestion === undefined ? '' : ` (${suggestion})`}`,
      from.range,
    );
  }
}

/** Warns (UnusedBuildArg) about each `--build-arg` no ARG declares (predefined ones excepted). */
export function warnUnusedBuildArgs(ctx: PlanContext, dockerfile: Dockerfile, globals: GlobalArgs): void {
  const allDeclared = new Set<string>(globals.declared);
  for (const instruction of dockerfile.instructions) {
    const arg = declaredArg(instruction);
    if (arg !== undefined) for (const d of arg.args) allDeclared.add(d.key);
  }
  for (const name of ctx.buildArgs.keys()) {
    if (allDeclared.has(name) || isPredefinedArg(name)) continue;
    const suggestion = didYouMean(name, allDeclared, { caseSensitive: true });
    ctx.warn(
      'UnusedBuildArg',
      `build-arg ${JSON.stringify(name)} was not consumed: no ARG instruction declares it${suggestion === undefined ? '' : ` (${suggestion})`}`,
    );
  }
}

/** The ARG an instruction declares, directly or as an ONBUILD trigger. */
function declaredArg(instruction: Instruction) {
  if (instruction.kind === 'arg') return instruction;
  if (instruction.kind === 'onbuild' && instruction.trigger.kind === 'arg') return instruction.trigger;
  return undefined;
}

/** A map's values as an {@link ExpansionEnv}. */
export function mapEnv(map: ReadonlyMap<string, string>): ExpansionEnv {
  return { get: (name) => map.get(name) };
}
