import { cleanPath } from '../util/index.ts';
import { BadPatternError, validateGoPattern } from './go-match.ts';
import { compileGoRegexp, GoRegexpSyntaxError, UnsupportedRegexpError } from './go-regexp.ts';
import { goTrimSpace } from './go-strings.ts';

/** Why a pattern was refused; {@link PatternMatcher.compile} throws it with the pattern's index. */
export class InvalidPatternError extends Error {
  /** Index of the offending pattern in the list given to {@link PatternMatcher.compile}. */
  readonly index: number;
  /** The pattern as given. */
  readonly pattern: string;
  constructor(index: number, pattern: string, reason: string) {
    super(reason);
    this.name = 'InvalidPatternError';
    this.index = index;
    this.pattern = pattern;
  }
}

type Kind = 'exact' | 'prefix' | 'suffix' | 'regexp';

/** One compiled pattern (patternmatcher's `Pattern`). */
export interface CompiledPattern {
  /** The pattern after cleaning, without its `!`. */
  readonly cleaned: string;
  /** True for a `!` exception that re-includes what earlier patterns excluded. */
  readonly exclusion: boolean;
  /** Index of this pattern in the list it was compiled from (blank ones are skipped, not counted). */
  readonly index: number;
  /** True when `path` (slash-separated, relative, cleaned) matches this pattern on its own. */
  match(path: string): boolean;
  /** True when `path` or one of its parent directories matches (one pass over `path`). */
  matchSelfOrParent(path: string): boolean;
}

/**
 * The characters patternmatcher escapes before handing a pattern to Go's regexp. It means to
 * escape `.+()|{}$`, but its 8-byte bitmap overflows for bytes ≥ 64, so `|`, `{` and `}` reach the
 * regexp unescaped: `a|b` is an alternation and `a{2}` a repetition in Docker. We match that.
 */
const REGEXP_SPECIAL = new Set(['.', '+', '(', ')', '$']);

/**
 * Builds the matcher for one cleaned pattern exactly as patternmatcher's `compile` does: `**` at
 * the start is a suffix match, `**` at the end of an otherwise literal pattern a prefix match, a
 * literal pattern an exact match, everything else a regexp (`*` → `[^/]*`, `?` → `[^/]`,
 * `**` → `(.*\/)?` or `.*`, `\x` kept as a regexp escape, brackets passed through).
 */
function compilePattern(cleaned: string): {
  match: (path: string) => boolean;
  matchSelfOrParent: (path: string) => boolean;
} {
  let re = '^';
  let kind: Kind = 'exact';
  const runes = Array.from(cleaned);
  let pos = 0;
  for (let i = 0; pos < runes.length; i++) {
    const ch = runes[pos++]!;
    if (ch === '*') {
      if (runes[pos] === '*') {
        pos++;
        if (runes[pos] === '/') pos++; // treat "**/" as "**"
        if (pos >= runes.length) {
          if (kind === 'exact') kind = 'prefix';
          else {
            re += '.*';
            kind = 'regexp';
          }
        } else {
          // `**/**/` means what one `**/` means; given once, thousands of them in a row (nobody
          // writes that, but a fuzzer does) cost no more to match than one.
          if (!re.endsWith('(.*/)?')) re += '(.*/)?';
          kind = 'regexp';
        }
        if (i === 0) kind = 'suffix';
      } else {
        re += '[^/]*';
        kind = 'regexp';
      }
    } else if (ch === '?') {
      re += '[^/]';
      kind = 'regexp';
    } else if (REGEXP_SPECIAL.has(ch)) {
      re += `\\${ch}`;
    } else if (ch === '\\') {
      if (pos < runes.length) {
        re += `\\${runes[pos++]}`;
        kind = 'regexp';
      } else {
        re += '\\';
      }
    } else if (ch === '[' || ch === ']') {
      re += ch;
      kind = 'regexp';
    } else {
      re += ch;
    }
  }
  const withParents = (match: (path: string) => boolean) => ({
    match,
    matchSelfOrParent: (path: string) => match(path) || parentPrefixes(path).some(match),
  });
  switch (kind) {
    case 'exact':
      return withParents((path) => path === cleaned);
    case 'prefix': {
      const prefix = cleaned.slice(0, -2);
      return withParents((path) => path.startsWith(prefix));
    }
    case 'suffix': {
      const suffix = cleaned.slice(2);
      return withParents(
        (path) => path.endsWith(suffix) || (suffix.startsWith('/') && path === suffix.slice(1)),
      );
    }
    case 'regexp':
      // A parent directory is a prefix of the path that ends before a `/`: the path, or one of
      // its parents, matches `re` exactly when the path matches `re` followed by an optional
      // `/anything`. One linear pass instead of one per parent, which made a deep path against
      // a pattern of many `**` cubic.
      return {
        match: compileGoRegexp(`${re}$`),
        matchSelfOrParent: compileGoRegexp(`${re}(/[\\s\\S]*)?$`),
      };
  }
}

/**
 * Per-pattern results for a directory, handed to its children so they need not re-test ancestors
 * (patternmatcher's `MatchInfo`). `undefined` means "no information": check every parent.
 */
