import { type SourceLocation, StrataError } from '../util/index.ts';

/**
 * The most characters of a command or an output line a build error quotes: a RUN line can be
 * megabytes long (a generated script), and an error that repeated it would bury what went wrong.
 */
export const ERROR_EXCERPT_CHARS = 200;

/**
 * `text` cut to {@link ERROR_EXCERPT_CHARS}, saying so and how long it was:
 * `abc… (9000 characters, cut to the first 200)`. `length` is the whole text's length when only
 * its start was kept.
 */
export function excerpt(text: string, length = text.length): string {
  if (length <= ERROR_EXCERPT_CHARS) return text;
  return `${text.slice(0, ERROR_EXCERPT_CHARS - 1)}… (${length} characters, cut to the first ${ERROR_EXCERPT_CHARS})`;
}

/** A RUN step's process exited non-zero. */
export class RunFailedError extends StrataError {
  readonly exitCode: number;
  readonly command: string;
  /** The last lines the process printed (each an {@link excerpt}), for the error display. */
  readonly lastOutput: readonly string[];

  constructor(options: {
    exitCode: number;
    command: string;
    lastOutput: readonly string[];
    location?: SourceLocation;
  }) {
    // The location is printed in front by formatErrorChain (`Dockerfile:12: … RUN failed …`).
    super('RUN_FAILED', `RUN failed with exit code ${options.exitCode}: ${excerpt(options.command)}`, {
      ...(options.location ? { location: options.location } : {}),
    });
    this.exitCode = options.exitCode;
    this.command = options.command;
    this.lastOutput = options.lastOutput;
  }
}

/**
 * An error inside one step, with the stage and step it happened in:
 * `building stage "builder": step 4/9 COPY app /app: <cause>` (the step as an {@link excerpt}).
 */
export class BuildStepError extends StrataError {
  readonly stage: string;
  readonly step: string;
  constructor(options: {
    stage: string;
    step: string;
    cause: unknown;
    location?: SourceLocation;
    /** In a multi-platform build, the step's platform label (`linux/amd64->arm64`). */
    platform?: string;
  }) {
    const platform = options.platform ? ` (${options.platform})` : '';
    super(
      'BUILD_STEP_FAILED',
      `building stage "${options.stage}"${platform}: step ${excerpt(options.step)}`,
      {
        cause: options.cause,
        ...(options.location ? { location: options.location } : {}),
      },
    );
    this.stage = options.stage;
    this.step = options.step;
  }
}

/** A COPY/ADD problem the user can fix (missing source, bad destination, bad --chown). */
export class CopyError extends StrataError {
  constructor(message: string, options: { cause?: unknown; hint?: string } = {}) {
    super('COPY_FAILED', message, options);
  }
}

/** Codes of causes that mean "no such image here, or not for you": worth checking the name or logging in. */
const IMAGE_ABSENT_CODES = new Set([
  'NOT_FOUND',
  'REGISTRY_NOT_FOUND',
  'REGISTRY_UNAUTHORIZED',
  'REGISTRY_DENIED',
]);

/** True when `error` or one of its causes says the image is absent or refused to us. */
function imageAbsent(error: unknown): boolean {
  const seen = new Set<unknown>();
  for (let current = error; current instanceof Error && !seen.has(current); current = current.cause) {
    seen.add(current);
    if (current instanceof StrataError && IMAGE_ABSENT_CODES.has(current.code)) return true;
  }
  return false;
}

/**
 * A stage's base image (`FROM <image>`) could not be resolved, located at its FROM line:
 * `Dockerfile:4: FROM registry/app:1: fetching manifest …: 404 …`. When the registry says the
 * image is absent or refuses us, the hint says to check the name and tag, or to log in.
 */
export class BaseImageError extends StrataError {
  constructor(options: {
    /** The FROM instruction, with the reference as resolved (`FROM registry/app:1`). */
    instruction: string;
    /** The registry host the reference names, for the login hint. */
    registry: string;
    cause: unknown;
    location: SourceLocation;
  }) {
    super('BASE_IMAGE_UNAVAILABLE', options.instruction, {
      cause: options.cause,
      location: options.location,
      ...(imageAbsent(options.cause)
        ? {
            hint: `check the image name and tag, or log in with strata login ${options.registry}`,
          }
        : {}),
    });
  }
}
