/**
 * The entry point of dist/strata.cjs, the `strata` command: runs the CLI bundle for the command
 * argv names (dist/bundles/, one per command module) through the code cache (launcher.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bundleFor, launch } from './launcher.ts';

/** Which bundle holds which command (command → module), written in by scripts/build.mjs. */
declare const __STRATA_COMMAND_BUNDLES__: Record<string, string>;

const argv = process.argv.slice(2);
const bundle = join(__dirname, 'bundles', `${bundleFor(argv, __STRATA_COMMAND_BUNDLES__)}.cjs`);
if (existsSync(bundle)) launch(bundle, argv);
else {
  process.stderr.write(`strata: ${bundle} is missing; run \`npm run build\` first\n`);
  process.exitCode = 1;
}
