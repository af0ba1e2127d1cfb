import { cleanPath } from '../util/index.ts';
import type { PatternMatcher } from './pattern-matcher.ts';

/**
 * The test behind the CopyIgnoredFile build check, as BuildKit's validateCopySourcePath: whether a
 * COPY/ADD source path (as written, after expansion) is excluded by the ignore file. Undefined —
 * no check — when there are no patterns, or when any is a `!` exception (BuildKit: exceptions make
 * the answer impossible to tell without the files). The context root (`.`, `/`) counts as
 * excluded only when a pattern excludes every entry: `*`, `**`, or `**` followed by `/*`.
 */
export function copyIgnoredTest(matcher: PatternMatcher): ((source: string) => boolean) | undefined {
  if (matcher.patterns.length === 0 || matcher.hasExclusions) return undefined;
  const rootIgnored = matcher.patterns.some((p) => ['*', '**', '**/*'].includes(p.cleaned));
  return (source) => {
    const clean = cleanPath(source);
    if (clean === '.' || clean === '/') return rootIgnored;
    return matcher.matches(clean);
  };
}
