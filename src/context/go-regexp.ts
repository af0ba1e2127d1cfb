/**
 * Runs the regular expressions moby/patternmatcher builds from `.dockerignore` patterns (Go RE2
 * syntax, compiled with Go's default Perl flags) with Go's meaning.
 *
 * patternmatcher passes `[` and `]` and most `\x` escapes straight into its regexp, so a pattern's
 * meaning is decided by Go's regexp parser, not by `filepath.Match`: `[[:digit:]]` is a POSIX class,
 * `\d` a digit, a `*` inside brackets becomes `[^/]*` *inside* the class. This file parses that
 * Go syntax into a small AST and runs it on one of two engines:
 *
 * - V8's RegExp (`u` mode), for expressions whose backtracking stays cheap. `.` becomes "anything
 *   but `\n`" (JS's `.` also refuses `\r`, U+2028 and U+2029), classes become explicit code point
 *   ranges (POSIX classes expanded; `\d \s \w \b` are ASCII-only in both), a lone `]` is a literal;
 * - a Thompson NFA, linear in the input as RE2 is, for expressions with many competing
 *   repetitions (`*a*a*a*b`, several `**`), which would take a backtracking engine minutes.
 *
 * Escapes Go rejects (`\y`, `\1`) are errors here too. Not supported (throws
 * {@link UnsupportedRegexpError}): Unicode classes `\pL`/`\p{Greek}`, `\Q…\E` and `\C`.
 * Nobody writes them in a `.dockerignore`; refusing is safer than guessing.
 */

/** The Go regexp would not compile: Docker fails the build on this pattern at match time. */
export class GoRegexpSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GoRegexpSyntaxError';
  }
}

/** A valid Go regexp construct this translation does not implement. */
export class UnsupportedRegexpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedRegexpError';
  }
}

type Range = readonly [number, number];
const MAX_RUNE = 0x10ffff;

const DIGIT: Range[] = [[0x30, 0x39]];
const SPACE_PERL: Range[] = [
  [0x09, 0x0a],
  [0x0c, 0x0d],
  [0x20, 0x20],
];
const WORD: Range[] = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
];

const POSIX: Readonly<Record<string, Range[]>> = {
  alnum: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  alpha: [
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  ascii: [[0x00, 0x7f]],
  blank: [
    [0x09, 0x09],
    [0x20, 0x20],
  ],
  cntrl: [
    [0x00, 0x1f],
    [0x7f, 0x7f],
  ],
  digit: DIGIT,
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [
    [0x21, 0x2f],
    [0x3a, 0x40],
    [0x5b, 0x60],
    [0x7b, 0x7e],
  ],
  space: [
    [0x09, 0x0d],
    [0x20, 0x20],
  ],
  upper: [[0x41, 0x5a]],
  word: WORD,
  xdigit: [
    [0x30, 0x39],
    [0x41, 0x46],
    [0x61, 0x66],
  ],
};

function complement(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= MAX_RUNE) out.push([next, MAX_RUNE]);
  return out;
}

