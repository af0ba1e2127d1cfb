import { chompHeredoc, parseHeredocWord } from '../dockerfile/index.ts';
import type { RunStep, Step } from './build-graph.ts';

/** The shell BuildKit prepends to shell-form commands when the image sets no SHELL. */
export const DEFAULT_SHELL: readonly string[] = ['/bin/sh', '-c'];

/** What a RUN step executes once its heredocs are applied. */
export interface RunInvocation {
  /** The process arguments (shell included for shell form). */
  readonly args: readonly string[];
  /**
   * A heredoc that starts with `#!` is written to this file (mode 0755) and executed instead of
   * being fed to the shell; BuildKit mounts it read-only under /dev/pipes/.
   */
  readonly script?: { readonly path: string; readonly content: string };
}

/**
 * The arguments a RUN step runs, as BuildKit's dispatchRun builds them: exec form as is; shell
 * form through `shell`; a lone heredoc (`RUN <<EOF`) becomes the shell script itself (or, with a
 * `#!` line, a script file); other heredocs are appended to the command for the shell to read.
 */
export function runInvocation(
  step: RunStep,
  shell: readonly string[] = step.activeShell ?? DEFAULT_SHELL,
): RunInvocation {
  if (step.command.form === 'exec') return { args: step.command.args };
  let text = step.command.text;
  let script: RunInvocation['script'];
  if (step.heredocs.length > 0) {
    const first = step.heredocs[0]!;
    if (parseHeredocWord(text) !== undefined) {
      const data = first.chomp ? chompHeredoc(first.content) : first.content;
      if (data.startsWith('#!')) {
        const path = `/dev/pipes/${first.name}`;
        script = { path, content: data };
        text = path;
      } else {
        text = data;
      }
    } else {
      for (const heredoc of step.heredocs) text += `\n${heredoc.content}${heredoc.name}`;
    }
  }
  const args = [...shell, text];
  return script === undefined ? { args } : { args, script };
}

/** What {@link historyCreatedBy} needs to know that only the solver learns. */
export interface HistoryContext {
  /** The SHELL in force; defaults to `step.activeShell`, then `/bin/sh -c` (pass the base image's SHELL when the step has none). */
  readonly shell?: readonly string[];
  /** The absolute working directory after a WORKDIR step (relative paths are the solver's to resolve). */
  readonly workdir?: string;
  /** For RUN: the value each build ARG has in the step's environment (including the base image's). */
  readonly env?: ReadonlyMap<string, string>;
}

/**
 * The `created_by` text BuildKit writes into the image history for a step (dockerfile2llb/convert.go
 * `commitToHistory` callers), or undefined for steps without a history entry (ONBUILD). Steps that
 * produce a layer end in ` # buildkit`, as BuildKit's do.
 */
export function historyCreatedBy(step: Step, context: HistoryContext = {}): string | undefined {
  const shell = context.shell ?? step.activeShell ?? DEFAULT_SHELL;
  switch (step.kind) {
    case 'run': {
      const { args } = runInvocation(step, shell);
      const seen = new Map<string, number>();
      const pairs: string[] = [];
      for (const arg of step.buildArgs) {
        const value =
          context.env?.get(arg.name) ?? step.env.find((v) => v.name === arg.name)?.value ?? arg.value ?? '';
        const at = seen.get(arg.name);
        if (at === undefined) {
          seen.set(arg.name, pairs.length);
          pairs.push(`${arg.name}=${value}`);
        } else {
          pairs[at] = `${arg.name}=${value}`;
        }
      }
      const prefix = pairs.length > 0 ? [`|${pairs.length}`, ...pairs] : [];
      return `RUN ${[...prefix, ...args].join(' ')} # buildkit`;
    }
    case 'copy':
    case 'add': {
      const parts = [step.kind === 'copy' ? 'COPY' : 'ADD'];
      if (step.kind === 'copy' && step.parents) parts.push('--parents');
      if (step.chown !== undefined && step.chown !== '') parts.push(`--chown=${step.chown}`);
      if (step.chmod !== undefined && step.chmod !== '') parts.push(`--chmod=${step.chmod}`);
      parts.push(...step.sources, ...step.inline.map((s) => `<<${s.name}`), step.dest);
      return `${parts.join(' ')} # buildkit`;
    }
    case 'workdir':
      return `WORKDIR ${context.workdir ?? step.path}`;
    case 'env':
      return ['ENV', ...step.pairs.map((p) => `${p.name}=${p.value}`)].join(' ');
    case 'label':
      return ['LABEL', ...step.pairs.map((p) => `${p.name}=${p.value}`)].join(' ');
    case 'arg':
      return `ARG ${step.args.map((a) => (a.value === undefined ? a.name : `${a.name}=${a.value}`)).join(' ')}`;
    case 'user':
      return `USER ${step.user}`;
    case 'expose':
      return `EXPOSE [${step.ports.join(' ')}]`;
    case 'volume':
      return `VOLUME [${step.volumes.join(' ')}]`;
    case 'stopsignal':
      return `STOPSIGNAL ${step.signal}`;
    case 'shell':
      return `SHELL [${step.shell.join(' ')}]`;
    case 'maintainer':
      return `MAINTAINER ${step.maintainer}`;
    case 'cmd':
    case 'entrypoint': {
      const args = step.command.form === 'exec' ? step.command.args : [...shell, step.command.text];
      return `${step.kind.toUpperCase()} [${args.map(goQuote).join(' ')}]`;
    }
    case 'healthcheck': {
      const test =
        step.test.type === 'none'
          ? ['NONE']
          : step.test.command.form === 'exec'
            ? ['CMD', ...step.test.command.args]
            : ['CMD-SHELL', step.test.command.text];
      return (
        `HEALTHCHECK {Test:[${test.join(' ')}] Interval:${goDuration(step.intervalNs)} Timeout:${goDuration(step.timeoutNs)} ` +
        `StartPeriod:${goDuration(step.startPeriodNs)} StartInterval:${goDuration(step.startIntervalNs)} Retries:${step.retries}}`
      );
    }
    case 'onbuild':
      return undefined;
  }
}

/** Go's `strconv.Quote` for the characters that occur in commands. */
export function goQuote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Go's `time.Duration.String()` for a nanosecond count: `0s`, `1.5s`, `1m30s`, `300ms`. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  let n = Math.abs(ns);
  if (n < 1e9) {
    const [unit, scale] = n < 1e3 ? ['ns', 1] : n < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    return `${sign}${trimFraction(n / (scale as number))}${unit}`;
  }
  const hours = Math.floor(n / 3600e9);
  n -= hours * 3600e9;
  const minutes = Math.floor(n / 60e9);
  n -= minutes * 60e9;
  const seconds = `${trimFraction(n / 1e9)}s`;
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}`;
  return `${sign}${seconds}`;
}

function trimFraction(value: number): string {
  return Number(value.toFixed(9)).toString();
}
