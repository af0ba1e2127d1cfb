import type { FlagKind, FlagValue } from './builder-flags.ts';
import { parseGoDuration } from './go-duration.ts';
import { parseMaybeJson } from './instruction-arguments.ts';
import { type InstructionContext, NO_FLAGS } from './instruction-context.ts';
import type {
  CmdInstruction,
  CommandLine,
  EntrypointInstruction,
  HealthcheckInstruction,
  NetworkMode,
  RunInstruction,
  RunMount,
  SecurityMode,
  ShellInstruction,
} from './instructions.ts';
import { parseRunDevice, parseRunMount } from './run-mount.ts';

/*
 * The instructions that name a command: RUN, CMD, ENTRYPOINT, SHELL and HEALTHCHECK (BuildKit's
 * parseRun, parseCmd, parseEntrypoint, parseShell, parseHealthcheck).
 */

const RUN_FLAGS: Readonly<Record<string, FlagKind>> = {
  mount: 'strings',
  network: 'string',
  security: 'string',
  device: 'strings',
};
const HEALTHCHECK_FLAGS: Readonly<Record<string, FlagKind>> = {
  interval: 'string',
  timeout: 'string',
  'start-period': 'string',
  'start-interval': 'string',
  retries: 'string',
};

/** `RUN [--mount=…] [--network=…] [--security=…] [--device=…] <command>`. */
export function parseRun(c: InstructionContext): RunInstruction {
  const { args, argsOffset } = c;
  const f = c.flags(RUN_FLAGS);
  const mounts: RunMount[] = (f.get('mount')?.values ?? []).map((value, i) =>
    c.wrap(f.get('mount')?.offsets[i], () => parseRunMount(value)),
  );
  const network = f.get('network')?.value;
  if (network !== undefined && network !== 'default' && network !== 'none' && network !== 'host') {
    throw c.fail(
      `invalid network mode ${JSON.stringify(network)}`,
      f.get('network')?.offset,
      'one of default, none, host',
    );
  }
  const security = f.get('security')?.value;
  if (security !== undefined && security !== 'sandbox' && security !== 'insecure') {
    throw c.fail(
      `security ${JSON.stringify(security)} is not valid`,
      f.get('security')?.offset,
      'one of sandbox, insecure',
    );
  }
  const command = c.wrap(argsOffset, () => parseMaybeJson(args));
  return {
    ...c.base,
    kind: 'run',
    command,
    heredocs: command.form === 'shell' ? c.source.heredocs : [],
    mounts,
    network: network as NetworkMode | undefined,
    security: security as SecurityMode | undefined,
    devices: (f.get('device')?.values ?? []).map((value, i) =>
      c.wrap(f.get('device')?.offsets[i], () => parseRunDevice(value)),
    ),
  };
}

/** `CMD <command>`. */
export function parseCmd(c: InstructionContext): CmdInstruction {
  return { ...c.base, kind: 'cmd', command: commandArgument(c) };
}

/** `ENTRYPOINT <command>`. */
export function parseEntrypoint(c: InstructionContext): EntrypointInstruction {
  return { ...c.base, kind: 'entrypoint', command: commandArgument(c) };
}

/** The command of an instruction without flags: exec form (JSON) or shell form. */
function commandArgument(c: InstructionContext): CommandLine {
  c.flags(NO_FLAGS);
  return c.wrap(c.argsOffset, () => parseMaybeJson(c.args));
}

/** `SHELL ["executable", "parameters"]`: JSON form only. */
export function parseShell(c: InstructionContext): ShellInstruction {
  const { args, argsOffset } = c;
  c.flags(NO_FLAGS);
  const command = c.wrap(argsOffset, () => parseMaybeJson(args));
  if (command.form === 'shell') {
    if (command.text === '') throw c.fail('SHELL requires at least one argument', argsOffset);
    throw c.fail(
      'SHELL requires the arguments to be in JSON form',
      argsOffset,
      'write SHELL ["executable", "parameters"]',
    );
  }
  if (command.args.length === 0) throw c.fail('SHELL requires at least one argument', argsOffset);
  return {
    ...c.base,
    kind: 'shell',
    shell: command.args,
  };
}

/** `HEALTHCHECK NONE`, or `HEALTHCHECK [--interval=…] … CMD <command>`. */
export function parseHealthcheck(c: InstructionContext): HealthcheckInstruction {
  const { args, argsOffset } = c;
  const f = c.flags(HEALTHCHECK_FLAGS);
  const sep = args.search(/\s/);
  const type = sep === -1 ? args : args.slice(0, sep);
  const after = sep === -1 ? '' : args.slice(sep).trimStart();
  if (type === '')
    throw c.fail(
      'HEALTHCHECK requires at least one argument',
      argsOffset,
      'write HEALTHCHECK NONE or HEALTHCHECK [options] CMD <command>',
    );
  if (type.toUpperCase() === 'NONE') {
    if (after !== '') throw c.fail('HEALTHCHECK NONE takes no arguments', argsOffset);
    return {
      ...c.base,
      kind: 'healthcheck',
      test: { type: 'none' },
      intervalNs: 0,
      timeoutNs: 0,
      startPeriodNs: 0,
      startIntervalNs: 0,
      retries: 0,
    };
  }
  if (type.toUpperCase() !== 'CMD') {
    throw c.fail(`Unknown type ${JSON.stringify(type)} in HEALTHCHECK (try CMD)`, argsOffset);
  }
  const command = c.wrap(argsOffset, () => parseMaybeJson(after));
  if (
    (command.form === 'exec' && command.args.length === 0) ||
    (command.form === 'shell' && command.text === '')
  ) {
    throw c.fail('Missing command after HEALTHCHECK CMD', argsOffset);
  }
  const retries = retriesFlag(c, f);
  return {
    ...c.base,
    kind: 'healthcheck',
    test: { type: 'cmd', command },
    intervalNs: durationFlag(c, f, 'interval'),
    timeoutNs: durationFlag(c, f, 'timeout'),
    startPeriodNs: durationFlag(c, f, 'start-period'),
    startIntervalNs: durationFlag(c, f, 'start-interval'),
    retries,
  };
}

/** HEALTHCHECK --retries: a 32-bit integer as Go's strconv.ParseInt reads it, not negative. */
function retriesFlag(c: InstructionContext, f: ReadonlyMap<string, FlagValue>): number {
  const flag = f.get('retries');
  if (flag?.value === undefined || flag.value === '') return 0;
  const text = flag.value;
  const parsed = /^[+-]?\d+$/.test(text) ? Number(text) : Number.NaN;
  if (Number.isNaN(parsed) || parsed > 2147483647 || parsed < -2147483648) {
    throw c.fail(
      `strconv.ParseInt: parsing ${JSON.stringify(text)}: ${Number.isNaN(parsed) ? 'invalid syntax' : 'value out of range'}`,
      flag.offset,
    );
  }
  if (parsed < 0) throw c.fail(`--retries cannot be negative (${parsed})`, flag.offset);
  return parsed;
}

/** A HEALTHCHECK duration flag in nanoseconds (0 when absent), at least 1ms when set. */
function durationFlag(c: InstructionContext, f: ReadonlyMap<string, FlagValue>, name: string): number {
  const flag = f.get(name);
  if (flag?.value === undefined || flag.value === '') return 0;
  const text = flag.value;
  const value = c.wrap(flag.offset, () => parseGoDuration(text));
  if (value !== 0 && value < 1e6)
    throw c.fail(`Interval ${JSON.stringify(name)} cannot be less than 1ms`, flag.offset);
  return value;
}
