import { type Instruction, type SourceRange, suggest } from '../dockerfile/index.ts';
import type { ScopedVariable } from './build-graph.ts';
import type { PlanContext } from './plan-context.ts';
import type { StageScope } from './stage-scope.ts';

/** Where a stage last set CMD, ENTRYPOINT and HEALTHCHECK (BuildKit's instructionTracker). */
export type UsedOnce = Map<'cmd' | 'entrypoint' | 'healthcheck', SourceRange>;

// BuildKit's getSecretsRegex: a secret word as the whole key or its first or last `_` part,
// unless an allowed word is too (`PUBLIC_KEY`, `KEY_FILE`, `VERSION_TOKEN`…).
const SECRET = /(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)/i;
const NOT_SECRET = /(?:_|^)(?:public|file|version)(?:_|$)/i;

/** Variables only the frontend uses, never set in a stage's env (BuildKit's nonEnvArgs). */
const NON_ENV_ARGS = new Set(['BUILDKIT_SBOM_SCAN_CONTEXT', 'BUILDKIT_SBOM_SCAN_STAGE']);

/**
 * The build checks BuildKit runs as it dispatches an instruction (dockerfile2llb/convert.go):
 * LegacyKeyValueFormat and SecretsUsedInArgOrEnv (ENV, LABEL, ARG), WorkdirRelativePath (the
 * stage's first WORKDIR, counting the stages it builds on), MultipleInstructionsDisallowed (a
 * second CMD, ENTRYPOINT or HEALTHCHECK in a stage, reported at the one that is ignored).
 * `expanded` is what the planner made of the instruction's words.
 */
export function checkDispatch(
  plan: PlanContext,
  options: {
    readonly instruction: Instruction;
    readonly scope: StageScope;
    readonly usedOnce: UsedOnce;
    /** ENV: the expanded keys; WORKDIR: the expanded path. */
    readonly expandedKeys?: readonly string[];
    readonly expandedPath?: string;
  },
): void {
  const { instruction, scope, usedOnce } = options;
  const at = instruction.range;
  switch (instruction.kind) {
    case 'env':
      instruction.pairs.forEach((pair, i) => {
        if (pair.legacy) legacyKeyValue(plan, instruction);
        secretKey(plan, 'ENV', options.expandedKeys?.[i] ?? pair.key, at);
      });
      return;
    case 'label':
      for (const pair of instruction.pairs) if (pair.legacy) legacyKeyValue(plan, instruction);
      return;
    case 'arg':
      for (const decl of instruction.args) secretKey(plan, 'ARG', decl.key, at);
      return;
    case 'workdir': {
      const path = options.expandedPath ?? instruction.path;
      if (!scope.workdirSet && !isAbsolute(path, scope.platform.os)) {
        plan.warn(
          'WorkdirRelativePath',
          `Relative workdir ${JSON.stringify(path)} can have unexpected results if the base image changes`,
          at,
        );
      }
      scope.workdirSet = true;
      return;
    }
    case 'cmd':
    case 'entrypoint':
    case 'healthcheck': {
      const previous = usedOnce.get(instruction.kind);
      if (previous !== undefined) {
        plan.warn(
          'MultipleInstructionsDisallowed',
          `Multiple ${instruction.keyword} instructions should not be used in the same stage because only the last one will be used`,
          previous,
        );
      }
      usedOnce.set(instruction.kind, at);
      return;
    }
    default:
      return;
  }
}

/**
 * UndefinedVar: variables an instruction's words used that neither the stage's env nor its
 * declared ARGs define. Only called where the env is fully known (not for a base image whose
 * config was not read), as BuildKit knows it when it dispatches.
 */
export function reportUndefinedVars(
  plan: PlanContext,
  options: {
    readonly instruction: Instruction;
    readonly unmatched: ReadonlySet<string>;
    readonly env: readonly ScopedVariable[];
    readonly buildArgs: readonly { readonly name: string }[];
  },
): void {
  const declared = new Set(options.buildArgs.map((a) => a.name));
  const names = options.env.map((v) => v.name);
  for (const name of options.unmatched) {
    if (declared.has(name) || NON_ENV_ARGS.has(name)) continue;
    const match = suggest(name, names, { caseSensitive: true });
    const suggestion = match === undefined ? '' : ` (did you mean $${match}?)`;
    plan.warn(
      'UndefinedVar',
      `Usage of undefined variable '$${name}'${suggestion}`,
      options.instruction.range,
    );
  }
}

function legacyKeyValue(plan: PlanContext, instruction: Instruction): void {
  const name = instruction.keyword;
  plan.warn(
    'LegacyKeyValueFormat',
    `"${name} key=value" should be used instead of legacy "${name} key value" format`,
    instruction.range,
  );
}

function secretKey(plan: PlanContext, instruction: 'ARG' | 'ENV', key: string, at: SourceRange): void {
  if (SECRET.test(key) && !NOT_SECRET.test(key)) {
    plan.warn(
      'SecretsUsedInArgOrEnv',
      `Do not use ARG or ENV instructions for sensitive data (${instruction} ${JSON.stringify(key)})`,
      at,
    );
  }
}

/** Go's system.IsAbs for the target OS: `/…` on Linux; a drive or root path on Windows. */
function isAbsolute(path: string, os: string): boolean {
  if (os === 'windows') return /^(?:[a-zA-Z]:)?[\\/]/.test(path);
  return path.startsWith('/');
}
