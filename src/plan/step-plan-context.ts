import type { Instruction, ShellLexer } from '../dockerfile/index.ts';
import type { Step, StepBase } from './build-graph.ts';
import type { GlobalArgs } from './global-args.ts';
import type { PlanContext } from './plan-context.ts';
import type { StageNames } from './stage-names.ts';
import type { StageScope } from './stage-scope.ts';

/** A step's own fields, before what every step carries is added (of the steps of kind `K`). */
export type StepPart<K extends Step['kind'] = Step['kind']> = Extract<AnyStepPart, { kind: K }>;

type AnyStepPart = Step extends infer S ? (S extends Step ? Omit<S, keyof StepBase> : never) : never;

/** What planning one instruction needs: the build's context, the stage's scope, and expansion. */
export interface StepPlanContext {
  readonly plan: PlanContext;
  readonly stages: StageNames;
  readonly globals: GlobalArgs;
  /** The stage's scope, changed by ENV, ARG and SHELL. */
  readonly scope: StageScope;
  readonly instruction: Instruction;
  /**
   * Expands a word with the scope as it is before this instruction (with `lex`, the stage's
   * lexer by default), noting variables a base image of unknown Env might set.
   */
  readonly expand: (word: string, lex?: ShellLexer) => string;
  /** Whether `.dockerignore` excludes a context path (CopyIgnoredFile); absent: no check. */
  readonly isIgnored?: (path: string) => boolean;
  /**
   * True when the word uses a variable the Dockerfile leaves unset while the base image's Env is
   * not known (`strata stages`, `lint`): the image may set it, so a check of the expanded value
   * must wait for the build, which plans again with the image's Env.
   */
  readonly usesBaseEnv: (word: string) => boolean;
}