function hex(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

function classText(ranges: readonly Range[], negated: boolean): string {
  // An empty class matches nothing; JS `[]` means the same, `[^]` anything.
  const body = ranges.map(([lo, hi]) => (lo === hi ? hex(lo) : `${hex(lo)}-${hex(hi)}`)).join('');
  return `[${negated ? '^' : ''}${body}]`;
}

function literal(ch: string): string {
  return /^[A-Za-z0-9_]$/.test(ch) ? ch : hex(ch.codePointAt(0)!);
}

const PERL_CLASSES: Readonly<Record<string, { ranges: Range[]; negated: boolean }>> = {
  d: { ranges: DIGIT, negated: false },
  D: { ranges: DIGIT, negated: true },
  s: { ranges: SPACE_PERL, negated: false },
  S: { ranges: SPACE_PERL, negated: true },
  w: { ranges: WORD, negated: false },
  W: { ranges: WORD, negated: true },
};

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = { a: 7, f: 12, t: 9, n: 10, r: 13, v: 11 };

class Parser {
  readonly #src: string[];
  #i = 0;

  constructor(source: string) {
    this.#src = Array.from(source);
  }

  #peek(offset = 0): string | undefined {
    return this.#src[this.#i + offset];
  }

  /** Parses an escape after `\`; returns a single rune, or ranges for a Perl class. */
  #escape(
    inClass: boolean,
  ): { rune: number } | { ranges: Range[]; negated: boolean } | { assertion: string } {
    const c = this.#src[this.#i++];
    if (c === undefined) throw new GoRegexpSyntaxError('trailing backslash at end of expression');
    const cp = c.codePointAt(0)!;
    if (cp < 0x80 && !/[A-Za-z0-9]/.test(c)) return { rune: cp };
    const perl = PERL_CLASSES[c];
    if (perl) return perl;
    const simple = SIMPLE_ESCAPES[c];
    if (simple !== undefined) return { rune: simple };
    if (c >= '0' && c <= '7') {
      // Octal: \0 alone, or \1-\7 only when followed by another octal digit; up to 3 digits.
      if (c !== '0' && !/^[0-7]$/.test(this.#peek() ?? ''))
        throw new GoRegexpSyntaxError(`invalid escape \\${c}`);
      let digits = c;
      while (digits.length < 3 && /^[0-7]$/.test(this.#peek() ?? '')) digits += this.#src[this.#i++];
      return { rune: Number.parseInt(digits, 8) };
    }
    if (c === 'x') {
      if (this.#peek() === '{') {
        this.#i++;
        let digits = '';
        while (this.#peek() !== undefined && this.#peek() !== '}') digits += this.#src[this.#i++];
        if (this.#peek() !== '}' || !/^[0-9A-Fa-f]+$/.test(digits))
          throw new GoRegexpSyntaxError('invalid escape \\x{');
        this.#i++;
        const value = Number.parseInt(digits, 16);
        if (value > MAX_RUNE) throw new GoRegexpSyntaxError('invalid escape \\x{');
        return { rune: value };
      }
      const digits = `${this.#peek() ?? ''}${this.#peek(1) ?? ''}`;
      if (!/^[0-9A-Fa-f]{2}$/.test(digits)) throw new GoRegexpSyntaxError('invalid escape \\x');
      this.#i += 2;
      return { rune: Number.parseInt(digits, 16) };
    }
    if (!inClass && (c === 'A' || c === 'z' || c === 'b' || c === 'B')) return { assertion: c };
    if (c === 'p' || c === 'P' || c === 'C' || (!inClass && c === 'Q'))
      throw new UnsupportedRegexpError(`the regexp escape \\${c} is not supported in ignore patterns`);
    throw new GoRegexpSyntaxError(`invalid escape \\${c}`);
  }

  /** Parses a class after `[`; returns the code point ranges it matches. */
  #class(): Range[] {
    let negated = false;
    if (this.#peek() === '^') {
      negated = true;
      this.#i++;
    }
    const ranges: Range[] = [];
    let first = true;
    for (;;) {
      const c = this.#peek();
      if (c === undefined) throw new GoRegexpSyntaxError('missing closing ]');
      if (c === ']' && !first) {
        this.#i++;
        break;
      }
      first = false;
      if (c === '[' && this.#peek(1) === ':') {
        const rest = this.#src.slice(this.#i + 2).join('');
        const close = rest.indexOf(':]');
        if (close !== -1) {
          let name = rest.slice(0, close);
          let neg = false;
          if (name.startsWith('^')) {
            neg = true;
            name = name.slice(1);
          }
          const posix = POSIX[name];
          if (posix === undefined) throw new GoRegexpSyntaxError(`invalid character class range [:${name}:]`);
          ranges.push(...(neg ? complement(posix) : posix));
          this.#i += 2 + Array.from(rest.slice(0, close)).length + 2;
          continue;
        }
      }
      let lo: number;
      if (c === '\\') {
        this.#i++;
        const esc = this.#escape(true);
        if ('ranges' in esc) {
          ranges.push(...(esc.negated ? complement(esc.ranges) : esc.ranges));
          continue;
        }
        if ('assertion' in esc) throw new GoRegexpSyntaxError('invalid escape in class');
        lo = esc.rune;
      } else {
        lo = c.codePointAt(0)!;
        this.#i++;
      }
      let hi = lo;
      if (this.#peek() === '-' && this.#peek(1) !== undefined && this.#peek(1) !== ']') {
        this.#i++;
        const h = this.#peek()!;
        if (h === '\\') {
          this.#i++;
          const esc = this.#escape(true);
          if (!('rune' in esc)) throw new GoRegexpSyntaxError('invalid character class range');
          hi = esc.rune;
        } else {
          hi = h.codePointAt(0)!;
          this.#i++;
        }
        if (hi < lo) throw new GoRegexpSyntaxError('invalid character class range');
      }
      ranges.push([lo, hi]);
    }
    return negated ? complement(ranges) : ranges;
  }

  /** Parses `{n}`, `{n,}` or `{n,m}` at the cursor (Go's parseRepeat); undefined when `{` is a literal. */
  #repeat(): { text: string; length: number; min: number; max: number } | undefined {
    const rest = this.#src.slice(this.#i, this.#i + 24).join('');
    const m = /^\{(0|[1-9][0-9]*)(?:(,)(0|[1-9][0-9]*)?)?\}/.exec(rest);
    if (m === null) return undefined;
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === undefined ? -1 : Number(m[3]);
    if (min > 1000 || max > 1000 || (max >= 0 && min > max))
      throw new GoRegexpSyntaxError(`invalid repeat count ${m[0]}`);
    return { text: m[0], length: m[0].length, min, max };
  }

  /** Parses the whole expression into an AST (Go's precedence: alternation < concatenation < repetition). */
  parse(): Node {
    interface Frame {
      readonly alternatives: Node[];
      items: Node[];
    }
    const seal = (frame: Frame): Node => {
      const alternatives = [...frame.alternatives, catOf(frame.items)];
      return alternatives.length === 1 ? alternatives[0]! : { t: 'alt', items: alternatives };
    };
    const stack: Frame[] = [];
    let frame: Frame = { alternatives: [], items: [] };
    // Whether the last item already carries a repetition (Go refuses a second one: "a**").
    let repeated = false;
    const quantify = (min: number, max: number, text: string): void => {
      if (repeated) throw new GoRegexpSyntaxError(`invalid nested repetition operator: ${text}`);
      const last = frame.items.pop();
      if (last === undefined)
        throw new GoRegexpSyntaxError(`missing argument to repetition operator: ${text}`);
      frame.items.push({ t: 'rep', min, max, node: last });
      repeated = true;
      if (this.#peek() === '?') this.#i++; // Perl's non-greedy modifier: the same strings match
    };
    while (this.#i < this.#src.length) {
      const c = this.#src[this.#i++]!;
      if (c === '*' || c === '+' || c === '?') {
        quantify(c === '+' ? 1 : 0, c === '?' ? 1 : -1, c);
        continue;
      }
      if (c === '{') {
        this.#i--;
        const repeat = this.#repeat();
        if (repeat !== undefined) {
          this.#i += repeat.length;
          quantify(repeat.min, repeat.max, repeat.text);
          continue;
        }
        this.#i++;
      }
      repeated = false;
      switch (c) {
        case '^':
          frame.items.push({ t: 'assert', kind: '^' });
          break;
        case '$':
          frame.items.push({ t: 'assert', kind: '$' });
          break;
        case '.':
          frame.items.push({ t: 'char', ranges: ANY_BUT_NEWLINE });
          break;
        case '(':
          if (this.#peek() === '?') throw new UnsupportedRegexpError('regexp group flags are not supported');
          stack.push(frame);
          frame = { alternatives: [], items: [] };
          break;
        case ')': {
          const outer = stack.pop();
          if (outer === undefined) throw new GoRegexpSyntaxError('unexpected )');
          const group = seal(frame);
          frame = outer;
          frame.items.push({ t: 'group', node: group });
          break;
        }
        case '|':
          frame.alternatives.push(catOf(frame.items));
          frame.items = [];
          break;
        case '[':
          frame.items.push({ t: 'char', ranges: this.#class() });
          break;
        case '\\': {
          if (this.#peek() === 'Q') throw new UnsupportedRegexpError('\\Q…\\E quoting is not supported');
          const esc = this.#escape(false);
          if ('rune' in esc) frame.items.push({ t: 'char', ranges: [[esc.rune, esc.rune]] });
          else if ('ranges' in esc)
            frame.items.push({ t: 'char', ranges: esc.negated ? complement(esc.ranges) : esc.ranges });
          else frame.items.push({ t: 'assert', kind: ASSERTIONS[esc.assertion]! });
          break;
        }
        default: {
          const cp = c.codePointAt(0)!;
          frame.items.push({ t: 'char', ranges: [[cp, cp]] });
        }
      }
    }
    if (stack.length !== 0) throw new GoRegexpSyntaxError('missing closing )');
    return seal(frame);
  }
}

const ASSERTIONS: Readonly<Record<string, Assertion>> = { A: '^', z: '$', b: 'b', B: 'B' };

function catOf(items: Node[]): Node {
  return items.length === 1 ? items[0]! : { t: 'cat', items };
}

/** `.` in Go (without the s flag): any code point but `\n`. */
const ANY_BUT_NEWLINE: Range[] = [
  [0, 9],
  [11, MAX_RUNE],
];

type Assertion = '^' | '$' | 'b' | 'B';

/** The parsed expression. */
type Node =
  | { readonly t: 'char'; readonly ranges: readonly Range[] }
  | { readonly t: 'cat'; readonly items: readonly Node[] }
  | { readonly t: 'alt'; readonly items: readonly Node[] }
  | { readonly t: 'group'; readonly node: Node }
  | { readonly t: 'rep'; readonly min: number; readonly max: number; readonly node: Node }
  | { readonly t: 'assert'; readonly kind: Assertion };

// --- back end 1: a JavaScript RegExp (fast; used when backtracking cannot blow up) -----------

function toJs(node: Node): string {
  switch (node.t) {
    case 'char':
      return node.ranges.length === 1 && node.ranges[0]![0] === node.ranges[0]![1]
        ? literal(String.fromCodePoint(node.ranges[0]![0]))
        : classText(node.ranges, false);
    case 'cat':
      return node.items.map(toJs).join('');
    case 'alt':
      return node.items.map(toJs).join('|');
    case 'group':
      return `(?:${toJs(node.node)})`;
    case 'rep': {
      const inner = `(?:${toJs(node.node)})`;
      if (node.max === -1) return node.min === 0 ? `${inner}*` : `${inner}{${node.min},}`;
      return `${inner}{${node.min},${node.max}}`;
    }
    case 'assert':
      return { '^': '(?:^)', $: '(?:$)', b: '(?:\\b)', B: '(?:\\B)' }[node.kind];
  }
}

/**
 * How many ways the expression can split a string, roughly: each unbounded or ranged repetition
 * is a free choice point, and alternatives not anchored at the start are tried at every offset.
 * With few choice points a backtracking engine stays polynomial of low degree on paths.
 */
function choicePoints(node: Node): number {
  switch (node.t) {
    case 'char':
    case 'assert':
      return 0;
    case 'cat':
    case 'alt':
      return node.items.reduce((n, item) => n + choicePoints(item), node.t === 'alt' ? 1 : 0);
    case 'group':
      return choicePoints(node.node);
    case 'rep':
      return (
        (node.max === node.min ? 0 : 1) + (node.max === -1 || node.max > 1 ? 2 : 1) * choicePoints(node.node)
      );
  }
}

/**
 * Expressions with more choice points than this run on the NFA. Three keeps the common shapes
 * (a leading `**` then a `*` name, or `**` on both sides of a directory name) on V8's fast
 * engine; their worst case is cubic in
 * one path component (≤ 255 characters), a few tens of milliseconds for a hostile file name.
 */
const MAX_BACKTRACKING_CHOICES = 3;

// --- back end 2: a Thompson NFA, linear in the length of the input (as Go's RE2 is) -----------

type State =
  | { readonly k: 'char'; readonly ranges: readonly Range[]; out: number }
  | { readonly k: 'split'; out: number; out2: number }
  | { readonly k: 'assert'; readonly kind: Assertion; out: number }
  | { readonly k: 'match' };

/** Beyond this many states a pattern is refused (only absurd `{n,m}` counts get here). */
const MAX_STATES = 20_000;

class NfaBuilder {
  readonly states: State[] = [];

  #add(state: State): number {
    if (this.states.length >= MAX_STATES)
      throw new UnsupportedRegexpError('the pattern expands to too large a regular expression');
    this.states.push(state);
    return this.states.length - 1;
  }

  /** Builds `node` with its exit wired to `next`; returns its entry state. */
  build(node: Node, next: number): number {
    switch (node.t) {
      case 'char':
        return this.#add({ k: 'char', ranges: node.ranges, out: next });
      case 'assert':
        return this.#add({ k: 'assert', kind: node.kind, out: next });
      case 'group':
        return this.build(node.node, next);
      case 'cat': {
        let entry = next;
        for (let i = node.items.length - 1; i >= 0; i--) entry = this.build(node.items[i]!, entry);
        return entry;
      }
      case 'alt': {
        let entry = this.build(node.items[node.items.length - 1]!, next);
        for (let i = node.items.length - 2; i >= 0; i--)
          entry = this.#add({ k: 'split', out: this.build(node.items[i]!, next), out2: entry });
        return entry;
      }
      case 'rep': {
        let entry = next;
        if (node.max === -1) {
          const loop = this.#add({ k: 'split', out: -1, out2: next });
          (this.states[loop] as { out: number }).out = this.build(node.node, loop);
          entry = loop;
        } else {
          for (let i = node.min; i < node.max; i++)
            entry = this.#add({ k: 'split', out: this.build(node.node, entry), out2: next });
        }
        for (let i = 0; i < node.min; i++) entry = this.build(node.node, entry);
        return entry;
      }
    }
  }
}

function isWordChar(cp: number | undefined): boolean {
  return (
    cp !== undefined &&
    ((cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || cp === 0x5f || (cp >= 0x61 && cp <= 0x7a))
  );
}

function inRanges(ranges: readonly Range[], cp: number): boolean {
  for (const [lo, hi] of ranges) if (cp >= lo && cp <= hi) return true;
  return false;
}

/** True when every way through `node` starts with the `^` assertion (so a match can only start at 0). */
function anchoredAtStart(node: Node): boolean {
  switch (node.t) {
    case 'assert':
      return node.kind === '^';
    case 'cat':
      return node.items.length > 0 && anchoredAtStart(node.items[0]!);
    case 'alt':
      return node.items.every(anchoredAtStart);
    case 'group':
      return anchoredAtStart(node.node);
    default:
      return false;
  }
}

/**
 * Compiles `node` to an NFA and returns a search function with Go's `MatchString` semantics
 * (a match may start anywhere unless the expression is anchored). Thompson simulation: the set
 * of live states advances one code point at a time, so time is linear in the input.
 */
function nfaMatcher(node: Node): (text: string) => boolean {
  const builder = new NfaBuilder();
  builder.states.push({ k: 'match' });
  const start = builder.build(node, 0);
  const { states } = builder;
  const anchored = anchoredAtStart(node);
  const size = states.length;
  const mark = new Int32Array(size);
  let generation = 0;
  let current = new Int32Array(size);
  let next = new Int32Array(size);
  const stack = new Int32Array(size * 2 + 2);

  return (text: string): boolean => {
    const length = text.length;
    let currentCount = 0;
    // Adds the ε-closure of `from` at string index `pos` to `list`; returns the new count, or -1
    // when the match state was reached.
    const closure = (list: Int32Array, count: number, from: number, pos: number): number => {
      let top = 0;
      stack[top++] = from;
      while (top > 0) {
        const s = stack[--top]!;
        if (mark[s] === generation) continue;
        mark[s] = generation;
        const state = states[s]!;
        switch (state.k) {
          case 'match':
            return -1;
          case 'char':
            list[count++] = s;
            break;
          case 'split':
            stack[top++] = state.out2;
            stack[top++] = state.out;
            break;
          case 'assert': {
            let ok: boolean;
            if (state.kind === '^') ok = pos === 0;
            else if (state.kind === '$') ok = pos === length;
            else {
              const boundary =
                isWordChar(pos > 0 ? text.charCodeAt(pos - 1) : undefined) !==
                isWordChar(text.charCodeAt(pos));
              ok = state.kind === 'b' ? boundary : !boundary;
            }
            if (ok) stack[top++] = state.out;
          }
        }
      }
      return count;
    };
    generation++;
    let pos = 0;
    for (;;) {
      if (pos === 0 || !anchored) {
        currentCount = closure(current, currentCount, start, pos);
        if (currentCount < 0) return true;
      }
      if (pos >= length || (anchored && currentCount === 0)) return false;
      const cp = text.codePointAt(pos)!;
      const width = cp > 0xffff ? 2 : 1;
      generation++;
      let nextCount = 0;
      for (let i = 0; i < currentCount; i++) {
        const state = states[current[i]!] as { k: 'char'; ranges: readonly Range[]; out: number };
        if (inRanges(state.ranges, cp)) {
          nextCount = closure(next, nextCount, state.out, pos + width);
          if (nextCount < 0) return true;
        }
      }
      [current, next] = [next, current];
      currentCount = nextCount;
      pos += width;
    }
  };
}

/**
 * Compiles a Go regexp (the subset patternmatcher produces) to a function with Go's
 * `MatchString` semantics. Simple expressions run as a JS RegExp; ones whose backtracking could
 * explode (several `**` or `*` that can trade characters) run on a linear-time NFA, as RE2 would.
 */
export function compileGoRegexp(
  source: string,
  options: { engine?: 'auto' | 'nfa' | 'js' } = {},
): (text: string) => boolean {
  const ast = new Parser(source).parse();
  const engine = options.engine ?? 'auto';
  if (engine === 'nfa' || (engine === 'auto' && choicePoints(ast) > MAX_BACKTRACKING_CHOICES))
    return nfaMatcher(ast);
  const regexp = new RegExp(toJs(ast), 'u');
  return (text) => regexp.test(text);
}
