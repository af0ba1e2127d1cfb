/**
 * The shell patterns of `${a#p}`, `${a%p}` and `${a/p/r}`: `*`, `?` and `\` escapes, no bracket
 * expressions. BuildKit turns such a pattern into a Go regular expression
 * (frontend/dockerfile/shell/lex.go, `convertShellPatternToRegex`: `*` is `.*` or `.*?`, `?` is
 * `.`, everything else literal) and runs it with Go's `regexp`, which never backtracks. A
 * JavaScript RegExp does backtrack: `${a#*a*a*a*a*a*a*a*b}` over 60 `a`s took 32 s. So the pattern
 * runs here on a small Pike VM with Go's leftmost-first semantics (the match a backtracking engine
 * would find, found in O(pattern × text) steps), and Go's `.`: any character but `\n`.
 */

/**
 * What went wrong with a pattern: it is `invalid`, matching it ran out of `steps`, or the
 * replacement made the result too `long`. The lexer words it as an expansion error.
 */
export class ShellPatternError extends Error {
  constructor(
    readonly reason: 'invalid' | 'steps' | 'length',
    message: string,
  ) {
    super(message);
  }
}

/**
 * How many VM steps one expansion may spend matching patterns: 2^24 (16.7 million, about 0.1 s).
 * A real pattern over a real value takes a few thousand; hitting this takes a value of a MiB
 * matched against a pattern of dozens of wildcards.
 */
export const MAX_PATTERN_STEPS = 1 << 24;

type Token =
  | { readonly kind: 'star' }
  | { readonly kind: 'any' }
  | { readonly kind: 'char'; readonly code: number };

const STAR: Token = { kind: 'star' };
const ANY: Token = { kind: 'any' };
const NEWLINE = 0x0a;

/** A compiled shell pattern. */
export interface ShellPattern {
  readonly tokens: readonly Token[];
  /** `*` is greedy (`.*`) or lazy (`.*?`). */
  readonly greedy: boolean;
}

/** A step counter shared by the matches of one expansion. */
export interface PatternBudget {
  steps: number;
}

/**
 * Compiles a pattern. `\` escapes `*`, `?` and `\`; before `}` or `/` it is dropped (those are
 * escaped for the `${}` syntax, not for the pattern); before anything else it is an error, as in
 * BuildKit. Consecutive stars are one star: `.*.*` matches what `.*` matches.
 */
export function compileShellPattern(pattern: string, greedy: boolean): ShellPattern {
  const chars = Array.from(pattern);
  const tokens: Token[] = [];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === '*') {
      if (tokens[tokens.length - 1] !== STAR) tokens.push(STAR);
    } else if (ch === '?') {
      tokens.push(ANY);
    } else if (ch === '\\') {
      const after = chars[i + 1];
      if (after === '}' || after === '/') continue;
      if (after !== '*' && after !== '?' && after !== '\\') {
        throw new ShellPatternError('invalid', `invalid escape '\\${after ?? ''}'`);
      }
      tokens.push({ kind: 'char', code: after.codePointAt(0)! });
      i++;
    } else {
      tokens.push({ kind: 'char', code: ch.codePointAt(0)! });
    }
  }
  return { tokens, greedy };
}

/** The code points of a string (a lone surrogate is one code point, as Go reads a bad byte). */
export function codePoints(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) out.push(ch.codePointAt(0)!);
  return out;
}

interface Thread {
  readonly pc: number;
  readonly start: number;
}

/**
 * The leftmost-first match of `pattern` in `text` (code points) at or after `from`: `[start, end]`
 * in code points, or undefined. `anchored` matches only at `from`.
 * @throws ShellPatternError when the budget runs out.
 */
