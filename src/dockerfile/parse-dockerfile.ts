import { extractBuilderFlags } from './builder-flags.ts';
import { applyCheckSkip, type CheckOptions, DEFAULT_CHECKS, parseCheckDirective } from './check-directive.ts';
import { DockerfileError } from './dockerfile-error.ts';
import type {
  ArgInstruction,
  Directive,
  Dockerfile,
  DockerfileWarning,
  FromInstruction,
  Instruction,
  StageNode,
} from './instructions.ts';
import { readLogicalLines } from './logical-lines.ts';
import { parseInstruction } from './parse-instruction.ts';
import { splitKeyword } from './split-keyword.ts';

/** Options of {@link parseDockerfile}. */
export interface ParseDockerfileOptions {
  /** The name errors and warnings use (`Dockerfile` when omitted). */
  readonly file?: string;
}

const HEREDOC_KINDS = new Set(['run', 'copy', 'add']);

/**
 * Parses a Dockerfile into typed instructions grouped by stage, with BuildKit's syntax:
 * directives at the top, line continuations (comment and blank lines inside them skipped),
 * case-insensitive keywords, JSON or shell form, heredocs, and every instruction's flags. Pure:
 * no I/O, no variable expansion (that needs the build arguments; see `src/plan`).
 *
 * @throws DockerfileError with the file, line and column of the problem.
 */
export function parseDockerfile(source: string, options: ParseDockerfileOptions = {}): Dockerfile {
  const file = options.file ?? 'Dockerfile';
  const read = readLogicalLines(source, { file, canContainHeredoc });
  const warnings: DockerfileWarning[] = [];
  const instructions: Instruction[] = [];
  const globalArgs: ArgInstruction[] = [];
  const stages: { from: FromInstruction; instructions: Instruction[] }[] = [];
  const shellSet = new Map<string, boolean>();
  let stageHasShell = false;
  for (const line of read.lines) {
    if (line.hadEmptyContinuation) {
      warnings.push({
        rule: 'NoEmptyContinuation',
        message: 'Empty continuation line',
        file,
        range: line.range,
      });
    }
    const instruction = parseInstruction({
      file,
      text: line.text,
      range: line.range,
      comments: line.comments,
      heredocs: line.heredocs,
      escapeToken: read.escapeToken,
      positions: line.positions,
      warnings,
    });
    instructions.push(instruction);
    if (instruction.kind === 'from') {
      stages.push({ from: instruction, instructions: [] });
      // A stage built on an earlier stage inherits its SHELL (approximating BuildKit, which
      // looks at the base image config; the shell of an external image is unknown here).
      stageHasShell = shellSet.get(instruction.image.toLowerCase()) ?? false;
      if (instruction.name !== undefined) shellSet.set(instruction.name, stageHasShell);
      continue;
    }
    const current = stages[stages.length - 1];
    if (current === undefined) {
      if (instruction.kind === 'arg') {
        globalArgs.push(instruction);
        continue;
      }
      throw new DockerfileError('no build stage in current context', {
        file,
        range: instruction.range,
        instruction: instruction.keyword,
        hint: 'only ARG may come before the first FROM',
      });
    }
    current.instructions.push(instruction);
    if (instruction.kind === 'shell') {
      stageHasShell = true;
      if (current.from.name !== undefined) shellSet.set(current.from.name, true);
    }
    if (!stageHasShell && isShellFormCommand(instruction)) {
      warnings.push({
        rule: 'JSONArgsRecommended',
        message: `JSON arguments recommended for ${instruction.keyword.toUpperCase()} to prevent unintended behavior related to OS signals`,
        file,
        range: instruction.range,
      });
    }
  }
  if (stages.length === 0) {
    const last = read.lines[read.lines.length - 1]!;
    throw new DockerfileError('dockerfile contains no stages to build', {
      file,
      range: last.range,
      hint: 'add a FROM instruction',
    });
  }
  const stageNodes: StageNode[] = stages;
  const checks = readChecks(file, read.directives);
  return {
    file,
    directives: read.directives,
    escapeToken: read.escapeToken,
    instructions,
    globalArgs,
    stages: stageNodes,
    checks,
    warnings: applyCheckSkip(warnings, checks),
  };
}

/** CMD or ENTRYPOINT in shell form (JSONArgsRecommended, unless the stage set a SHELL). */
function isShellFormCommand(instruction: Instruction): boolean {
  return (
    (instruction.kind === 'cmd' || instruction.kind === 'entrypoint') && instruction.command.form === 'shell'
  );
}

/** The `# check=` directive's settings (the defaults without one), errors placed at its line. */
function readChecks(file: string, directives: readonly Directive[]): CheckOptions {
  const directive = directives.find((d) => d.name === 'check');
  if (directive === undefined) return DEFAULT_CHECKS;
  try {
    return parseCheckDirective(directive.value);
  } catch (error) {
    if (!(error instanceof DockerfileError)) throw error;
    throw error.placed({
      file,
      range: { line: directive.line, column: 1, endLine: directive.line, endColumn: 1 },
    });
  }
}

/** Heredocs are read for RUN, COPY and ADD (directly or under ONBUILD) unless in JSON form. */
function canContainHeredoc(text: string, escapeToken: '\\' | '`'): boolean {
  let { keyword, rest } = splitKeyword(text);
  if (keyword.toLowerCase() === 'onbuild') ({ keyword, rest } = splitKeyword(rest));
  if (!HEREDOC_KINDS.has(keyword.toLowerCase())) return false;
  const args = extractBuilderFlags(rest, { escapeToken }).rest;
  if (!args.startsWith('[')) return true;
  try {
    const value: unknown = JSON.parse(args);
    return !(Array.isArray(value) && value.every((v) => typeof v === 'string'));
  } catch {
    // Not JSON, so shell form, where heredocs are allowed.
    return true;
  }
}
