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
  warnings.push(...instructionCasingWarnings(file, stageNodes));
  const syntax = read.directives.find((d) => d.name === 'syntax');
  if (syntax !== undefined) {
    const warning = syntaxWarning(file, syntax);
    if (warning !== undefined) warnings.unshift(warning);
  }
  const checks = readChecks(file, read.directives);
  return {
    file,
    directives: read.directives,
    escapeToken: read.escapeToken,
    instructions,
    globalArgs,
    stages: stageNodes,
    checks,
    warnings: applyCheckSkip(warnings, checks, instructions),
  };
}

/**
 * ConsistentInstructionCasing, as BuildKit's validateCommandCasing: the keywords of every stage
 * (FROM included, global ARGs not) that are all lower or all upper case vote; a keyword that does
 * not match the majority's casing (upper case on a tie) is reported, mixed case always.
 */
function instructionCasingWarnings(file: string, stages: readonly StageNode[]): DockerfileWarning[] {
  const all = stages.flatMap((s) => [s.from, ...s.instructions]);
  let lower = 0;
  let upper = 0;
  for (const i of all) {
    if (i.keyword === i.keyword.toLowerCase()) lower++;
    else if (i.keyword === i.keyword.toUpperCase()) upper++;
  }
  const majorityLower = lower > upper;
  const out: DockerfileWarning[] = [];
  for (const i of all) {
    const wrong = majorityLower
      ? i.keyword !== i.keyword.toLowerCase()
      : i.keyword !== i.keyword.toUpperCase();
    if (!wrong) continue;
    out.push({
      rule: 'ConsistentInstructionCasing',
      message: `Command '${i.keyword}' should match the case of the command majority (${majorityLower ? 'lowercase' : 'uppercase'})`,
      file,
      range: i.range,
    });
  }
  return out;
}

/** The Dockerfile syntax strata's frontend implements (BuildKit's docker/dockerfile:1.17). */
export const DOCKERFILE_SYNTAX_VERSION = '1.17';

const DOCKERFILE_FRONTEND =
  /^(?:(?:index\.)?docker\.io\/)?docker\/dockerfile(?:-upstream)?(?::([^@]+))?(?:@sha256:[0-9a-f]{64})?$/;

/**
 * A warning when `# syntax=` names a frontend strata does not implement: BuildKit would pull and
 * run that image as the frontend, strata always uses its own. `docker/dockerfile` (or
 * `-upstream`) untagged, `:latest`, `:1`, or `:1.N[.M]` up to {@link DOCKERFILE_SYNTAX_VERSION}
 * is what strata implements; labs tags, newer versions and other images are not.
 */
function syntaxWarning(file: string, directive: Directive): DockerfileWarning | undefined {
  const value = directive.value.trim();
  const m = DOCKERFILE_FRONTEND.exec(value);
  if (m !== null) {
    const tag = m[1];
    if (tag === undefined || tag === 'latest' || tag === '1') return undefined;
    const version = /^1\.(\d+)(?:\.\d+)?$/.exec(tag);
    const implemented = Number(DOCKERFILE_SYNTAX_VERSION.split('.')[1]);
    if (version !== null && Number(version[1]) <= implemented) return undefined;
  }
  return {
    rule: 'SyntaxDirective',
    message: `the syntax directive names frontend ${JSON.stringify(value)}, which is not run: strata builds with its own Dockerfile frontend (docker/dockerfile:${DOCKERFILE_SYNTAX_VERSION} syntax)`,
    file,
    range: { line: directive.line, column: 1, endLine: directive.line, endColumn: 1 },
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
