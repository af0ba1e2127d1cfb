import { type Dockerfile, envFrom, type FromInstruction, ShellLexer } from '../dockerfile/index.ts';
import type { Platform } from '../oci/index.ts';
import { parseReference } from '../reference/index.ts';
import { StrataError } from '../util/index.ts';
import { predefinedArgs } from './build-args.ts';
import type { PlanContext } from './plan-context.ts';

/** A FROM whose base, expanded with the global ARGs' defaults alone, is empty or not a reference. */
export interface InvalidDefaultBase {
  readonly from: FromInstruction;
  /** The base after expansion with the defaults (`golang:-alpine`, or empty). */
  readonly expanded: string;
  /** The ARGs the FROM uses that have no value, or an empty one, without `--build-arg`. */
  readonly unset: readonly string[];
}

/**
 * BuildKit's InvalidDefaultArgInFrom check (dockerfile2llb `validateBaseImagesWithDefaultArgs`):
 * every FROM expanded with the predefined ARGs and the global ARGs' defaults — no `--build-arg`,
 * whatever the build passes — must be a valid image reference (or a stage name, or `scratch`).
 * A Dockerfile that needs `--build-arg BASE=…` to build at all fails it.
 */
export function invalidDefaultBases(
  dockerfile: Dockerfile,
  options: {
    readonly targetStage: string;
    readonly buildPlatform: Platform;
    readonly targetPlatform: Platform;
  },
): InvalidDefaultBase[] {
  const lexer = new ShellLexer({ escapeToken: dockerfile.escapeToken });
  const values = new Map<string, string>();
  for (const v of predefinedArgs({
    buildPlatform: options.buildPlatform,
    targetPlatform: options.targetPlatform,
    targetStage: options.targetStage,
    overrides: new Map(),
  }))
    values.set(v.name, v.value);
  const env = envFrom(values);
  for (const arg of dockerfile.globalArgs)
    for (const decl of arg.args) {
      if (decl.defaultValue === undefined) continue;
      try {
        values.set(decl.key, lexer.processWord(decl.defaultValue, env));
      } catch (error) {
        // As BuildKit: a default that does not expand abandons this check; planning reports it.
        if (error instanceof StrataError) return [];
        throw error;
      }
    }
  const out: InvalidDefaultBase[] = [];
  for (const { from } of dockerfile.stages) {
    let expanded: ReturnType<ShellLexer['expand']>;
    try {
      expanded = lexer.expand(from.image, env);
    } catch (error) {
      if (error instanceof StrataError) return out; // planning reports the syntax error
      throw error;
    }
    if (expanded.result !== '' && isReference(expanded.result)) continue;
    const unset = [...expanded.unmatched, ...[...expanded.matched].filter((name) => values.get(name) === '')];
    out.push({ from, expanded: expanded.result, unset });
  }
  return out;
}

function isReference(text: string): boolean {
  try {
    parseReference(text);
    return true;
  } catch (error) {
    if (error instanceof StrataError) return false;
    throw error;
  }
}

/**
 * The value lint gives an ARG that a FROM needs but nothing sets, so the rest of the Dockerfile can
 * still be planned and checked: valid as a registry, repository path component and tag.
 */
export const UNSET_ARG_PLACEHOLDER = 'unset-build-arg';

/**
 * Raises InvalidDefaultArgInFrom (a build check) for each FROM that {@link invalidDefaultBases}
 * finds, as BuildKit's validateBaseImagesWithDefaultArgs: the Dockerfile should build without
 * `--build-arg`.
 */
export function warnInvalidDefaultArgInFrom(
  ctx: PlanContext,
  options: {
    readonly dockerfile: Dockerfile;
    readonly buildPlatform: Platform;
    readonly targetPlatform: Platform;
    readonly targetStage: string;
  },
): void {
  for (const { from } of invalidDefaultBases(options.dockerfile, options)) {
    ctx.warn(
      'InvalidDefaultArgInFrom',
      `Default value for ARG ${from.image} results in empty or invalid base image name`,
      from.range,
    );
  }
}
