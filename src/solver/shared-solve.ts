import type { CacheKey, CacheRecord } from '../cache/index.ts';

/**
 * A layer step's result as another solve of the same build can reuse it: the record of the layer
 * (made or found in the cache), how to fetch that layer when it came from an imported cache, and
 * the key the steps after it chain from.
 */
export interface SharedStepResult {
  readonly record: CacheRecord;
  readonly fetchLayer?: (signal?: AbortSignal) => Promise<void>;
  readonly chainKey: CacheKey;
}

/**
 * What the solves of one multi-platform build share (one solve per target platform, side by side).
 * A step whose cache key is the same in several of them — a `FROM --platform=$BUILDPLATFORM`
 * stage that does not read TARGETPLATFORM or the like — runs once, in whichever solve reaches it
 * first; the others wait for it and take its layer, as BuildKit merges the identical vertices of
 * the platforms' LLB into one. This holds with `--no-cache` too: it is one build.
 */
export interface SharedSolve {
  /** Layer steps started by some solve, by cache key: their result, or undefined when they failed. */
  readonly steps: Map<CacheKey, Promise<SharedStepResult | undefined>>;
  /** Steps already shown by some solve (a FROM shared by stages of several platforms shows once). */
  readonly shownSteps: Set<string>;
}

/** A new, empty {@link SharedSolve} for one build. */
export function sharedSolve(): SharedSolve {
  return { steps: new Map(), shownSteps: new Set() };
}
