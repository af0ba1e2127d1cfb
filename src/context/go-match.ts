/**
 * A port of Go's `path/filepath.Match` (Unix flavour): the wildcard rules of COPY/ADD sources and
 * `--exclude`, and the syntax check moby/patternmatcher runs on every `.dockerignore` pattern.
 *
 * ```
 * pattern: { term }
 * term:    '*'         any sequence of non-'/' characters
 *          '?'         any single non-'/' character
 *          '[' [ '^' ] { range } ']'   character class (non-empty)
 *          c           matches c (c != '*', '?', '\\', '[')
 *          '\\' c      matches c
 * range:   c | lo '-' hi
 * ```
 *
 * Like Go (since 1.16), a malformed pattern is reported even when the name fails to match early.
 * Strings are compared by Unicode code point, as Go compares decoded UTF-8 runes.
 */

/** Thrown by {@link goMatch} for a malformed pattern (Go's `filepath.ErrBadPattern`). */
export class BadPatternError extends Error {
  constructor() {
    super('syntax error in pattern');
    this.name = 'BadPatternError';
  }
}

type Runes = readonly string[];

/** Splits off a leading run of stars and the chunk up to the next star outside a class. */
function scanChunk(pattern: Runes, start: number): { star: boolean; chunkStart: number; chunkEnd: number } {
  let i = start;
  let star = false;
  while (i < pattern.length && pattern[i] === '*') {
    i++;
    star = true;
  }
  const chunkStart = i;
  let inRange = false;
  scan: for (; i < pattern.length; i++) {
    switch (pattern[i]) {
      case '\\':
        if (i + 1 < pattern.length) i++;
        break;
      case '[':
        inRange = true;
        break;
      case ']':
        inRange = false;
        break;
      case '*':
        if (!inRange) break scan;
        break;
    }
  }
  return { star, chunkStart, chunkEnd: i };
}

/** Reads one possibly escaped character of a class; throws for `-`, `]` or the end. */
function getEsc(chunk: Runes, at: number, end: number): { rune: string; next: number } {
  let i = at;
  if (i >= end || chunk[i] === '-' || chunk[i] === ']') throw new BadPatternError();
  if (chunk[i] === '\\') {
    i++;
    if (i >= end) throw new BadPatternError();
  }
  const rune = chunk[i]!;
  i++;
  if (i >= end) throw new BadPatternError();
  return { rune, next: i };
}

/**
 * Matches one chunk against the start of `name` (from `at`); returns where the name continues, or
 * -1 when it does not match. The whole chunk is always scanned so syntax errors surface.
 */
function matchChunk(chunk: Runes, start: number, end: number, name: Runes, at: number): number {
  let failed = false;
  let s = at;
  let i = start;
  while (i < end) {
    if (!failed && s >= name.length) failed = true;
    const c = chunk[i]!;
    if (c === '[') {
      let r = '';
      if (!failed) r = name[s++]!;
      i++;
      let negated = false;
      if (i < end && chunk[i] === '^') {
        negated = true;
        i++;
      }
      let match = false;
      let nrange = 0;
      for (;;) {
        if (i < end && chunk[i] === ']' && nrange > 0) {
          i++;
          break;
        }
        const lo = getEsc(chunk, i, end);
        i = lo.next;
        let hi = lo.rune;
        if (chunk[i] === '-') {
          const h = getEsc(chunk, i + 1, end);
          hi = h.rune;
          i = h.next;
        }
        const cp = r.codePointAt(0) ?? -1;
        if (lo.rune.codePointAt(0)! <= cp && cp <= hi.codePointAt(0)!) match = true;
        nrange++;
      }
      if (match === negated) failed = true;
    } else if (c === '?') {
      if (!failed) {
        if (name[s] === '/') failed = true;
        s++;
      }
      i++;
    } else {
      if (c === '\\') {
        i++;
        if (i >= end) throw new BadPatternError();
      }
      if (!failed) {
        if (chunk[i] !== name[s]) failed = true;
        s++;
      }
      i++;
    }
  }
  return failed ? -1 : s;
}

/**
 * Reports whether `name` matches the shell pattern `pattern` exactly as Go's `filepath.Match`
 * does on Unix; throws {@link BadPatternError} for a malformed pattern.
 */
export function goMatch(pattern: string, name: string): boolean {
  return matchRunes(Array.from(pattern), Array.from(name));
}

function matchRunes(pattern: Runes, name: Runes): boolean {
  let p = 0;
  let n = 0;
  outer: while (p < pattern.length) {
    const { star, chunkStart, chunkEnd } = scanChunk(pattern, p);
    p = chunkEnd;
    if (star && chunkStart === chunkEnd) {
      // A trailing * matches the rest of the name unless it has a '/'.
      return !name.slice(n).includes('/');
    }
    const t = matchChunk(pattern, chunkStart, chunkEnd, name, n);
    if (t !== -1 && (t === name.length || p < pattern.length)) {
      n = t;
      continue;
    }
    if (star) {
      for (let i = n; i < name.length && name[i] !== '/'; i++) {
        const t2 = matchChunk(pattern, chunkStart, chunkEnd, name, i + 1);
        if (t2 !== -1) {
          if (p === pattern.length && t2 < name.length) continue;
          n = t2;
          continue outer;
        }
      }
    }
    // No match: still check that the rest of the pattern is well-formed.
    while (p < pattern.length) {
      const rest = scanChunk(pattern, p);
      p = rest.chunkEnd;
      matchChunk(pattern, rest.chunkStart, rest.chunkEnd, [], 0);
    }
    return false;
  }
  return n === name.length;
}

/** Throws {@link BadPatternError} when `pattern` is malformed for {@link goMatch}. */
export function validateGoPattern(pattern: string): void {
  goMatch(pattern, '.');
}

/** True when `name` holds a wildcard character (`*`, `?`, `[`) not escaped by `\\` (fsutil's containsWildcards). */
export function hasWildcards(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (c === '\\') i++;
    else if (c === '*' || c === '?' || c === '[') return true;
  }
  return false;
}
