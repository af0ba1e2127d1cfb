import type { ArgInstruction, EnvInstruction } from '../dockerfile/index.ts';
import type { StepPart, StepPlanContext } from './step-plan-context.ts';

/** ENV: sets each pair in the stage's env and the image config's Env. */
export function planEnv(c: StepPlanContext, instruction: EnvInstruction): StepPart<'env'> {
  const { scope, expand } = c;
  // Every pair is expanded with the variables as they were before this instruction.
  const pairs = instruction.pairs.map((p) => ({ name: expand(p.key), value: expand(p.value) }));
  for (const p of pairs) {
    const variable = { name: p.name, value: p.value, source: 'env' } as const;
    scope.env.delete(p.name);
    scope.env.set(p.name, variable);
    scope.configEnv.set(p.name, variable);
  }
  scope.version++;
  return { kind: 'env', pairs };
}

/** ARG: declares build args for later steps, with BuildKit's dispatchArg rules for the value. */
export function planArg(c: StepPlanContext, instruction: ArgInstruction): StepPart<'arg'> {
  const { scope, expand } = c;
  const args: { name: string; value?: string }[] = [];
  for (const decl of instruction.args) {
    // BuildKit's dispatchArg: a --build-arg wins, then the default (expanded in the stage's
    // scope), then the global value of the same name when there is no default.
    let value: string | undefined;
    const override = c.plan.buildArgs.get(decl.key);
    if (override !== undefined) value = override;
    else if (decl.defaultValue !== undefined) value = expand(decl.defaultValue);
    else if (c.globals.values.has(decl.key)) value = c.globals.values.get(decl.key);
    // ARG sets the variable for later steps even over an ENV of the same name (BuildKit
    // adds it to the build state's env); ENV after ARG wins as the reference describes.
    if (value !== undefined) {
      scope.env.delete(decl.key);
      scope.env.set(decl.key, { name: decl.key, value, source: 'arg' });
      scope.version++;
    }
    const entry = value === undefined ? { name: decl.key } : { name: decl.key, value };
    // Kept in declaration order with repeats, as BuildKit does; RUN history de-duplicates.
    scope.buildArgs.push(entry);
    args.push(entry);
  }
  return { kind: 'arg', args };
}
