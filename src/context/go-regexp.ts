/**
 * Translates the regular expressions moby/patternmatcher builds from `.dockerignore` patterns
 * (Go RE2 syntax, compiled with Go's default Perl flags) into JavaScript RegExps that match the
 * same strings.
 *
 * patternmatcher passes `[` and `]` and most `\x` escapes straight into its regexp, so a pattern's
 * meaning is decided by Go's regexp parser, not by `filepath.Match`: `[[:digit:]]` is a POSIX class,
 * `\d` a digit, a `*` inside brackets becomes `[^/]*` *inside* the class. This file parses that
 * Go syntax and emits an equivalent JS `u`-mode expression:
 *
 * - `.` is "anything but `\n`" (JS's `.` also refuses `\r`, U+2028 and U+2029);
 * - `\d \s \w \b` are ASCII-only in both; POSIX `[:name:]` classes are expanded to ranges;
 * - a lone `]` is a literal (Go) and is escaped for JS;
 * - escapes Go rejects (`\y`, `\1`) are errors here too.
 *
 * Not supported (throws {@link UnsupportedRegexpError}): Unicode classes `\pL`/`\p{Greek}` and the
 * byte class `\C`. Nobody writes them in a `.dockerignore`; refusing is safer than guessing.
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

  /** Parses a class after `[`; returns its JS text. */
  #class(): string {
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
    return classText(ranges, negated);
  }

  /** Parses `{n}`, `{n,}` or `{n,m}` at the cursor (Go's parseRepeat); undefined when `{` is a literal. */
  #repeat(): { text: string; length: number } | undefined {
    const rest = this.#src.slice(this.#i, this.#i + 24).join('');
    const m = /^\{(0|[1-9][0-9]*)(?:(,)(0|[1-9][0-9]*)?)?\}/.exec(rest);
    if (m === null) return undefined;
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === undefined ? -1 : Number(m[3]);
    if (min > 1000 || max > 1000 || (max >= 0 && min > max))
      throw new GoRegexpSyntaxError(`invalid repeat count ${m[0]}`);
    return { text: m[0], length: m[0].length };
  }

  /** Translates the whole expression. */
  translate(): string {
    let out = '';
    let depth = 0;
    // Whether the last thing emitted can take a quantifier, and whether it already has one.
    let canRepeat = false;
    let repeated = false;
    const quantify = (text: string): void => {
      if (repeated) throw new GoRegexpSyntaxError(`invalid nested repetition operator: ${text}`);
      if (!canRepeat) throw new GoRegexpSyntaxError(`missing argument to repetition operator: ${text}`);
      out += text;
      repeated = true;
      if (this.#peek() === '?') {
        this.#i++;
        out += '?'; // Perl's non-greedy modifier: the same strings match
      }
    };
    while (this.#i < this.#src.length) {
      const c = this.#src[this.#i++]!;
      if (c === '*' || c === '+' || c === '?') {
        quantify(c);
        continue;
      }
      if (c === '{') {
        this.#i--;
        const repeat = this.#repeat();
        if (repeat !== undefined) {
          this.#i += repeat.length;
          quantify(repeat.text);
          continue;
        }
        this.#i++;
      }
      repeated = false;
      canRepeat = true;
      switch (c) {
        case '^':
          out += '(?:^)';
          break;
        case '$':
          out += '(?:$)';
          break;
        case '.':
          out += '[^\\n]';
          break;
        case '(':
          if (this.#peek() === '?') throw new UnsupportedRegexpError('regexp group flags are not supported');
          out += '(?:';
          depth++;
          canRepeat = false;
          break;
        case ')':
          if (depth === 0) throw new GoRegexpSyntaxError('unexpected )');
          depth--;
          out += ')';
          break;
        case '|':
          out += '|';
          canRepeat = false;
          break;
        case '[':
          out += this.#class();
          break;
        case '\\': {
          if (this.#peek() === 'Q') throw new UnsupportedRegexpError('\\Q…\\E quoting is not supported');
          const esc = this.#escape(false);
          if ('rune' in esc) out += literal(String.fromCodePoint(esc.rune));
          else if ('ranges' in esc) out += classText(esc.ranges, esc.negated);
          else out += { A: '(?:^)', z: '(?:$)', b: '(?:\\b)', B: '(?:\\B)' }[esc.assertion];
          break;
        }
        default:
          out += literal(c);
      }
    }
    if (depth !== 0) throw new GoRegexpSyntaxError('missing closing )');
    return out;
  }
}

/** Compiles a Go regexp (the subset patternmatcher produces) to an equivalent JS RegExp. */
export function goRegexpToJs(source: string): RegExp {
  return new RegExp(new Parser(source).translate(), 'u');
}
