/** The entry point of the `strata` command (bundled into dist/strata.js). */
import { runCli } from './run-cli.ts';

process.exitCode = await runCli(process.argv.slice(2));
