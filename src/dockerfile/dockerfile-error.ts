import { formatErrorChain, StrataError } from '../util/index.ts';
import type { SourceRange } from './source-range.ts';

/** Options of a {@link DockerfileError}. */
export interface DockerfileErrorOptions {
  /** The Dockerfile's name as the user knows it (`Dockerfile`, `build/Dockerfile.prod`). */
  readonly file?: string | undefined;
  /** Where the problem is; without it the error is about the file as a whole. */
  readonly range?: SourceRange | undefined;
  /** The instruction keyword (`COPY`), when the problem sits inside one. */
  readonly instruction?: string | undefined;
  readonly hint?: string | undefined;
  readonly cause?: unknown;
}

/**
 * A Dockerfile that strata cannot parse or plan. The message says what is wrong; the location
 * (file, line, column) says where, and `formatDockerfileError` prints the two the way a compiler
 * does: `Dockerfile:12:5: unknown flag: --chmd (did you mean --chmod?)`.
 */
export class DockerfileError extends StrataError {
  /** The instruction keyword, upper-cased, when the error sits inside one. */
  readonly instruction: string | undefined;
  /** The full range of the offending node, when known. */
  readonly range: SourceRange | undefined;

  constructor(message: string, options: DockerfileErrorOptions = {}) {
    const range = options.range;
    super('DOCKERFILE_INVALID', message, {
      cause: options.cause,
      hint: options.hint,
      location:
        range === undefined
          ? undefined
          : {
              file: options.file ?? 'Dockerfile',
              line: range.line,
              column: range.column,
              endLine: range.endLine,
            },
    });
    this.instruction = options.instruction?.toUpperCase();
    this.range = range;
  }

  /** The same error, placed at `range` unless it already has a place. */
  placed(options: { file: string; range: SourceRange; instruction?: string }): DockerfileError {
    if (this.range !== undefined) return this;
    return new DockerfileError(this.message, {
      file: options.file,
      range: options.range,
      instruction: this.instruction ?? options.instruction,
      hint: this.hint,
      cause: this.cause,
    });
  }
}

/** `Dockerfile:12:5: <what> (<hint>)`: one line for a Dockerfile error. */
export function formatDockerfileError(error: DockerfileError): string {
  return formatErrorChain(error);
}
