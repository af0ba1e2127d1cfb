/**
 * The entry point of dist/strata.cjs, the `strata` command: runs the CLI bundle beside it
 * through the code cache (launcher.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from './launcher.ts';

const bundle = join(__dirname, 'strata-bundle.cjs');
if (existsSync(bundle)) launch(bundle, process.argv.slice(2));
else {
  process.stderr.write(`strata: ${bundle} is missing; run \`npm run build\` first\n`);
  process.exitCode = 1;
}
