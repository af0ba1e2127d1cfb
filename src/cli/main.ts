/** The entry point of the CLI bundle (dist/strata-bundle.cjs, loaded by launch-main.ts). */
import { runCli } from './run-cli.ts';

void runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
