import { StrataError, type StrataErrorOptions } from '../util/index.ts';

/** A `.dockerignore` (or `--exclude`) pattern that Docker would refuse; carries file:line. */
export class InvalidIgnorePatternError extends StrataError {
  /** The offending pattern as written. */
  readonly pattern: string;
  constructor(pattern: string, reason: string, options: StrataErrorOptions = {}) {
    super('INVALID_IGNORE_PATTERN', `invalid pattern ${JSON.stringify(pattern)}: ${reason}`, options);
    this.pattern = pattern;
  }
}

/** A COPY/ADD source that names nothing in the build context. */
export class SourceNotFoundError extends StrataError {
  /** The source as written in the instruction. */
  readonly source: string;
  constructor(source: string, message: string, options: StrataErrorOptions = {}) {
    super('SOURCE_NOT_FOUND', message, options);
    this.source = source;
  }
}
