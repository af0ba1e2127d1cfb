/**
 * cli — argv → API. One file per command; `runCli` is the single boundary where errors become
 * text and exit codes. Commands are registered in commands.ts.
 */
import { Command, CommanderError } from 'commander';
import { adoptDeferredCaCerts, formatErrorChain, InternalError, StrataError } from '../util/index.ts';
import { registerCommands } from './commands.ts';
import { interruption } from './interrupts.ts';
import { STRATA_VERSION } from './version.ts';

/** Runs the CLI with `argv` (without node and script) and resolves with the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  adoptDeferredCaCerts();
  const program = new Command('strata')
    .description('a daemonless container image builder that shows where the bytes go')
    .version(STRATA_VERSION, '--version')
    .option(
      '--root <dir>',
      'state directory (default: /var/lib/strata for root, $XDG_DATA_HOME/strata otherwise; env STRATA_ROOT)',
    )
    .option('--debug', 'print stack traces for errors')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) })
    .showHelpAfterError(false);
  await registerCommands(program, argv);
  let failure: { error: unknown } | undefined;
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    failure = { error };
  }
  // Stopped by SIGINT or SIGTERM: whatever the command's last error (an abort it caused), it was
  // the signal, and the exit status says which, as a shell's would (130, 143).
  const interrupted = interruption();
  if (interrupted) {
    process.stderr.write(`error: ${interrupted.message}\n`);
    if (argv.includes('--debug') && failure?.error instanceof Error && failure.error.stack)
      process.stderr.write(`${failure.error.stack}\n`);
    return interrupted.exitCode;
  }
  if (failure) return reportError(failure.error, argv.includes('--debug'));
  return process.exitCode === undefined ? 0 : Number(process.exitCode);
}

function reportError(error: unknown, debug: boolean): number {
  if (error instanceof CommanderError) {
    // commander already printed its message (unknown option, missing argument, --help, --version).
    return error.exitCode;
  }
  if (error instanceof StrataError && !(error instanceof InternalError)) {
    process.stderr.write(`error: ${formatErrorChain(error)}\n`);
    if (debug && error.stack) process.stderr.write(`${error.stack}\n`);
    return 1;
  }
  process.stderr.write(`internal error: ${formatErrorChain(error)}\n`);
  if (debug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  else
    process.stderr.write('this is a bug in strata; run again with --debug for a stack trace and report it\n');
  return 70; // EX_SOFTWARE
}
