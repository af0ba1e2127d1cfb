/**
 * A place in a source file (Dockerfile, .dockerignore…), 1-based line and column.
 */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column?: number;
  readonly endLine?: number;
}

/** Options every {@link StrataError} accepts. */
export interface StrataErrorOptions {
  readonly cause?: unknown;
  /** What the user can do about it; printed after the message. */
  readonly hint?: string | undefined;
  /** Where in the user's input the problem is. */
  readonly location?: SourceLocation | undefined;
}

/**
 * The base of every error strata raises on purpose. `code` is stable (tests and tools match on it),
 * the message is lowercase and context-first, and the CLI joins the cause chain with ": ".
 */
export class StrataError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly location: SourceLocation | undefined;

  constructor(code: string, message: string, options: StrataErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.location = options.location;
  }
}

/** A bug in strata: an invariant broke. The CLI prints it with `--debug` advice. */
export class InternalError extends StrataError {
  constructor(message: string, options: StrataErrorOptions = {}) {
    super('INTERNAL', message, options);
  }
}

/** Something the user named does not exist (an image, a blob, a file, a stage). */
export class NotFoundError extends StrataError {
  constructor(message: string, options: StrataErrorOptions = {}) {
    super('NOT_FOUND', message, options);
  }
}

/** Input that fails validation (a manifest, a flag value, a reference). */
export class InvalidInputError extends StrataError {
  constructor(message: string, options: StrataErrorOptions = {}) {
    super('INVALID_INPUT', message, options);
  }
}

/** An operation was cancelled through its AbortSignal. */
export class AbortedError extends StrataError {
  constructor(message = 'operation aborted', options: StrataErrorOptions = {}) {
    super('ABORTED', message, options);
  }
}

/** `file:line:col` for a location, the way compilers print it. */
export function formatLocation(location: SourceLocation): string {
  return location.column === undefined
    ? `${location.file}:${location.line}`
    : `${location.file}:${location.line}:${location.column}`;
}

/**
 * One line for an error and its causes: `building stage "x": step 4/9 RUN …: exited with code 2`.
 * A location on any error in the chain is printed first; a hint from any error comes last.
 */
export function formatErrorChain(error: unknown): string {
  const parts: string[] = [];
  let location: SourceLocation | undefined;
  const hints: string[] = [];
  let current: unknown = error;
  const seen = new Set<unknown>();
  while (current !== undefined && current !== null && !seen.has(current)) {
    seen.add(current);
    if (current instanceof Error) {
      const message = current.message;
      if (message && !parts.some((p) => p.endsWith(message))) parts.push(message);
      if (current instanceof StrataError) {
        location ??= current.location;
        if (current.hint) hints.push(current.hint);
      }
      current = (current as Error & { cause?: unknown }).cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  let text = parts.join(': ');
  if (location) text = `${formatLocation(location)}: ${text}`;
  if (hints.length > 0) text += ` (${hints.join('; ')})`;
  return text;
}

/** Node's system errors carry a `code` like ENOENT; this narrows to them. */
export function isErrnoException(error: unknown, code?: string): error is NodeJS.ErrnoException {
  return (
    error instanceof Error &&
    typeof (error as NodeJS.ErrnoException).code === 'string' &&
    (code === undefined || (error as NodeJS.ErrnoException).code === code)
  );
}
