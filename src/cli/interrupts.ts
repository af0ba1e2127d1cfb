import { constants } from 'node:os';
import { StrataError } from '../util/index.ts';

/** The signals a long command stops on, as docker does: Ctrl-C, and `kill`/`docker stop`'s. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** One of {@link STOP_SIGNALS}. */
export type StopSignal = (typeof STOP_SIGNALS)[number];

/**
 * The command was stopped by SIGINT or SIGTERM. It is the reason of the abort signal handed to
 * the command, and the CLI reports it with exit status 128 + the signal's number (130, 143), as a
 * shell reports a process the signal killed.
 */
export class InterruptedError extends StrataError {
  readonly signal: StopSignal;
  readonly exitCode: number;
  constructor(signal: StopSignal) {
    super('INTERRUPTED', `interrupted by ${signal}`);
    this.signal = signal;
    this.exitCode = 128 + constants.signals[signal];
  }
}

let controller: AbortController | undefined;

/**
 * An AbortSignal that SIGINT or SIGTERM aborts (with an {@link InterruptedError}), for a command
 * that must clean up when stopped — kill the running step's container, unmount, release its
 * lease, remove half-written files — rather than die where it stands, as Node does by default.
 * The first call installs the handlers for the rest of the process. A second signal, while the
 * command is still cleaning up, exits at once with the status of the first.
 */
export function interruptSignal(): AbortSignal {
  if (controller) return controller.signal;
  const installed = new AbortController();
  controller = installed;
  for (const name of STOP_SIGNALS) {
    process.on(name, () => {
      if (!installed.signal.aborted) {
        installed.abort(new InterruptedError(name));
        return;
      }
      const first = installed.signal.reason as InterruptedError;
      process.stderr.write(`strata: ${name} again: exiting without cleaning up\n`);
      process.exit(first.exitCode);
    });
  }
  return installed.signal;
}

/** The interruption that stopped the command, if SIGINT or SIGTERM arrived. */
export function interruption(): InterruptedError | undefined {
  return controller?.signal.aborted ? (controller.signal.reason as InterruptedError) : undefined;
}
