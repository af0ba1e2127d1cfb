import type { Command } from 'commander';
import { registerCompareCommand } from './compare.ts';
import { registerLintCommand } from './lint.ts';
import { registerAnalyzeCommand } from './analyze.ts';
import { registerBuildCommand } from './build.ts';
import { registerCopyCommand } from './copy.ts';
import { registerImagesCommand, registerRmiCommand, registerTagCommand } from './images.ts';
import { registerImportCommand } from './import.ts';
import { registerInspectCommand } from './inspect.ts';
import { registerLoginCommand, registerLogoutCommand } from './login.ts';
import { registerParseCommand } from './parse.ts';
import { registerRunCommand } from './run.ts';
import { registerPullCommand } from './pull.ts';
import { registerPushCommand } from './push.ts';
import { registerStagesCommand } from './stages.ts';
import { registerPruneCommand, registerStoreCommand } from './store-commands.ts';
import { registerInitCommand } from './init.ts';

/**
 * Every subcommand, registered on the root program. Each command lives in its own file and
 * exports a `register…Command(program)` function; add one line here per command.
 */
export function registerCommands(program: Command): void {
  registerPullCommand(program);
  registerPushCommand(program);
  registerInspectCommand(program);
  registerCopyCommand(program);
  registerLoginCommand(program);
  registerLogoutCommand(program);
  registerBuildCommand(program);
  registerCompareCommand(program);
  registerLintCommand(program);
  registerAnalyzeCommand(program);
  registerImportCommand(program);
  registerImagesCommand(program);
  registerTagCommand(program);
  registerRmiCommand(program);
  registerPruneCommand(program);
  registerStoreCommand(program);
  registerParseCommand(program);
  registerStagesCommand(program);
  registerRunCommand(program);
  registerInitCommand(program);
}
