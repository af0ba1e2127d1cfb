import type { CacheKey } from '../cache/index.ts';
import {
  type ContainerConfig,
  DEFAULT_PATH,
  type HealthConfig,
  type HistoryEntry,
  type Image,
  type ImageConfig,
  type Layer,
  type Platform,
} from '../oci/index.ts';
import type { Snapshot } from '../snapshot/index.ts';

/** The container config while a stage is being built: every field writable. */
export interface MutableContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, Record<string, never>>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, Record<string, never>>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  ArgsEscaped?: boolean;
  Healthcheck?: HealthConfig;
  OnBuild?: string[] | null;
  Shell?: string[];
}

/** The image a stage is building: config, history, layers and the filesystem so far. */
export interface StageImage {
  architecture: string;
  os: string;
  variant?: string;
  author?: string;
  config: MutableContainerConfig;
  history: HistoryEntry[];
  layers: Layer[];
  snapshot: Snapshot;
  /** A CMD was given in this stage (a later ENTRYPOINT then keeps it; see applyConfigStep). */
  cmdSetInStage?: boolean;
  /** The cache key of the state so far (a Merkle chain over the base and every step). */
  cacheKey?: CacheKey;
}

/** `FROM scratch`: BuildKit's emptyImage — WorkingDir `/` and the default PATH. */
export function scratchImage(platform: Platform, snapshot: Snapshot): StageImage {
  return {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Env: [`PATH=${DEFAULT_PATH}`], WorkingDir: '/' },
    history: [],
    layers: [],
    snapshot,
  };
}

/** A stage's starting point from a base image: its config and history, its layers, unpacked. */
export function imageStageFrom(image: Image, snapshot: Snapshot): StageImage {
  const c = image.config;
  return {
    architecture: c.architecture,
    os: c.os,
    ...(c.variant ? { variant: c.variant } : {}),
    ...(c.author ? { author: c.author } : {}),
    config: cloneContainerConfig(c.config ?? {}),
    history: [...(c.history ?? [])],
    layers: [...image.layers],
    snapshot,
  };
}

/** A deep copy (stages built on other stages must not share mutable state). */
export function cloneStageImage(image: StageImage): StageImage {
  return {
    ...image,
    config: cloneContainerConfig(image.config),
    history: [...image.history],
    layers: [...image.layers],
    cmdSetInStage: false,
  };
}

function cloneContainerConfig(c: ContainerConfig | MutableContainerConfig): MutableContainerConfig {
  const out: MutableContainerConfig = {};
  if (c.User !== undefined) out.User = c.User;
  if (c.ExposedPorts) out.ExposedPorts = { ...c.ExposedPorts };
  if (c.Env) out.Env = [...c.Env];
  if (c.Entrypoint !== undefined) out.Entrypoint = c.Entrypoint === null ? null : [...c.Entrypoint];
  if (c.Cmd !== undefined) out.Cmd = c.Cmd === null ? null : [...c.Cmd];
  if (c.Volumes) out.Volumes = { ...c.Volumes };
  if (c.WorkingDir !== undefined) out.WorkingDir = c.WorkingDir;
  if (c.Labels) out.Labels = { ...c.Labels };
  if (c.StopSignal !== undefined) out.StopSignal = c.StopSignal;
  if (c.ArgsEscaped !== undefined) out.ArgsEscaped = c.ArgsEscaped;
  if (c.Healthcheck)
    out.Healthcheck = { ...c.Healthcheck, ...(c.Healthcheck.Test ? { Test: [...c.Healthcheck.Test] } : {}) };
  if (c.OnBuild) out.OnBuild = [...c.OnBuild];
  if (c.Shell) out.Shell = [...c.Shell];
  return out;
}

/** Sets `key=value` in an env list, replacing an existing entry in place (BuildKit's addEnv). */
export function setEnv(env: string[], key: string, value: string): string[] {
  const index = env.findIndex((e) => envKey(e) === key);
  if (index >= 0) env[index] = `${key}=${value}`;
  else env.push(`${key}=${value}`);
  return env;
}

/** The value of `key` in an env list. */
export function getEnv(env: readonly string[] | undefined, key: string): string | undefined {
  const entry = env?.find((e) => envKey(e) === key);
  return entry === undefined ? undefined : entry.slice(key.length + 1);
}

function envKey(entry: string): string {
  const i = entry.indexOf('=');
  return i < 0 ? entry : entry.slice(0, i);
}

/**
 * Gives history entries without a time one, as BuildKit's exporter does (normalizeLayersAndHistory):
 * a run of config-only entries takes the time of the layer before it, or, at the start, of the
 * first layer after it. Cached steps keep the time they first ran, so a fully cached rebuild
 * produces the same config bytes and digest.
 */
export function fillHistoryTimes(history: readonly HistoryEntry[]): HistoryEntry[] {
  let created: string | undefined;
  let missing = false;
  for (const h of history) {
    if (h.created !== undefined) {
      created = h.created;
      if (missing) break;
    } else missing = true;
  }
  missing = false;
  return history.map((h) => {
    if (h.created !== undefined) {
      if (missing) created = h.created;
      return h;
    }
    missing = true;
    return created === undefined ? h : { ...h, created };
  });
}

/**
 * The image config a finished stage stands for, ready to serialise. `created` is the last history
 * entry's time (BuildKit's rule), or `fallback` when there is none; with SOURCE_DATE_EPOCH every
 * time is the epoch.
 */
export function toImageConfig(image: StageImage, options: { fallback: string; epoch?: string }): ImageConfig {
  let history = fillHistoryTimes(image.history);
  const epoch = options.epoch;
  if (epoch !== undefined) history = history.map((h) => ({ ...h, created: epoch }));
  const created = options.epoch ?? history[history.length - 1]?.created ?? options.fallback;
  return {
    architecture: image.architecture,
    os: image.os,
    ...(image.variant ? { variant: image.variant } : {}),
    ...(image.author ? { author: image.author } : {}),
    created,
    config: serialisableConfig(image.config),
    rootfs: { type: 'layers', diff_ids: image.layers.map((l) => l.diffId) },
    history,
  };
}

/**
 * The config as BuildKit writes it: Go's `omitempty` drops an `Entrypoint` or `Cmd` that is
 * unset or empty, so `CMD []` (or an ENTRYPOINT that resets CMD) leaves no field, not `[]` or
 * `null`.
 */
function serialisableConfig(config: MutableContainerConfig): ContainerConfig {
  const { Entrypoint, Cmd, ...rest } = config;
  return {
    ...rest,
    ...(Entrypoint && Entrypoint.length > 0 ? { Entrypoint } : {}),
    ...(Cmd && Cmd.length > 0 ? { Cmd } : {}),
  } as ContainerConfig;
}
