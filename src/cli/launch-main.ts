/**
 * The entry point of dist/strata.cjs, the `strata` command: runs the CLI bundle for the command
 * argv names (dist/bundles/, one per command module) through the code cache (launcher.ts).
 *
 * Run by a user other than root, a command that unpacks layers, mounts or runs containers first
 * enters strata's user namespace (enter-user-namespace.ts): this process stays behind as the
 * parent, waits for the CLI and exits as it did.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { enterUserNamespace, needsUserNamespace, reportReady } from './enter-user-namespace.ts';
import { bundleFor, cacheCommandName, launch } from './launcher.ts';

/** Which bundle holds which command (command → module), written in by scripts/build.mjs. */
declare const __STRATA_COMMAND_BUNDLES__: Record<string, string>;

const argv = process.argv.slice(2);
const bundle = join(__dirname, 'bundles', `${bundleFor(argv, __STRATA_COMMAND_BUNDLES__)}.cjs`);
if (!existsSync(bundle)) {
  process.stderr.write(`strata: ${bundle} is missing; run \`npm run build\` first\n`);
  process.exitCode = 1;
} else if (needsUserNamespace(cacheCommandName(argv), argv)) {
  enterUserNamespace(__filename, argv, cacheCommandName(argv));
} else {
  reportReady();
  launch(bundle, argv);
}
