import { goQuote } from '../util/index.ts';

/** Go's `%q` of a `[]string`: `["a" "b"]`. */
export function goQuoteList(list: readonly string[]): string {
  return `[${list.map(goQuote).join(' ')}]`;
}

/** Go's `%v` of a `[]string`: `[a b]`. */
export function goList(list: readonly string[]): string {
  return `[${list.join(' ')}]`;
}

/** Go's `time.Duration.String()` for nanoseconds: `0s`, `500ms`, `1.5s`, `5m0s`, `1h0m0s`. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const negative = ns < 0;
  let n = Math.abs(ns);
  let out: string;
  if (n < 1e9) {
    // Below one second Go picks ns, µs or ms with a fraction.
    const [unit, size] = n < 1e3 ? ['ns', 1] : n < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    out = `${trimFraction(n / (size as number))}${unit}`;
  } else {
    const hours = Math.floor(n / 3.6e12);
    n -= hours * 3.6e12;
    const minutes = Math.floor(n / 6e10);
    n -= minutes * 6e10;
    const seconds = `${trimFraction(n / 1e9)}s`;
    out = hours > 0 ? `${hours}h${minutes}m${seconds}` : minutes > 0 ? `${minutes}m${seconds}` : seconds;
  }
  return negative ? `-${out}` : out;
}

function trimFraction(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toFixed(9)));
}
