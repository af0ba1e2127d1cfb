import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where strata keeps its state when no `--root` is given: `$STRATA_ROOT`, else `/var/lib/strata`
 * for root, else `$XDG_DATA_HOME/strata` (default `~/.local/share/strata`).
 */
export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.STRATA_ROOT) return env.STRATA_ROOT;
  if (process.getuid?.() === 0) return '/var/lib/strata';
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'strata');
}
