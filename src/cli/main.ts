/** The entry point of the CLI bundle (dist/strata-bundle.cjs, loaded by launch-main.ts). */
import { runCli } from './run-cli.ts';

/**
 * How long the process may stay up once its command has returned. Nothing of a command runs
 * after it returns (its cleanup is awaited), but a socket it gave up on can hold the event loop:
 * undici notices an abort only at a request's next step, and a TLS handshake with a host that
 * never answers has none until its 10 s connect timeout. Like docker's CLI, strata exits when it
 * is done.
 */
const EXIT_GRACE_MS = 500;

void runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // Unref'd: it keeps nothing alive, and fires only when something else still does.
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
});
