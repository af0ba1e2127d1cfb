import {
  DockerfileError,
  type DockerfileWarning,
  type ShellLexer,
  type SourceRange,
} from '../dockerfile/index.ts';

/** What {@link PlanContext.fail} adds to an error besides its message and range. */
export interface PlanFailure {
  readonly hint?: string | undefined;
  readonly instruction?: string | undefined;
  readonly cause?: unknown;
}

/**
 * What every planning pass shares: the Dockerfile's name for messages, the lexer with its escape
 * token, the `--build-arg` values, and the warnings collected so far (in the order BuildKit would
 * report them). Passed to each pass instead of closures over planBuild's locals.
 */
export class PlanContext {
  readonly file: string;
  readonly lexer: ShellLexer;
  readonly buildArgs: ReadonlyMap<string, string>;
  readonly warnings: DockerfileWarning[];

  constructor(options: {
    file: string;
    lexer: ShellLexer;
    buildArgs: ReadonlyMap<string, string>;
    warnings: DockerfileWarning[];
  }) {
    this.file = options.file;
    this.lexer = options.lexer;
    this.buildArgs = options.buildArgs;
    this.warnings = options.warnings;
  }

  /** A {@link DockerfileError} located at `range` in the Dockerfile. */
  fail(message: string, range: SourceRange, extra: PlanFailure = {}): DockerfileError {
    return new DockerfileError(message, { file: this.file, range, ...extra });
  }

  /** Runs `fn`, placing a location-less DockerfileError it throws at `instruction`. */
  placed<T>(instruction: { range: SourceRange; keyword: string }, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (error instanceof DockerfileError)
        throw error.placed({ file: this.file, range: instruction.range, instruction: instruction.keyword });
      throw error;
    }
  }

  /** Adds a warning of `rule`, located at `range` when there is one. */
  warn(rule: string, message: string, range?: SourceRange): void {
    this.warnings.push(
      range === undefined ? { rule, message, file: this.file } : { rule, message, file: this.file, range },
    );
  }
}
