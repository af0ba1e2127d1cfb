/** Go's `unicode.IsSpace` set, which `strings.TrimSpace` trims (JS's `trim` also drops U+FEFF; Go does not). */
const GO_SPACE = '[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const LEADING = new RegExp(`^${GO_SPACE}+`, 'u');
const TRAILING = new RegExp(`${GO_SPACE}+$`, 'u');

/** Go's `strings.TrimSpace`. */
export function goTrimSpace(text: string): string {
  return text.replace(LEADING, '').replace(TRAILING, '');
}
