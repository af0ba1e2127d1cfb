import type { CheckedPlatformSupport } from '../runtime/index.ts';

/**
 * One line of `strata info`'s and `strata binfmt`'s platform list:
 * `linux/arm64    emulated — binfmt_misc handler qemu-aarch64 runs … (flags POCF); a test program ran`.
 */
export function formatPlatformSupport(p: CheckedPlatformSupport): string {
  const ran = p.verified && p.how !== 'unavailable' ? '; a test program ran' : '';
  const hint = p.how === 'unavailable' ? ` (${p.hint})` : '';
  return `${p.platform.padEnd(16)} ${p.how} — ${p.reason}${ran}${hint}`;
}
