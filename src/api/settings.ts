/**
 * The settings strata takes from its environment, read in one place (the composition root) and
 * passed down as values: no module below `api/` reads `process.env` for them.
 */
export interface StrataSettings {
  /** `STRATA_SNAPSHOTTER`: `overlay`, `native`, or undefined (auto: overlay where it works). */
  readonly snapshotter?: string;
  /** `STRATA_RUNTIME`: `runc`, `crun` or a path; undefined tries runc, then crun. */
  readonly runtime?: string;
  /** `STRATA_DEBUG_CACHE`: report every step's cache key inputs as progress (`cache-key` events). */
  readonly debugCache: boolean;
}

/** Reads {@link StrataSettings} from `env` (empty values count as unset). */
export function settingsFromEnv(env: NodeJS.ProcessEnv): StrataSettings {
  const value = (name: string) => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  const snapshotter = value('STRATA_SNAPSHOTTER');
  const runtime = value('STRATA_RUNTIME');
  return {
    ...(snapshotter === undefined ? {} : { snapshotter }),
    ...(runtime === undefined ? {} : { runtime }),
    debugCache: value('STRATA_DEBUG_CACHE') !== undefined && value('STRATA_DEBUG_CACHE') !== '0',
  };
}

let fromProcess: StrataSettings | undefined;

/** This process's settings: `process.env`, read once. */
export function processSettings(): StrataSettings {
  fromProcess ??= settingsFromEnv(process.env);
  return fromProcess;
}
