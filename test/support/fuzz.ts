import assert from 'node:assert/strict';
import { InternalError, StrataError } from '../../src/util/index.ts';

/**
 * Seeded fuzzing for the test suite: a small deterministic PRNG, and a loop bounded by a count and
 * by wall time whose failures name the seed, the run and the input. `STRATA_FUZZ_SEED=<n>` replays
 * a failure; `STRATA_FUZZ_MS=<ms>` gives each target more (or less) time.
 */

/** The seed of this test run: `STRATA_FUZZ_SEED`, else taken from the clock (and printed). */
export const FUZZ_SEED = Number(process.env.STRATA_FUZZ_SEED ?? Date.now() % 1_000_000);
/** Wall time each fuzz target may take once its minimum runs are done. */
export const FUZZ_MS = Number(process.env.STRATA_FUZZ_MS ?? 2500);

/** A deterministic source of random choices (mulberry32). */
export class Random {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  /** `count` results of `make`, joined. */
  repeat(count: number, make: () => string, separator = ''): string {
    const parts: string[] = [];
    for (let i = 0; i < count; i++) parts.push(make());
    return parts.join(separator);
  }
}

/**
 * Whether `error` is a crash: anything but a {@link StrataError}, or an {@link InternalError} —
 * what the CLI would report as a bug with exit status 70 (src/cli/run-cli.ts, `reportError`).
 * `allowed` lists further error classes a module documents.
 */
export function isCrash(
  error: unknown,
  allowed: readonly (abstract new (...args: never[]) => Error)[] = [],
): boolean {
  if (allowed.some((type) => error instanceof type)) return false;
  return !(error instanceof StrataError) || error instanceof InternalError;
}

/** What a fuzz loop did, for assertions on its coverage. */
export interface FuzzStats {
  runs: number;
  /** Inputs the target accepted (did not throw). */
  accepted: number;
}

/**
 * Runs `target` on inputs from `generate` at least `minRuns` times, then until `FUZZ_MS` have
 * passed or `maxRuns` were run. A crash fails the test with the seed, run and input. The target
 * returns normally or throws; `allowed` error classes are not crashes.
 */
export function fuzz<T>(options: {
  readonly name: string;
  readonly seed: number;
  readonly generate: (random: Random) => T;
  readonly target: (input: T) => void;
  readonly show?: (input: T) => string;
  readonly allowed?: readonly (abstract new (...args: never[]) => Error)[];
  readonly minRuns?: number;
  readonly maxRuns?: number;
}): FuzzStats {
  const random = new Random(options.seed);
  const minRuns = options.minRuns ?? 200;
  const maxRuns = options.maxRuns ?? 20_000;
  const deadline = Date.now() + FUZZ_MS;
  const stats: FuzzStats = { runs: 0, accepted: 0 };
  const show = options.show ?? ((input: T) => JSON.stringify(input));
  while (stats.runs < minRuns || (stats.runs < maxRuns && Date.now() < deadline)) {
    const input = options.generate(random);
    try {
      options.target(input);
      stats.accepted++;
    } catch (error) {
      if (isCrash(error, options.allowed)) {
        const shown = show(input);
        assert.fail(
          `${options.name}: crash with STRATA_FUZZ_SEED=${options.seed}, run ${stats.runs}: ${String(error)}\n` +
            `input (${shown.length} chars): ${shown.length > 4000 ? `${shown.slice(0, 4000)}…` : shown}\n` +
            `${(error as Error)?.stack ?? ''}`,
        );
      }
    }
    stats.runs++;
  }
  return stats;
}
