/**
 * "Did you mean": the closest candidate within edit distance 2, as BuildKit's `suggest.Search`
 * picks it. An exact match means the mistake lies elsewhere, so no suggestion is made.
 */
export function suggest(
  value: string,
  candidates: Iterable<string>,
  options: { caseSensitive: boolean },
): string | undefined {
  const wanted = options.caseSensitive ? value : value.toLowerCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const option = options.caseSensitive ? candidate : candidate.toLowerCase();
    if (option === wanted) return undefined;
    const distance = levenshtein(wanted, option, bestDistance);
    if (distance < bestDistance) {
      bestDistance = distance;
      best = options.caseSensitive ? option : matchCase(option, value);
    }
  }
  return best;
}

/** `did you mean X?` or undefined: the hint text for a misspelling. */
export function didYouMean(
  value: string,
  candidates: Iterable<string>,
  options: { caseSensitive: boolean },
): string | undefined {
  const match = suggest(value, candidates, options);
  return match === undefined ? undefined : `did you mean ${match}?`;
}

function matchCase(value: string, original: string): string {
  if (original === original.toLowerCase()) return value.toLowerCase();
  if (original === original.toUpperCase()) return value.toUpperCase();
  return value;
}

/** Edit distance, giving up early once every path exceeds `limit`. */
function levenshtein(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      current.push(value);
      if (value < rowMin) rowMin = value;
    }
    if (rowMin >= limit) return limit;
    previous = current;
  }
  return previous[b.length]!;
}
