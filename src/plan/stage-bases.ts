import {
  DockerfileError,
  didYouMean,
  type FromInstruction,
  type Instruction,
  parseDockerfile,
} from '../dockerfile/index.ts';
import { type Platform, parsePlatform } from '../oci/index.ts';
import { parseReference } from '../reference/index.ts';
import { StrataError } from '../util/index.ts';
import type { StageBase } from './build-graph.ts';
import { type GlobalArgs, warnUndeclaredInFrom } from './global-args.ts';
import type { PlanContext } from './plan-context.ts';
import { type StageNames, stageBefore } from './stage-names.ts';

/** What each stage is built on, and the platform its FROM names (if it names one). */
export interface StageBases {
  readonly bases: readonly StageBase[];
  readonly explicitPlatforms: readonly (Platform | undefined)[];
}

/**
 * Expands every FROM line with the global ARGs and resolves its base: `scratch`, an earlier stage
 * by name, or an image reference; and its `--platform`, when given.
 *
 * @throws DockerfileError for a blank base, a bad reference (a later stage's name included) or a
 *   bad platform, at the FROM line.
 */
export function resolveStageBases(ctx: PlanContext, stages: StageNames, globals: GlobalArgs): StageBases {
  const bases: StageBase[] = [];
  const explicitPlatforms: (Platform | undefined)[] = [];
  stages.nodes.forEach((node, index) => {
    const from = node.from;
    const expanded = ctx.placed(from, () => ctx.lexer.expand(from.image, globals.env));
    warnUndeclaredInFrom(ctx, globals, expanded.unmatched, from);
    if (expanded.result === '') {
      throw ctx.fail(`base name (${from.image}) should not be blank`, from.range, {
        instruction: 'FROM',
        hint: 'check that the ARGs it uses are declared before the first FROM and have values',
      });
    }
    bases.push(resolveBase(ctx, stages, { text: expanded.result, index, from }));
    explicitPlatforms.push(
      from.platform === undefined ? undefined : fromPlatform(ctx, globals, from, from.platform),
    );
  });
  return { bases, explicitPlatforms };
}

function resolveBase(
  ctx: PlanContext,
  stages: StageNames,
  at: { text: string; index: number; from: FromInstruction },
): StageBase {
  const { text, index, from } = at;
  if (text === 'scratch') return { kind: 'scratch' };
  const earlier = stageBefore(stages, text.toLowerCase(), index);
  if (earlier !== undefined) return { kind: 'stage', stage: earlier };
  const stage = stages.byName.get(text.toLowerCase());
  try {
    return { kind: 'image', text, ref: parseReference(text) };
  } catch (error) {
    if (!(error instanceof StrataError)) throw error;
    const suggestion = didYouMean(text, stages.names, { caseSensitive: false });
    throw ctx.fail('invalid base image', from.range, {
      instruction: 'FROM',
      cause: error,
      hint:
        stage !== undefined
          ? `stage "${text}" is defined later (line ${stages.nodes[stage]!.from.range.line}); a stage can only build on an earlier one`
          : suggestion,
    });
  }
}

