import type {
  CmdInstruction,
  EntrypointInstruction,
  ExposeInstruction,
  FromInstruction,
  HealthcheckInstruction,
  LabelInstruction,
  MaintainerInstruction,
  OnbuildInstruction,
  ShellInstruction,
  StopSignalInstruction,
  UserInstruction,
  VolumeInstruction,
  WorkdirInstruction,
} from '../dockerfile/index.ts';
import { parseExposedPorts } from './expose-ports.ts';
import type { StepPart, StepPlanContext } from './step-plan-context.ts';
import { isValidStopSignal } from './stop-signal.ts';

/*
 * The instructions whose step is their words expanded (or kept as written) and checked: WORKDIR
 * and the config-only ones. ENV and ARG, which change the scope, are in plan-variables.ts.
 */

/** LABEL: each pair expanded. */
export function planLabel(c: StepPlanContext, instruction: LabelInstruction): StepPart<'label'> {
  return {
    kind: 'label',
    pairs: instruction.pairs.map((p) => ({ name: c.expand(p.key), value: c.expand(p.value) })),
  };
}

/** WORKDIR: expanded (a relative path is the solver's to resolve). */
export function planWorkdir(c: StepPlanContext, instruction: WorkdirInstruction): StepPart<'workdir'> {
  return { kind: 'workdir', path: c.expand(instruction.path) };
}

/** USER: expanded. */
export function planUser(c: StepPlanContext, instruction: UserInstruction): StepPart<'user'> {
  return { kind: 'user', user: c.expand(instruction.user) };
}

/**
 * VOLUME: each path expanded; none may be empty — unless a base image of unknown Env may set its
 * variables (`VOLUME $PGDATA` on postgres): the build checks it with the image's Env.
 */
export function planVolume(c: StepPlanContext, instruction: VolumeInstruction): StepPart<'volume'> {
  const volumes = instruction.volumes.map((v) => c.expand(v));
  if (volumes.some((v, i) => v === '' && !c.usesBaseEnv(instruction.volumes[i]!)))
    throw c.plan.fail('VOLUME specified can not be an empty string', instruction.range, {
      instruction: 'VOLUME',
    });
  return { kind: 'volume', volumes };
}

/** STOPSIGNAL: expanded, and a signal name or number. */
export function planStopSignal(
  c: StepPlanContext,
  instruction: StopSignalInstruction,
): StepPart<'stopsignal'> {
  const signal = c.expand(instruction.signal);
  if (!isValidStopSignal(signal) && !c.usesBaseEnv(instruction.signal)) {
    throw c.plan.fail(`invalid signal: ${signal}`, instruction.range, {
      instruction: 'STOPSIGNAL',
      hint: 'use a signal name such as SIGTERM or a number such as 15',
    });
  }
  return { kind: 'stopsignal', signal };
}

/** EXPOSE: each word expanded and split into words, then parsed into ports (ranges included). */
export function planExpose(c: StepPlanContext, instruction: ExposeInstruction): StepPart<'expose'> {
  const { plan, scope } = c;
  // A port made of a variable the base image may set waits for the build's plan with its Env.
  const words = instruction.ports
    .filter((p) => !c.usesBaseEnv(p))
    .flatMap((p) =>
      plan.placed(instruction, () => plan.lexer.expand(p, { get: (n) => scope.env.get(n)?.value }).words),
    );
  const ports = plan.placed(instruction, () =>
    parseExposedPorts(words, (rule, message) => plan.warn(rule, message, instruction.range)),
  );
  return { kind: 'expose', ports };
}

/** SHELL: sets the shell of later shell-form steps. */
export function planShell(c: StepPlanContext, instruction: ShellInstruction): StepPart<'shell'> {
  c.scope.shell = instruction.shell;
  return { kind: 'shell', shell: instruction.shell };
}

/** CMD: kept as written. */
export function planCmd(_c: StepPlanContext, instruction: CmdInstruction): StepPart<'cmd'> {
  return { kind: 'cmd', command: instruction.command };
}

/** ENTRYPOINT: kept as written. */
export function planEntrypoint(
  _c: StepPlanContext,
  instruction: EntrypointInstruction,
): StepPart<'entrypoint'> {
  return { kind: 'entrypoint', command: instruction.command };
}

/** HEALTHCHECK: kept as parsed. */
export function planHealthcheck(
  _c: StepPlanContext,
  instruction: HealthcheckInstruction,
): StepPart<'healthcheck'> {
  return {
    kind: 'healthcheck',
    test: instruction.test,
    intervalNs: instruction.intervalNs,
    timeoutNs: instruction.timeoutNs,
    startPeriodNs: instruction.startPeriodNs,
    startIntervalNs: instruction.startIntervalNs,
    retries: instruction.retries,
  };
}

/** ONBUILD: the trigger's text, for the image config. */
export function planOnbuild(_c: StepPlanContext, instruction: OnbuildInstruction): StepPart<'onbuild'> {
  return { kind: 'onbuild', expression: instruction.expression };
}

/** MAINTAINER: kept as written. */
export function planMaintainer(
  _c: StepPlanContext,
  instruction: MaintainerInstruction,
): StepPart<'maintainer'> {
  return { kind: 'maintainer', maintainer: instruction.maintainer };
}

/** FROM never reaches a stage's steps (the parser starts a stage with it). */
export function planFrom(c: StepPlanContext, instruction: FromInstruction): never {
  throw c.plan.fail('FROM inside a stage', instruction.range, { instruction: 'FROM' });
}
