import { type Digest, formatPlatform, type Platform } from '../oci/index.ts';
import { formatErrorChain } from '../util/index.ts';

/**
 * Identifies one step of a build (a BuildKit "vertex"): stable for the whole run, unique among
 * the run's steps. The solver uses e.g. `stage-1/step-3`; a pull uses `pull docker.io/library/alpine:3`.
 */
export type StepId = string;

/**
 * The step of a build's `FROM <image>`: one per image and platform, shared by every stage that
 * starts from it (BuildKit's LLB has one source vertex for them). The solver starts and ends it;
 * the base image's metadata lookup and layer downloads report under it.
 */
export function baseImageStepId(reference: string, platform: Platform): StepId {
  return `from ${reference} ${formatPlatform(platform)}`;
}

/** Fields every event carries. `at` is milliseconds since the epoch (`Date.now()`). */
interface EventBase {
  readonly at: number;
}

/**
 * A step began. `name` is what the user recognises (`RUN make`, `FROM alpine:3.20`); `stage`,
 * `index` and `total` give BuildKit's `[builder 2/5]` prefix when set.
 */
export interface StepStartedEvent extends EventBase {
  readonly type: 'step-started';
  readonly step: StepId;
  readonly name: string;
  /** The platform, in a build for several (`linux/arm64`, `linux/amd64->arm64`): BuildKit's label prefix. */
  readonly platform?: string;
  readonly stage?: string;
  /** 1-based position of the step in its stage. */
  readonly index?: number;
  /** Steps in the stage. */
  readonly total?: number;
}

/** A step's result came from the cache; it ends the step (no `step-finished` follows). */
export interface StepCachedEvent extends EventBase {
  readonly type: 'step-cached';
  readonly step: StepId;
}

/** Output of a running step (a RUN's stdout/stderr), as text; may hold several lines or a partial one. */
export interface StepLogEvent extends EventBase {
  readonly type: 'step-log';
  readonly step: StepId;
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
}

/** A step completed successfully. */
export interface StepFinishedEvent extends EventBase {
  readonly type: 'step-finished';
  readonly step: StepId;
}

/** A step failed; `error` is the one-line message (the error chain, joined). */
export interface StepFailedEvent extends EventBase {
  readonly type: 'step-failed';
  readonly step: StepId;
  readonly error: string;
  /** It did not fail by itself: the build was stopped (another step failed, or it was interrupted). */
  readonly canceled?: boolean;
}

/**
 * Where one blob transfer is. Pulls go `waiting → downloading… → verifying → done`, or straight
 * to `exists` when the blob was already present; pushes go `waiting → pushing… → done`, or to
 * `exists` (the registry had it) or `mounted` (cross-repository mount). `retrying` is shown while
 * a transfer waits to resume after a fault; the transfer continues afterwards.
 */
export type TransferStatus =
  | 'waiting'
  | 'downloading'
  | 'pushing'
  | 'verifying'
  | 'retrying'
  | 'done'
  | 'exists'
  | 'mounted';

/** What a transferred blob is. */
export type BlobKind = 'layer' | 'config' | 'manifest' | 'index' | 'blob';

/**
 * Progress of one blob moving between places (pull, push, copy, export). `current`/`total` are
 * bytes. When `step` is set the transfer is part of that step (a FROM's pull during a build).
 */
export interface TransferEvent extends EventBase {
  readonly type: 'transfer';
  readonly direction: 'pull' | 'push';
  readonly digest: Digest;
  readonly kind: BlobKind;
  readonly status: TransferStatus;
  readonly current?: number;
  readonly total?: number;
  readonly step?: StepId;
  /** Why a transfer is retrying (the fault, redacted). */
  readonly message?: string;
}

/** A line of information or a warning, optionally attached to a step. */
export interface MessageEvent extends EventBase {
  readonly type: 'message';
  readonly level: 'info' | 'warning';
  readonly text: string;
  readonly step?: StepId;
}

/**
 * What went into a step's cache key (asked for with `STRATA_DEBUG_CACHE=1`): the key, its
 * parent's, and every input, as JSON — to see why a step missed. `kind` says which of the step's
 * two keys: its definition's, or (for `COPY --from`) the content it reads.
 */
export interface CacheKeyEvent extends EventBase {
  readonly type: 'cache-key';
  readonly step: StepId;
  readonly kind: 'definition' | 'content';
  readonly key: string;
  readonly parent?: string;
  readonly inputs: unknown;
}

/**
 * Everything a build, pull, push or copy reports while it runs. Progress is data: producers emit
 * these, and only the CLI picks a renderer (`tty`, `plain`, `json`) to turn them into text.
 */
export type BuildEvent =
  | StepStartedEvent
  | StepCachedEvent
  | StepLogEvent
  | StepFinishedEvent
  | StepFailedEvent
  | TransferEvent
  | MessageEvent
  | CacheKeyEvent;

/** A receiver of events. `emit` must not throw and must return quickly (renderers buffer). */
export interface ProgressSink {
  emit(event: BuildEvent): void;
}

/** A sink that drops everything (the default when a caller passes none). */
export const nullSink: ProgressSink = { emit: () => undefined };

/** A sink that keeps every event in `events` (tests, and `--metadata-file`-style summaries). */
export class CollectingSink implements ProgressSink {
  readonly events: BuildEvent[] = [];
  emit(event: BuildEvent): void {
    this.events.push(event);
  }
}

/** A sink that forwards each event to every one of `sinks`. */
export function teeSink(...sinks: readonly ProgressSink[]): ProgressSink {
  return {
    emit: (event) => {
      for (const sink of sinks) sink.emit(event);
    },
  };
}

/**
 * Runs `work` as one step of its own (BuildKit's `exporting to oci image format`, `sending
 * tarball`): started before, finished or failed after; the transfers and messages `work` emits
 * without a step become that step's, so renderers show them as the step's progress, not as a
 * `docker pull`.
 */
export async function withinStep<T>(
  sink: ProgressSink,
  step: { readonly id: StepId; readonly name: string },
  work: (sink: ProgressSink) => Promise<T>,
): Promise<T> {
  sink.emit({ type: 'step-started', step: step.id, name: step.name, at: Date.now() });
  const inner: ProgressSink = {
    emit: (event) =>
      sink.emit(
        (event.type === 'transfer' || event.type === 'message') && event.step === undefined
          ? { ...event, step: step.id }
          : event,
      ),
  };
  try {
    const result = await work(inner);
    sink.emit({ type: 'step-finished', step: step.id, at: Date.now() });
    return result;
  } catch (error) {
    sink.emit({ type: 'step-failed', step: step.id, error: formatErrorChain(error), at: Date.now() });
    throw error;
  }
}
