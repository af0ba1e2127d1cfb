import type { Command } from 'commander';
import { openStore } from '../api/open-store.ts';
import type { Store } from '../store/index.ts';

/** Global options every command sees (`strata --root DIR --debug <command>`). */
export interface GlobalOptions {
  readonly root?: string;
  readonly debug?: boolean;
}

/** The global options as seen from a subcommand's action. */
export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

/** Opens the store the global `--root` (or the environment) names. */
export async function storeFor(command: Command): Promise<Store> {
  return openStore(globalOptions(command).root);
}

/** Collects a repeatable option's values (`-t a -t b`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
