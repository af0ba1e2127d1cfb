import type { CacheKeyEvent } from './events.ts';
/**
 * Bytes the way `docker pull` prints them: decimal units, three significant digits (`1.05MB`).
 */
export function formatProgressBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  if (unit === 0) return `${bytes}B`;
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)}${units[unit]}`;
}

/** Seconds with one decimal, as BuildKit prints step timers (`1.2s`). */
export function formatSeconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
}

/** The 12 hex digits Docker shows for a layer (`sha256:abc…` → `abc…` 12 chars). */
export function shortId(digest: string): string {
  const colon = digest.indexOf(':');
  return digest.slice(colon + 1, colon + 13);
}

/**
 * `[stage 2/5] RUN x`, `[2/5] RUN x` or `RUN x`, as BuildKit labels a step; in a multi-platform
 * build the platform comes first (`[linux/arm64 stage 2/5] RUN x`).
 */
export function stepLabel(step: {
  name: string;
  platform?: string;
  stage?: string;
  index?: number;
  total?: number;
}): string {
  // BuildKit pads the index to the width of the total (`[ 2/13]`), so labels line up.
  const position =
    step.index !== undefined && step.total !== undefined
      ? `${String(step.index).padStart(String(step.total).length)}/${step.total}`
      : '';
  const prefix = [step.platform, step.stage, position].filter(Boolean).join(' ');
  return prefix ? `[${prefix}] ${step.name}` : step.name;
}

/** The text of a `cache-key` event: `cache key <key> parent=<key> <inputs as JSON>`. */
export function cacheKeyLine(event: CacheKeyEvent): string {
  const parent = event.parent === undefined ? '' : ` parent=${event.parent}`;
  const label = event.kind === 'content' ? 'cache content key' : 'cache key';
  return `${label} ${event.key}${parent} ${JSON.stringify(event.inputs)}`;
}
