import type { Command } from 'commander';

/**
 * Every subcommand, registered on the root program. Each command lives in its own file and
 * exports a `register…Command(program)` function; add one line here per command.
 */
export function registerCommands(program: Command): void {
  void program;
}
