import type { ExpansionEnv, Instruction, ShellLexer } from '../dockerfile/index.ts';
import type { ScopedVariable, Step, StepBase } from './build-graph.ts';
import type { GlobalArgs } from './global-args.ts';
import type { PlanContext } from './plan-context.ts';
import { planCopy } from './plan-copy.ts';
import {
  planCmd,
  planEntrypoint,
  planExpose,
  planFrom,
  planHealthcheck,
  planLabel,
  planMaintainer,
  planOnbuild,
  planShell,
  planStopSignal,
  planUser,
  planVolume,
  planWorkdir,
} from './plan-metadata.ts';
import { planRun } from './plan-run.ts';
import { planArg, planEnv } from './plan-variables.ts';
import type { StageNames } from './stage-names.ts';
import type { StageScope } from './stage-scope.ts';
import { checkDispatch, reportUndefinedVars, type UsedOnce } from './step-checks.ts';
import type { StepPart, StepPlanContext } from './step-plan-context.ts';

/** One planner per instruction kind (BuildKit's dispatch): the instruction → the step's own fields. */
type StepPlanners = {
  readonly [K in Instruction['kind']]: (
    c: StepPlanContext,
    instruction: Extract<Instruction, { kind: K }>,
  ) => StepPart;
};

const PLANNERS: StepPlanners = {
  env: planEnv,
  arg: planArg,
  label: planLabel,
  copy: planCopy,
  add: planCopy,
  run: planRun,
  workdir: planWorkdir,
  user: planUser,
  volume: planVolume,
  stopsignal: planStopSignal,
  expose: planExpose,
  shell: planShell,
  cmd: planCmd,
  entrypoint: planEntrypoint,
  healthcheck: planHealthcheck,
  onbuild: planOnbuild,
  maintainer: planMaintainer,
  from: planFrom,
};

/**
 * Plans a stage's instructions in order (its base's ONBUILD triggers first), each with the scope
 * as the instructions before it left it; ENV, ARG and SHELL change `scope` for those after.
 */
export function planSteps(
  plan: PlanContext,
  options: {
    readonly stages: StageNames;
    readonly globals: GlobalArgs;
    readonly scope: StageScope;
    readonly instructions: readonly Instruction[];
    /** How many of the instructions are ONBUILD triggers of the base. */
    readonly triggers: number;
    readonly isIgnored?: (path: string) => boolean;
  },
): Step[] {
  const { stages, globals, scope, instructions, triggers } = options;
  const steps: Step[] = [];
  const envGetter: ExpansionEnv = { get: (name) => scope.env.get(name)?.value };
  // The env snapshot is shared by consecutive steps until an ENV or ARG changes it.
  let envSnapshot: readonly ScopedVariable[] = [];
  let envVersion = -1;
  const usedOnce: UsedOnce = new Map();
  for (let i = 0; i < instructions.length; i++) {
    const instruction = instructions[i]!;
    const unresolved = new Set<string>();
    const undefinedVars = new Set<string>();
    if (envVersion !== scope.version) {
      envSnapshot = [...scope.env.values()];
      envVersion = scope.version;
    }
    const envBefore = envSnapshot;
    const buildArgsBefore = scope.buildArgs.slice();
    const shellBefore = scope.shell;
    const expand = (word: string, lex: ShellLexer = plan.lexer): string => {
      const result = plan.placed(instruction, () => lex.expand(word, envGetter));
      if (scope.imageEnvUnknown) for (const name of result.unmatched) unresolved.add(name);
      else for (const name of result.unmatched) undefinedVars.add(name);
      return result.result;
    };
    const usesBaseEnv = (word: string): boolean =>
      scope.imageEnvUnknown && plan.lexer.expand(word, envGetter).unmatched.size > 0;
    const planner = PLANNERS[instruction.kind] as (c: StepPlanContext, instruction: Instruction) => StepPart;
    // Built as the kind's own fields, then completed with what every step carries (cheaper
    // than spreading a shared base into every literal).
    const isIgnored = options.isIgnored;
    const context = {
      plan,
      stages,
      globals,
      scope,
      instruction,
      expand,
      usesBaseEnv,
      ...(isIgnored ? { isIgnored } : {}),
    };
    const step = planner(context, instruction) as StepPart & {
      -readonly [K in keyof StepBase]: StepBase[K];
    };
    if (undefinedVars.size > 0) {
      reportUndefinedVars(plan, {
        instruction,
        unmatched: undefinedVars,
        env: envBefore,
        buildArgs: buildArgsBefore,
      });
    }
    checkDispatch(plan, {
      instruction,
      scope,
      usedOnce,
      ...(step.kind === 'env' ? { expandedKeys: step.pairs.map((p) => p.name) } : {}),
      ...(step.kind === 'workdir' ? { expandedPath: step.path } : {}),
    });
    step.index = i;
    step.location = instruction.range;
    step.instruction = instruction;
    step.env = envBefore;
    step.buildArgs = buildArgsBefore;
    step.unresolved = [...unresolved];
    step.onbuild = i < triggers;
    if (shellBefore !== undefined) step.activeShell = shellBefore;
    steps.push(step as Step);
  }
  return steps;
}
