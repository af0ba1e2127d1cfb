import type { Command } from 'commander';
import { openStore } from '../api/open-store.ts';
import type { Store } from '../store/index.ts';
import { planRootless, type RootlessPlan, StrataError } from '../util/index.ts';

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

/** A command that needs root or strata's user namespace, and this process has neither. */
export class NeedsRootError extends StrataError {
  constructor(command: string, plan: RootlessPlan) {
    const uid = process.getuid?.();
    const message =
      plan.kind === 'unavailable'
        ? `strata ${command} needs root or rootless mode, and rootless mode is unavailable here: ${plan.why}`
        : `strata ${command} runs rootless only when started through the strata command (this process runs as user ${uid} outside a user namespace)`;
    super('NEEDS_ROOT', message, {
      hint:
        plan.kind === 'unavailable'
          ? `${plan.hint}; or run it as root (sudo strata ${command} …); see docs/rootless.md`
          : `run bin/strata or dist/strata.cjs, not a bundle directly; or run it as root (sudo strata ${command} …)`,
    });
  }
}

/**
 * Fails at once, before any work, when `command` (one that unpacks layers, mounts and runs
 * containers: `build`, `run`) has neither root nor strata's user namespace (the launcher enters it
 * for a non-root user when it can: enter-user-namespace.ts). Without this check a build got as far
 * as unpacking a base layer and failed there with `lchown … EPERM`.
 */
export function requireRoot(command: string): void {
  const uid = process.getuid?.();
  if (uid !== undefined && uid !== 0) throw new NeedsRootError(command, planRootless());
}
/** Collects a repeatable option's values (`-t a -t b`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
