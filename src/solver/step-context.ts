import type { Readable } from 'node:stream';
import type { BuildCacheMounts, CacheRecord, RemoteCache, StepCache } from '../cache/index.ts';
import type { ChecksumCache, ContextView } from '../context/index.ts';
import type { Dockerfile } from '../dockerfile/index.ts';
import type { Image, Platform } from '../oci/index.ts';
import type { BuildGraph, Stage, Step } from '../plan/index.ts';
import type { ProgressSink, StepId } from '../progress/index.ts';
import type { Reference } from '../reference/index.ts';
import type { Executor, ExtraHost, Ulimit } from '../runtime/index.ts';
import type { Snapshot, Snapshotter } from '../snapshot/index.ts';
import type { Store } from '../store/index.ts';
import type { SourceLocation } from '../util/index.ts';
import type { CommittedLayer, LayerOptions } from './commit-layer.ts';
import type { StageImage } from './image-state.ts';
import type { SharedSolve } from './shared-solve.ts';

/** The build context as the solver sees it. */
export interface BuildContextSource {
  /** The context directory on disk. */
  readonly dir: string;
  /** The context filtered by `.dockerignore`: what COPY and ADD can see. */
  readonly view: ContextView;
}

/** Everything the solver needs from the outside, injected by the composition root. */
export interface SolverDeps {
  readonly store: Store;
  readonly snapshotter: Snapshotter;
  /** Opened on the first RUN only, so builds without RUN need no runtime. */
  readonly executor: () => Promise<Executor>;
  /** The image a reference names, for `platform`: from the store, pulled when missing or `--pull`. */
  readonly resolveImage: (ref: Reference, platform: Platform, signal?: AbortSignal) => Promise<Image>;
  readonly events: ProgressSink;
  /**
   * The download of a resolved base image's layers, when one is under way (a lazily pulled base):
   * its FROM step ends when it does, as BuildKit's source vertex ends once the layers are in.
   */
  readonly pendingLayers?: (image: Image) => Promise<void> | undefined;
  /** strata's state root (cache mounts live below it). */
  readonly stateDir: string;
  /** What this solve shares with the other platforms' solves of a multi-platform build. */
  readonly shared?: SharedSolve;
}

/** One build's inputs beyond the graph. */
export interface SolveOptions {
  readonly graph: BuildGraph;
  readonly dockerfile: Dockerfile;
  readonly context: BuildContextSource;
  /** `--secret id=…` contents by id. */
  readonly secrets?: ReadonlyMap<string, Uint8Array>;
  readonly layers: LayerOptions;
  /** RFC 3339 time written as `created` into the config and history. */
  readonly created: string;
  /** `--network` for every RUN that does not say otherwise. */
  readonly network?: 'default' | 'none' | 'host';
  /** `--add-host`, `--ulimit` and `--shm-size`: for every RUN, and part of each RUN's cache key. */
  readonly run?: RunSettings;
  /** `--label k=v`: added to the target image's labels. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Fetches an ADD URL (injected so the solver needs no HTTP client). */
  readonly fetchUrl?: (url: string, signal?: AbortSignal) => Promise<Readable>;
  /** The step cache; absent means every step runs. */
  readonly cache?: SolveCacheOptions;
  /**
   * One of several target platforms of a build: step ids start with the platform, and each step
   * shows it (BuildKit's `[linux/arm64 builder 2/3]`, `[linux/amd64->arm64 …]` for a stage that runs
   * on another platform), as buildx shows a multi-platform build.
   */
  readonly multiPlatform?: boolean;
  readonly signal?: AbortSignal;
}

/** What `docker buildx build` sets for every RUN of a build (BuildKit keys each ExecOp on them). */
export interface RunSettings {
  readonly extraHosts?: readonly ExtraHost[];
  readonly ulimits?: readonly Ulimit[];
  /** `--shm-size`: /dev/shm is a tmpfs of this size (BuildKit mounts one over the default 64 MiB). */
  readonly shmSizeBytes?: number;
}

/** How the step cache is used in one build. */
export interface SolveCacheOptions {
  readonly steps: StepCache;
  /** Checksums of context files, keyed by stat, so unchanged files are not hashed again. */
  readonly checksums?: ChecksumCache;
  /** `--no-cache`: run every step (results are still recorded for later builds). */
  readonly disabled?: boolean;
  /** `--no-cache-filter`: stage names whose steps always run. */
  readonly disabledStages?: ReadonlySet<string>;
  /** Caches imported with `--cache-from`, asked after the local cache misses. */
  readonly remote?: readonly RemoteCache[];
  /** The build's cache mounts: which RUNs declare them (`--cache-to …,mounts=`), restored from `remote`. */
  readonly mounts?: BuildCacheMounts;
  /** Emit a `cache-key` event with every step's key inputs (`STRATA_DEBUG_CACHE=1`). */
  readonly debugKeys?: boolean;
}

/**
 * A step that makes a layer, planned: the history text, the inputs that decide its output (for the
 * cache key) and the work to do on a cache miss.
 */
export interface LayerStepPlan {
  readonly createdBy: string;
  /** What decides the step's output, as definitions: the cache key's inputs. */
  readonly inputs: unknown;
  /**
   * For a step that reads another stage's files: the same inputs with the content of the files it
   * reads in place of the stage's key — the second key tried when the first misses (BuildKit's
   * content-based cache key), and the key later steps chain from.
   */
  readonly contentInputs?: () => Promise<unknown>;
  /** Called on a cache miss before the step's filesystem is prepared: starts work it can overlap. */
  prepare?(): void;
  execute(): Promise<CommittedLayer>;
  /** Releases what the plan opened (views of other stages), whether it executed or not. */
  dispose?(): Promise<void>;
}

/** What a step handler gets: the stage's image to change, and the build around it. */
export interface StepContext {
  readonly deps: SolverDeps;
  readonly options: SolveOptions;
  readonly stage: Stage;
  readonly step: Step;
  readonly stepId: StepId;
  /** `Dockerfile:12` for messages. */
  readonly location: SourceLocation;
  readonly image: StageImage;
  /** A finished stage's image (for COPY --from and RUN --mount from=). */
  readonly stageResult: (index: number) => Promise<StageImage>;
  /** Records of the layer steps this build ran or reused (for `--cache-to`). */
  readonly records: CacheRecord[];
  /** The stage's filesystem as it is now (unpacked on demand after cache hits). */
  readonly snapshot: () => Promise<Snapshot>;
  /** A finished stage's filesystem. */
  readonly stageSnapshot: (index: number) => Promise<Snapshot>;
  readonly signal?: AbortSignal;
}