export function findShellPattern(
  pattern: ShellPattern,
  text: readonly number[],
  options: { readonly from: number; readonly anchored: boolean; readonly budget: PatternBudget },
): [number, number] | undefined {
  const { tokens, greedy } = pattern;
  const end = tokens.length;
  // marks[pc] is the id of the last list pc was added to: each pc at most once per position, the
  // first (highest-priority) thread to reach it wins, as in Go's NFA (regexp/exec.go).
  const marks = new Int32Array(end + 1).fill(-1);
  const budget = options.budget;
  budget.steps -= end + 1;

  const add = (list: Thread[], listId: number, pc: number, start: number): void => {
    if (marks[pc] === listId) return;
    marks[pc] = listId;
    if (pc !== end && tokens[pc]!.kind === 'star') {
      // A star either consumes a character (staying at pc) or is skipped; greedy tries consuming
      // first. The token after a star is never a star, so this recursion is one level deep.
      if (greedy) {
        list.push({ pc, start });
        add(list, listId, pc + 1, start);
      } else {
        add(list, listId, pc + 1, start);
        list.push({ pc, start });
      }
      return;
    }
    list.push({ pc, start });
  };

  let matched: [number, number] | undefined;
  let current: Thread[] = [];
  for (let at = options.from; ; at++) {
    // A new start has the lowest priority: a match that starts further left always wins.
    if (matched === undefined && (!options.anchored || at === options.from) && at <= text.length) {
      add(current, at, 0, at);
    }
    if (current.length === 0) break;
    const code = at < text.length ? text[at]! : -1;
    const next: Thread[] = [];
    budget.steps -= current.length;
    if (budget.steps < 0) throw new ShellPatternError('steps', 'pattern too complex for the value');
    for (const thread of current) {
      const pc = thread.pc;
      if (pc === end) {
        // The best match so far; lower-priority threads are cut off.
        matched = [thread.start, at];
        break;
      }
      if (code === -1) continue;
      const token = tokens[pc]!;
      if (token.kind === 'star') {
        if (code !== NEWLINE) add(next, at + 1, pc, thread.start);
      } else if (token.kind === 'any') {
        if (code !== NEWLINE) add(next, at + 1, pc + 1, thread.start);
      } else if (token.code === code) {
        add(next, at + 1, pc + 1, thread.start);
      }
    }
    if (code === -1) break;
    current = next;
  }
  return matched;
}

/** Go's `regexp.ReplaceAllString` (or the first match only) with a literal replacement. */
export function replaceShellPattern(
  pattern: ShellPattern,
  value: string,
  options: {
    readonly replacement: string;
    readonly all: boolean;
    readonly budget: PatternBudget;
    /** The longest result allowed; longer throws ShellPatternError. */
    readonly maxLength: number;
  },
): string {
  const text = codePoints(value);
  // Offsets in code points back to offsets in the string.
  const offsets = new Array<number>(text.length + 1);
  let offset = 0;
  for (let i = 0; i < text.length; i++) {
    offsets[i] = offset;
    offset += text[i]! > 0xffff ? 2 : 1;
  }
  offsets[text.length] = offset;
  let out = '';
  let copied = 0; // code points of `text` already in out
  let searchFrom = 0;
  let lastMatchEnd = -1;
  while (searchFrom <= text.length) {
    const found = findShellPattern(pattern, text, {
      from: searchFrom,
      anchored: false,
      budget: options.budget,
    });
    if (found === undefined) break;
    const [start, stop] = found;
    // Go ignores an empty match right after the previous match (regexp.go, replaceAll).
    if (!(stop === start && start === lastMatchEnd)) {
      out += value.slice(offsets[copied], offsets[start]) + options.replacement;
      if (out.length > options.maxLength) throw new ShellPatternError('length', 'result too long');
      copied = stop;
      lastMatchEnd = stop;
      if (!options.all) break;
    }
    searchFrom = stop > start ? stop : start + 1;
  }
  out += value.slice(offsets[copied]);
  if (out.length > options.maxLength) throw new ShellPatternError('length', 'result too long');
  return out;
}
