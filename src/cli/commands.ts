import type { Command } from 'commander';
import { registerAnalyzeCommand } from './analyze.ts';
import { registerCompareCommand } from './compare.ts';
import { registerLintCommand } from './lint.ts';
import { registerBuildCommand } from './build.ts';
import { registerCopyCommand } from './copy.ts';
import { registerImagesCommand, registerRmiCommand, registerTagCommand } from './images.ts';
import { registerImportCommand } from './import.ts';
import { registerInitCommand } from './init.ts';
import { registerInspectCommand } from './inspect.ts';
import { registerLoginCommand, registerLogoutCommand } from './login.ts';
import { registerParseCommand } from './parse.ts';
import { registerPullCommand } from './pull.ts';
import { registerPushCommand } from './push.ts';
import { registerRunCommand } from './run.ts';
import { registerStagesCommand } from './stages.ts';
import { registerDuCommand, registerPruneCommand, registerStoreCommand } from './store-commands.ts';

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
  registerAnalyzeCommand(program);
  registerCompareCommand(program);
  registerLintCommand(program);
  registerImportCommand(program);
  registerImagesCommand(program);
  registerTagCommand(program);
  registerRmiCommand(program);
  registerPruneCommand(program);
  registerDuCommand(program);
  registerStoreCommand(program);
  registerParseCommand(program);
  registerStagesCommand(program);
  registerRunCommand(program);
  registerInitCommand(program);
}
