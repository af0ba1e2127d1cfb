import { readFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { type Command, CommanderError } from 'commander';
import { type LintFinding, type LintResult, lintDockerfile, toSarif } from '../analyze/index.ts';
import {
  formatErrorChain,
  InternalError,
  InvalidInputError,
  NotFoundError,
  StrataError,
} from '../util/index.ts';
import { collect } from './cli-context.ts';
import { parseBuildArgs } from './stages.ts';

/** The options `strata lint` accepts. */
interface LintCommandOptions {
  format: string;
  context?: string;
  target?: string;
  buildArg: string[];
  failOn: string;
}

/**
 * `strata lint`'s exit statuses, as ShellCheck and ESLint have them (hadolint exits 1 for both
 * findings and failures, which CI cannot tell apart): 0 no finding at or above `--fail-on`,
 * 1 findings, 2 the Dockerfile could not be linted (unreadable, a syntax error, an invalid
 * option or build argument). A bug in strata stays 70.
 */
export const LINT_EXIT = { clean: 0, findings: 1, failed: 2 } as const;

/** Thrown when findings at or above `--fail-on` exist (exit status 1). */
export class LintFailedError extends StrataError {
  constructor(file: string, count: number) {
    super(
      'LINT_FINDINGS',
      `${file}: ${count} finding${count === 1 ? '' : 's'} at or above the --fail-on level`,
    );
  }
}

const LEVELS = ['info', 'warning', 'error', 'none'] as const;

/**
 * The human form: `Dockerfile:3:1 warning [apt-lists-left] message (hadolint DL3009)` — the
 * hadolint or BuildKit id where the rule has one — and the fix below.
 */
export function formatFindings(findings: readonly LintFinding[]): string {
  if (findings.length === 0) return 'no findings\n';
  return `${findings
    .map(
      (f) =>
        `${f.file}:${f.line}:${f.column} ${f.severity} [${f.ruleId}] ${f.message}${f.alias ? ` (${f.alias})` : ''}\n    fix: ${f.fix}`,
    )
    .join('\n')}\n`;
}

/**
 * `strata lint [DOCKERFILE]`: size and multi-stage advice with file:line, rule id and fix, as
 * text, JSON or SARIF 2.1.0. Exits 1 when a finding reaches `--fail-on` (default: warning), 2 when
 * the Dockerfile cannot be linted ({@link LINT_EXIT}).
 */
export function registerLintCommand(program: Command): void {
  program
    .command('lint')
    .description('check a Dockerfile for image-size and multi-stage problems (rules: docs/lint.md)')
    .argument('[dockerfile]', 'the Dockerfile', 'Dockerfile')
    .option('--format <format>', 'human, json or sarif', 'human')
    .option(
      '--context <dir>',
      "the build context (default: the Dockerfile's directory), for the .dockerignore rule",
    )
    .option('--target <stage>', 'the stage that would be built (default: the last)')
    .option('--build-arg <key=value>', 'a build argument (repeatable)', collect, [])
    .option(
      '--fail-on <level>',
      'exit 1 when a finding is at least this severe: info, warning, error or none (exit 2: could not lint)',
      'warning',
    )
    .exitOverride((error) => {
      // A usage error (unknown option, missing value) means nothing was linted: 2, not 1.
      throw error.exitCode === 1 ? new CommanderError(LINT_EXIT.failed, error.code, error.message) : error;
    })
    .action(async (dockerfile: string, options: LintCommandOptions) => {
      let linted: { file: string; result: LintResult; failOn: (typeof LEVELS)[number] };
      try {
        linted = await lint(dockerfile, options);
      } catch (error) {
        if (!(error instanceof StrataError) || error instanceof InternalError) throw error;
        // The one place lint turns an error into text itself: the CLI boundary (run-cli.ts) gives
        // every user error exit status 1, which lint keeps for findings.
        process.stderr.write(`error: ${formatErrorChain(error)}\n`);
        process.exitCode = LINT_EXIT.failed;
        return;
      }
      const { file, result, failOn } = linted;
      if (options.format === 'json')
        process.stdout.write(
          `${JSON.stringify({ file, target: result.target, targets: result.targets, findings: result.findings }, null, 2)}\n`,
        );
      else if (options.format === 'sarif')
        process.stdout.write(`${JSON.stringify(toSarif(result.findings, result.rules), null, 2)}\n`);
      else {
        process.stdout.write(formatFindings(result.findings));
        if (result.targets.length > 0 && options.target === undefined)
          process.stderr.write(
            `note: ${file} has several targets (${result.targets.join(', ')}); size rules checked ${result.target}, the last stage. Check another with --target NAME.\n`,
          );
      }
      const rank = (s: string) => LEVELS.indexOf(s as (typeof LEVELS)[number]);
      const failing = result.findings.filter((f) => failOn !== 'none' && rank(f.severity) >= rank(failOn));
      if (failing.length > 0) throw new LintFailedError(file, failing.length);
    });
}

/** Reads and lints the Dockerfile as the options say; throws a StrataError when it cannot. */
async function lint(dockerfile: string, options: LintCommandOptions) {
  if (!['human', 'json', 'sarif'].includes(options.format))
    throw new InvalidInputError(`--format ${options.format} is not one of human, json, sarif`);
  const failOn = options.failOn as (typeof LEVELS)[number];
  if (!LEVELS.includes(failOn))
    throw new InvalidInputError(`--fail-on ${options.failOn} is not one of ${LEVELS.join(', ')}`);
  let text: string;
  try {
    text = await readFile(dockerfile, 'utf8');
  } catch (error) {
    throw new NotFoundError(`cannot read Dockerfile ${dockerfile}`, { cause: error });
  }
  const contextDir = resolve(options.context ?? dirname(dockerfile));
  // Findings name the file relative to the working directory (SARIF wants repository-relative
  // paths), unless it lies outside it.
  const fromCwd = relative(process.cwd(), resolve(dockerfile));
  const file = fromCwd && !fromCwd.startsWith('..') ? fromCwd : dockerfile;
  const result = await lintDockerfile(text, {
    file,
    dockerfilePath: resolve(dockerfile),
    contextDir,
    ...(options.target ? { target: options.target } : {}),
    ...(options.buildArg.length > 0 ? { buildArgs: parseBuildArgs(options.buildArg) } : {}),
  });
  return { file, result, failOn };
}