/** `FROM --platform=<expression>`, expanded with the global ARGs and parsed. */
function fromPlatform(
  ctx: PlanContext,
  globals: GlobalArgs,
  from: FromInstruction,
  expression: string,
): Platform {
  const platform = ctx.placed(from, () => ctx.lexer.expand(expression, globals.env));
  warnUndeclaredInFrom(ctx, globals, platform.unmatched, from);
  // BuildKit's reportRedundantTargetPlatform: TARGETPLATFORM the only variable, and all there is.
  if (
    platform.matched.size === 1 &&
    platform.unmatched.size === 0 &&
    platform.matched.has('TARGETPLATFORM') &&
    platform.result === globals.values.get('TARGETPLATFORM')
  ) {
    ctx.warn(
      'RedundantTargetPlatform',
      `Setting platform to predefined ${expression} in FROM is redundant as this is the default behavior`,
      from.range,
    );
  }
  // BuildKit's reportConstPlatformDisallowed: a constant platform, unless the stage's name says
  // which OS or architecture it is for (`FROM --platform=linux/amd64 … AS build-amd64`).
  if (platform.matched.size === 0 && platform.unmatched.size === 0) {
    let constant: Platform | undefined;
    try {
      constant = parsePlatform(platform.result);
    } catch (error) {
      // Not a platform: the parse below reports it at this FROM line.
      if (!(error instanceof StrataError)) throw error;
    }
    const name = from.name ?? '';
    if (constant !== undefined && !name.includes(constant.os) && !name.includes(constant.architecture)) {
      ctx.warn(
        'FromPlatformFlagConstDisallowed',
        `FROM --platform flag should not use constant value ${JSON.stringify(platform.result)}`,
        from.range,
      );
    }
  }
  if (platform.result === '')
    throw ctx.fail(`empty platform value from expression ${expression}`, from.range, {
      instruction: 'FROM',
    });
  try {
    return parsePlatform(platform.result);
  } catch (error) {
    throw ctx.fail(`failed to parse platform ${expression}`, from.range, {
      instruction: 'FROM',
      cause: error,
    });
  }
}

/**
 * The instructions each stage runs: the ONBUILD triggers of its base first (a base stage's ONBUILD
 * instructions, or a base image's config `OnBuild`, as BuildKit runs them), then its own. Parsed
 * and assembled once per stage, on first use.
 */
export class StageInstructions {
  readonly #stages: StageNames;
  readonly #bases: readonly StageBase[];
  readonly #imageOnBuild: ReadonlyMap<string, readonly string[]> | undefined;
  readonly #imageTriggers = new Map<string, Instruction[]>();
  readonly #instructions = new Map<number, Instruction[]>();

  constructor(options: {
    stages: StageNames;
    bases: readonly StageBase[];
    baseImageOnBuild?: ReadonlyMap<string, readonly string[]>;
  }) {
    this.#stages = options.stages;
    this.#bases = options.bases;
    this.#imageOnBuild = options.baseImageOnBuild;
  }

  /** The stage's instructions, its base's triggers first. */
  of(index: number): Instruction[] {
    const cached = this.#instructions.get(index);
    if (cached !== undefined) return cached;
    const own = this.#stages.nodes[index]!.instructions;
    const triggers = this.#triggers(index);
    const all = triggers.length === 0 ? [...own] : [...triggers, ...own];
    this.#instructions.set(index, all);
    return all;
  }

  /** How many of {@link of}'s instructions are triggers. */
  triggerCount(index: number): number {
    const base = this.#bases[index]!;
    if (base.kind === 'image') return this.#parsedImageTriggers(base.ref.toString()).length;
    return base.kind === 'stage'
      ? this.#stages.nodes[base.stage]!.instructions.filter((i) => i.kind === 'onbuild').length
      : 0;
  }

  #triggers(index: number): Instruction[] {
    const base = this.#bases[index]!;
    if (base.kind === 'stage')
      return this.#stages.nodes[base.stage]!.instructions.flatMap((i) =>
        i.kind === 'onbuild' ? [i.trigger] : [],
      );
    return base.kind === 'image' ? this.#parsedImageTriggers(base.ref.toString()) : [];
  }

  #parsedImageTriggers(ref: string): Instruction[] {
    const cached = this.#imageTriggers.get(ref);
    if (cached) return cached;
    const parsed = (this.#imageOnBuild?.get(ref) ?? []).map((text) => parseTrigger(ref, text));
    this.#imageTriggers.set(ref, parsed);
    return parsed;
  }
}

/** One trigger of an image's `OnBuild`: one instruction as text, parsed inside a throwaway stage. */
function parseTrigger(ref: string, text: string): Instruction {
  const instructions = parseDockerfile(`FROM scratch\n${text}\n`, {
    file: `ONBUILD of ${ref}`,
  }).instructions.slice(1);
  if (instructions.length !== 1) {
    throw new DockerfileError(`invalid ONBUILD trigger in ${ref}: ${JSON.stringify(text)}`, {
      file: `ONBUILD of ${ref}`,
    });
  }
  return instructions[0]!;
}
