import { DEFAULT_PATH, type Platform } from '../oci/index.ts';
import type { ScopedVariable, StageBase } from './build-graph.ts';

/** The variables of a stage as it is dispatched, and what a stage built on it inherits. */
export interface StageScope {
  /** BuildKit's llb state env: what RUN sees and words expand with (ENV and ARG both set it). */
  env: Map<string, ScopedVariable>;
  /**
   * The image config's Env (base image, then ENV; never ARG), in config order — a Map keeps a
   * replaced key in place, as BuildKit's addEnv does.
   */
  configEnv: Map<string, ScopedVariable>;
  buildArgs: { name: string; value?: string }[];
  /** True when the base image's Env is unknown (so a miss may be resolved later). */
  imageEnvUnknown: boolean;
  platform: Platform;
  shell: readonly string[] | undefined;
  /** Whether a WORKDIR of this Dockerfile set the directory (WorkdirRelativePath), here or in a base stage. */
  workdirSet: boolean;
  /** Bumped whenever `env` changes, so steps can share one snapshot of it. */
  version: number;
}

/**
 * The scope a stage starts with: a copy of its base stage's (`parent`), or its base image's Env
 * (from `baseImageEnv`; unknown when missing) with PATH made sure of, as BuildKit's dispatchStages.
 */
export function initialScope(options: {
  readonly base: StageBase;
  readonly platform: Platform;
  /** The scope the base stage ended with, for a stage built on another. */
  readonly parent?: StageScope;
  readonly baseImageEnv?: ReadonlyMap<string, readonly string[]>;
}): StageScope {
  const { base, platform, parent } = options;
  if (base.kind === 'stage') return inheritedScope(parent!, platform);
  const env = new Map<string, ScopedVariable>();
  let imageEnvUnknown = false;
  if (base.kind === 'image') {
    const known = options.baseImageEnv?.get(base.ref.toString());
    if (known === undefined) imageEnvUnknown = true;
    for (const entry of known ?? []) {
      const eq = entry.indexOf('=');
      const name = eq === -1 ? entry : entry.slice(0, eq);
      env.set(name, { name, value: eq === -1 ? '' : entry.slice(eq + 1), source: 'default' });
    }
  }
  // BuildKit makes sure PATH is set (dispatchStages); an unknown image env may still have one.
  if (!env.has('PATH') && !imageEnvUnknown && platform.os !== 'windows') {
    env.set('PATH', { name: 'PATH', value: DEFAULT_PATH, source: 'default' });
  }
  return {
    env,
    configEnv: new Map(env),
    buildArgs: [],
    imageEnvUnknown,
    platform,
    shell: undefined,
    workdirSet: false,
    version: 0,
  };
}

function inheritedScope(parent: StageScope, platform: Platform): StageScope {
  // BuildKit (dispatchStages): a stage on another starts from that stage's state, then adds
  // every Env entry of its image config again (delete and append) — so an ARG value the
  // parent gave over an ENV of the same name is back to the ENV's, while an ARG without an
  // ENV stays.
  const env = new Map(parent.env);
  for (const v of parent.configEnv.values()) {
    env.delete(v.name);
    env.set(v.name, v);
  }
  return {
    env,
    configEnv: new Map(parent.configEnv),
    buildArgs: [...parent.buildArgs],
    imageEnvUnknown: parent.imageEnvUnknown,
    platform,
    shell: parent.shell,
    workdirSet: parent.workdirSet,
    version: 0,
  };
}
