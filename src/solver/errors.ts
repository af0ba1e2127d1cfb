import { type SourceLocation, StrataError } from '../util/index.ts';

/** A RUN step's process exited non-zero. */
export class RunFailedError extends StrataError {
  readonly exitCode: number;
  readonly command: string;
  /** The last lines the process printed, for the error display. */
  readonly lastOutput: readonly string[];

  constructor(options: {
    exitCode: number;
    command: string;
    lastOutput: readonly string[];
    location?: SourceLocation;
  }) {
    // The location is printed in front by formatErrorChain (`Dockerfile:12: … RUN failed …`).
    super('RUN_FAILED', `RUN failed with exit code ${options.exitCode}: ${options.command}`, {
      ...(options.location ? { location: options.location } : {}),
    });
    this.exitCode = options.exitCode;
    this.command = options.command;
    this.lastOutput = options.lastOutput;
  }
}

/**
 * An error inside one step, with the stage and step it happened in:
 * `building stage "builder": step 4/9 COPY app /app: <cause>`.
 */
export class BuildStepError extends StrataError {
  readonly stage: string;
  readonly step: string;
  constructor(options: { stage: string; step: string; cause: unknown; location?: SourceLocation }) {
    super('BUILD_STEP_FAILED', `building stage "${options.stage}": step ${options.step}`, {
      cause: options.cause,
      ...(options.location ? { location: options.location } : {}),
    });
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
