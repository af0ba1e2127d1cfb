import { InvalidInputError, StrataError } from '../util/index.ts';
import type { ImageAnalysis } from './analyze-image.ts';

/** `strata analyze --ci` limits; an undefined limit is not checked. */
export interface CiThresholds {
  /** Fail when efficiency < this (0–1). dive's `lowest-efficiency`. */
  readonly lowestEfficiency?: number;
  /** Fail when wasted bytes > this. dive's `highest-wasted-bytes`. */
  readonly highestWastedBytes?: number;
  /** Fail when wasted / user bytes > this (0–1). dive's `highest-user-wasted-percent`. */
  readonly highestUserWastedPercent?: number;
  /** Fail when the image's size (dive's total: Σ layer content bytes) > this. strata's own. */
  readonly maxSize?: number;
}

/** dive's defaults in CI mode (cmd/dive/cli/internal/options/ci_rules.go, DefaultCIRules). */
export const DIVE_CI_DEFAULTS: CiThresholds = { lowestEfficiency: 0.9, highestUserWastedPercent: 0.1 };

/** One checked threshold. */
export interface ThresholdResult {
  readonly rule: 'lowest-efficiency' | 'highest-wasted-bytes' | 'highest-user-wasted-percent' | 'max-size';
  readonly threshold: number;
  readonly actual: number;
  readonly passed: boolean;
  /** Why it failed (dive's wording), or empty. */
  readonly message: string;
}

/** Thrown by `strata analyze --ci` when a threshold fails; the message lists every failure. */
export class AnalyzeThresholdError extends StrataError {
  readonly failures: readonly ThresholdResult[];

  constructor(image: string, failures: readonly ThresholdResult[]) {
    super('ANALYZE_THRESHOLD', `${image}: ${failures.map((f) => f.message).join('; ')}`, {
      hint: 'see the wasted paths above, or relax the threshold',
    });
    this.failures = failures;
  }
}

/** Checks the analysis against each set threshold, with dive's comparisons (rules.go). */
export function evaluateThresholds(analysis: ImageAnalysis, thresholds: CiThresholds): ThresholdResult[] {
  const out: ThresholdResult[] = [];
  const { lowestEfficiency, highestWastedBytes, highestUserWastedPercent, maxSize } = thresholds;
  if (lowestEfficiency !== undefined) {
    const passed = !(lowestEfficiency > analysis.efficiency);
    out.push({
      rule: 'lowest-efficiency',
      threshold: lowestEfficiency,
      actual: analysis.efficiency,
      passed,
      message: passed
        ? ''
        : `image efficiency is too low (efficiency=${analysis.efficiency.toFixed(4)} < threshold=${lowestEfficiency})`,
    });
  }
  if (highestWastedBytes !== undefined) {
    const passed = !(analysis.wastedBytes > highestWastedBytes);
    out.push({
      rule: 'highest-wasted-bytes',
      threshold: highestWastedBytes,
      actual: analysis.wastedBytes,
      passed,
      message: passed
        ? ''
        : `too many bytes wasted (wasted-bytes=${analysis.wastedBytes} > threshold=${highestWastedBytes})`,
    });
  }
  if (highestUserWastedPercent !== undefined) {
    const passed = !(analysis.userWastedPercent > highestUserWastedPercent);
    out.push({
      rule: 'highest-user-wasted-percent',
      threshold: highestUserWastedPercent,
      actual: analysis.userWastedPercent,
      passed,
      message: passed
        ? ''
        : `too many bytes wasted, relative to the user bytes added (user-wasted-percent=${analysis.userWastedPercent.toFixed(4)} > threshold=${highestUserWastedPercent})`,
    });
  }
  if (maxSize !== undefined) {
    const passed = !(analysis.sizeBytes > maxSize);
    out.push({
      rule: 'max-size',
      threshold: maxSize,
      actual: analysis.sizeBytes,
      passed,
      message: passed ? '' : `image is too large (size=${analysis.sizeBytes} > max-size=${maxSize})`,
    });
  }
  return out;
}

/** True for the values dive treats as "rule disabled": empty, `disabled`, `off`, `false`. */
export function isDisabledThreshold(text: string): boolean {
  const v = text.trim().toLowerCase();
  return v === '' || v === 'disabled' || v === 'off' || v === 'false';
}

/** A ratio threshold (0–1), as dive parses `lowest-efficiency` and `highest-user-wasted-percent`. */
export function parseRatio(text: string, flag: string): number {
  const value = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(value))
    throw new InvalidInputError(`${flag} ${JSON.stringify(text)} is not a number`);
  if (value < 0 || value > 1)
    throw new InvalidInputError(`${flag} ${text} is outside the allowed range (0-1)`);
  return value;
}

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  ki: 2 ** 10,
  kib: 2 ** 10,
  m: 1e6,
  mb: 1e6,
  mi: 2 ** 20,
  mib: 2 ** 20,
  g: 1e9,
  gb: 1e9,
  gi: 2 ** 30,
  gib: 2 ** 30,
  t: 1e12,
  tb: 1e12,
  ti: 2 ** 40,
  tib: 2 ** 40,
  p: 1e15,
  pb: 1e15,
  pi: 2 ** 50,
  pib: 2 ** 50,
};

/**
 * A byte count as go-humanize's `ParseBytes` reads it (dive parses `highest-wasted-bytes` with
 * it): `42`, `1.5 MB` (10^6), `20MiB` (2^20), units case-insensitive, commas in the number ignored.
 */
export function parseByteSize(text: string, flag = 'size'): number {
  const match = /^\s*([0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)\s*([a-zA-Z]*)\s*$/.exec(text);
  const multiplier = match ? BYTE_UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || multiplier === undefined)
    throw new InvalidInputError(`${flag} ${JSON.stringify(text)} is not a size`, {
      hint: 'use bytes or a unit: 500MB, 1.5GB, 20MiB',
    });
  return Math.floor(Number(match[1]!.replaceAll(',', '')) * multiplier);
}
