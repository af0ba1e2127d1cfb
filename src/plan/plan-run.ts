import { posix } from 'node:path';
import { mountIsReadOnly, parseRunMount, type RunInstruction, type RunMount } from '../dockerfile/index.ts';
import type { FileSource, PlannedMount } from './build-graph.ts';
import { resolveStageSource } from './stage-names.ts';
import type { StepPart, StepPlanContext } from './step-plan-context.ts';

/** RUN: the command as written (the shell expands it), its mounts expanded and resolved. */
export function planRun(c: StepPlanContext, instruction: RunInstruction): StepPart<'run'> {
  return {
    kind: 'run',
    command: instruction.command,
    heredocs: instruction.heredocs,
    mounts: instruction.mounts.map((raw) => planMount(c, instruction, raw)),
    network: instruction.network ?? 'default',
    security: instruction.security ?? 'sandbox',
    devices: instruction.devices,
  };
}

/** One `--mount`: its words expanded, its source resolved (context, a stage, an image, or scratch). */
function planMount(c: StepPlanContext, instruction: RunInstruction, raw: RunMount): PlannedMount {
  const m = c.plan.placed(instruction, () => parseRunMount(raw.text, (v) => c.expand(v)));
  let from: FileSource;
  if (m.from !== undefined && m.from !== '') from = resolveStageSource(c.plan, c.stages, m.from, instruction);
  else if (m.type === 'cache' || m.type === 'tmpfs') from = { kind: 'scratch' };
  else from = { kind: 'context' };
  const target = m.target ?? '';
  if (
    m.type !== 'secret' &&
    m.type !== 'ssh' &&
    posix.normalize(`/${target}`) === '/' &&
    target.startsWith('/')
  ) {
    throw c.plan.fail(`invalid mount target ${JSON.stringify(target)}`, instruction.range, {
      instruction: 'RUN',
      hint: 'a mount cannot replace the root filesystem',
    });
  }
  return {
    type: m.type,
    from,
    source: m.source ?? '',
    target,
    readOnly: mountIsReadOnly(m),
    ...(m.size === undefined ? {} : { sizeBytes: m.size }),
    ...(m.type === 'cache'
      ? {
          id: m.id !== undefined && m.id !== '' ? m.id : cleanPath(target),
          sharing: m.sharing ?? 'shared',
        }
      : m.id === undefined
        ? {}
        : { id: m.id }),
    required: m.required ?? false,
    ...(m.env === undefined ? {} : { env: m.env }),
    ...(m.mode === undefined ? {} : { mode: m.mode }),
    ...(m.uid === undefined ? {} : { uid: m.uid }),
    ...(m.gid === undefined ? {} : { gid: m.gid }),
  };
}

/** Go's path.Clean for a cache id. */
function cleanPath(p: string): string {
  if (p === '') return '.';
  const cleaned = posix.normalize(p);
  return cleaned.length > 1 && cleaned.endsWith('/') ? cleaned.slice(0, -1) : cleaned;
}
