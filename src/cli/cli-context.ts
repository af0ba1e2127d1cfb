import type { Command } from 'commander';
import { openStore } from '../api/open-store.ts';
import type { Store } from '../store/index.ts';
import { StrataError } from '../util/index.ts';

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
  const { root } = globalOptions(command);
  return root === undefined ? openStore() : openStore(root, '--root');
}

/** A command that needs privileges this process does not have. */
export class NeedsRootError extends StrataError {
  constructor(command: string) {
    super('NEEDS_ROOT', `strata ${command} needs root (this process runs as user ${process.getuid?.()})`, {
      hint:
        'it unpacks image layers with their owners, mounts overlayfs and starts containers with runc; ' +
        `run it as root, e.g. sudo strata ${command} …; rootless mode does not exist yet`,
    });
  }
}

/**
 * Fails at once, before any work, when `command` (one that unpacks layers, mounts and runs
 * containers: `build`, `run`) is run by a user other than root. Without this check a build got as
 * far as unpacking a base layer and failed there with `lchown … EPERM`.
 */
export function requireRoot(command: string): void {
  const uid = process.getuid?.();
  if (uid !== undefined && uid !== 0) throw new NeedsRootError(command);
}

/** Collects a repeatable option's values (`-t a -t b`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
