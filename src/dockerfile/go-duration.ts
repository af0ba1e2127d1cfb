import { DockerfileError } from './dockerfile-error.ts';

const UNITS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/**
 * Go's `time.ParseDuration` (`300ms`, `1m30s`, `1.5h`, `-2s`), in nanoseconds. Used for the
 * HEALTHCHECK flags, whose values Docker stores as nanoseconds in the image config.
 */
export function parseGoDuration(text: string): number {
  const invalid = (): DockerfileError =>
    new DockerfileError(`time: invalid duration ${JSON.stringify(text)}`);
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw invalid();
  let total = 0;
  while (rest !== '') {
    const match = /^(\d*)(?:\.(\d*))?/.exec(rest);
    const whole = match?.[1] ?? '';
    const fraction = match?.[2];
    if (whole === '' && (fraction === undefined || fraction === '')) throw invalid();
    rest = rest.slice(match![0].length);
    const unit = /^[^\d.]+/.exec(rest)?.[0];
    if (unit === undefined)
      throw new DockerfileError(`time: missing unit in duration ${JSON.stringify(text)}`);
    const scale = UNITS[unit];
    if (scale === undefined)
      throw new DockerfileError(
        `time: unknown unit ${JSON.stringify(unit)} in duration ${JSON.stringify(text)}`,
      );
    rest = rest.slice(unit.length);
    total += Number(`${whole === '' ? '0' : whole}.${fraction ?? '0'}`) * scale;
  }
  return sign * Math.round(total);
}