export type ParentMatches = readonly boolean[] | undefined;

/**
 * An ordered list of include/exclude patterns with moby/patternmatcher's semantics: the last
 * pattern that matches a path (or one of its parent directories) decides; `!pattern` re-includes.
 */
export class PatternMatcher {
  /** The compiled patterns, in order. */
  readonly patterns: readonly CompiledPattern[];
  /** True when at least one pattern is a `!` exception. */
  readonly hasExclusions: boolean;

  private constructor(patterns: CompiledPattern[]) {
    this.patterns = patterns;
    this.hasExclusions = patterns.some((p) => p.exclusion);
  }

  /**
   * Compiles `patterns` as patternmatcher's `New` does: each is trimmed (blank ones skipped),
   * cleaned like Go's `filepath.Clean`, a leading `!` makes an exception (`!` alone is an error),
   * and a pattern that `filepath.Match` or Go's regexp would reject is an error. Throws
   * {@link InvalidPatternError}.
   */
  static compile(patterns: readonly string[]): PatternMatcher {
    const compiled: CompiledPattern[] = [];
    patterns.forEach((raw, index) => {
      let p = goTrimSpace(raw);
      if (p === '') return;
      p = cleanPath(p);
      let exclusion = false;
      if (p.startsWith('!')) {
        if (p.length === 1) throw new InvalidPatternError(index, raw, 'illegal exclusion pattern: "!"');
        exclusion = true;
        p = p.slice(1);
      }
      try {
        validateGoPattern(p);
      } catch (error) {
        if (error instanceof BadPatternError)
          throw new InvalidPatternError(index, raw, `syntax error in pattern ${JSON.stringify(p)}`);
        throw error;
      }
      let match: ReturnType<typeof compilePattern>;
      try {
        match = compilePattern(p);
      } catch (error) {
        if (error instanceof GoRegexpSyntaxError || error instanceof UnsupportedRegexpError)
          throw new InvalidPatternError(index, raw, `${error.message} in pattern ${JSON.stringify(p)}`);
        throw error;
      }
      compiled.push({ cleaned: p, exclusion, index, ...match });
    });
    return new PatternMatcher(compiled);
  }

  /**
   * True when `path` is matched (excluded, for an ignore file) — patternmatcher's
   * `MatchesOrParentMatches`: each pattern is tried on the path and on every parent directory,
   * in order, and the last one that applies wins. `path` is slash-separated and relative.
   */
  matches(path: string): boolean {
    const file = cleanPath(path);
    let matched = false;
    for (const pattern of this.patterns) {
      if (pattern.exclusion !== matched) continue;
      if (pattern.matchSelfOrParent(file)) matched = !pattern.exclusion;
    }
    return matched;
  }

  /**
   * patternmatcher's `MatchesUsingParentResults`, the variant a context walk uses (and so the one
   * that decides what Docker sends): patterns that matched the parent directory count as matching
   * without a re-test; the others are tried on `path` itself only. With `parent` undefined every
   * parent directory is tried, as in {@link matches}. Returns the result and the info for children.
   */
  matchesWithParent(path: string, parent: ParentMatches): { matched: boolean; info: boolean[] } {
    const file = cleanPath(path);
    const info = new Array<boolean>(this.patterns.length).fill(false);
    let matched = false;
    this.patterns.forEach((pattern, i) => {
      let match = parent?.[i] ?? false;
      if (!match) {
        if (pattern.exclusion !== matched) return;
        match = parent === undefined ? pattern.matchSelfOrParent(file) : pattern.match(file);
      }
      info[i] = match;
      if (match) matched = !pattern.exclusion;
    });
    return { matched, info };
  }

  /**
   * Whether a walk must look inside the excluded directory `dir`, because an exception could
   * re-include something below it. Follows fsutil's rule: when every exception is a plain path
   * (no wildcard once a trailing `/**` or `/*` is dropped), only exceptions under `dir/` count;
   * any wildcard exception means every excluded directory must be walked.
   */
  mustDescendExcluded(dir: string): boolean {
    if (!this.hasExclusions) return false;
    const exceptions = this.patterns.filter((p) => p.exclusion);
    const stems = exceptions.map((p) => withoutTrailingGlob(p.cleaned));
    if (stems.some((s) => /[*[\]?^\\]/.test(s))) return true;
    const dirSlash = `${dir}/`;
    return stems.some((s) => `${s}/`.startsWith(dirSlash));
  }
}

function withoutTrailingGlob(pattern: string): string {
  let p = pattern;
  if (p.endsWith('/**')) p = p.slice(0, -3);
  if (p.endsWith('/*')) p = p.slice(0, -2);
  return p;
}

/** `a/b/c` → [`a`, `a/b`] (Go: the components of `filepath.Dir`, joined up to each depth). */
function parentPrefixes(file: string): string[] {
  const dir = file.includes('/') ? file.slice(0, file.lastIndexOf('/')) : '.';
  if (dir === '.' || dir === '') return [];
  const parts = dir.split('/');
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) out.push(parts.slice(0, i + 1).join('/'));
  return out;
}
