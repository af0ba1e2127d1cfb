import { goQuote } from '../util/index.ts';
import { DockerfileError } from './dockerfile-error.ts';
import {
  codePoints,
  compileShellPattern,
  findShellPattern,
  MAX_PATTERN_STEPS,
  type PatternBudget,
  replaceShellPattern,
  ShellPatternError,
} from './shell-pattern.ts';

/**
 * The variables a word is expanded against. `get` returns undefined for an unset variable (an
 * empty string is a set, empty variable: `${a:-x}` and `${a-x}` tell the two apart).
 */
export interface ExpansionEnv {
  get(name: string): string | undefined;
}

/** How a {@link ShellLexer} treats quotes, escapes and unset variables. */
export interface ShellLexerOptions {
  /** `\` (default) or `` ` ``, from the `# escape=` directive. */
  readonly escapeToken?: '\\' | '`';
  /** Keep quote characters in the result (used to detect quoted heredoc delimiters). */
  readonly rawQuotes?: boolean;
  /** Keep escape characters in the result. */
  readonly rawEscapes?: boolean;
  /** Treat quotes as ordinary characters (heredoc bodies are expanded this way). */
  readonly skipProcessQuotes?: boolean;
  /** Leave references to unset variables as written instead of expanding them to "". */
  readonly skipUnsetEnv?: boolean;
}

/** The outcome of expanding one word. */
export interface ExpandedWord {
  /** The word after quote removal and substitution, spaces kept. */
  readonly result: string;
  /** The same text split into words the way the shell would (`EXPOSE $PORTS`). */
  readonly words: readonly string[];
  /** Variables the word referenced that were set. */
  readonly matched: ReadonlySet<string>;
  /** Variables the word referenced that were unset. */
  readonly unmatched: ReadonlySet<string>;
}

/** An environment from `KEY=value` strings or a map; on Linux keys are case-sensitive. */
export function envFrom(
  entries: Iterable<readonly [string, string]> | ReadonlyMap<string, string>,
): ExpansionEnv {
  const map = entries instanceof Map ? (entries as ReadonlyMap<string, string>) : new Map(entries);
  return { get: (name) => map.get(name) };
}

/** An environment where nothing is set. */
export const EMPTY_ENV: ExpansionEnv = { get: () => undefined };

const EOF = '';

/**
 * The longest word an expansion may produce: 1 MiB (1,048,576 characters), or the word as written
 * when that is longer. No process can receive more: Linux refuses a single argument or environment
 * string over 128 KiB (MAX_ARG_STRLEN), so neither a `--build-arg` nor a variable a RUN step sees
 * comes near it. Without a bound, ARGs that double each other (`ARG a1=${a0}${a0}`, 40 times) ran
 * for 18 s and 700 MB before V8 gave up.
 */
export const MAX_EXPANDED_LENGTH = 1 << 20;

/**
 * How deeply `${…}` may nest inside another's word (`${a:-${b:-${c}}}` is 3 deep): 100. Real
 * Dockerfiles nest two or three; 5,000 overflowed the stack.
 */
export const MAX_EXPANSION_DEPTH = 100;

/**
 * BuildKit's shell lexer (frontend/dockerfile/shell/lex.go): quote removal, escapes, `$a`, `${a}`,
 * `${a:-b}` `${a-b}` `${a:+b}` `${a+b}` `${a:?m}` `${a?m}` `${a#p}` `${a##p}` `${a%p}` `${a%%p}`
 * `${a/p/r}` `${a//p/r}`, and word splitting after substitution. It follows BuildKit's rules, not
 * POSIX sh's where the two differ (for example `\` inside double quotes escapes only `"`, `$`
 * and the escape token itself, and `""` on its own produces no word).
 */
export class ShellLexer {
  readonly escapeToken: string;
  readonly options: ShellLexerOptions;

  constructor(options: ShellLexerOptions = {}) {
    this.options = options;
    this.escapeToken = options.escapeToken ?? '\\';
  }

  /** Expands one word; throws a {@link DockerfileError} (without location) on a syntax error. */
  expand(word: string, env: ExpansionEnv): ExpandedWord {
    // Most words have nothing to expand or unquote: they come back as they are.
    if (!hasSpecial(word, this.escapeToken)) {
      return { result: word, words: splitOnSpace(word), matched: NONE, unmatched: NONE };
    }
    const run = new LexRun(word, env, this);
    try {
      const { result, words } = run.processStopOn(EOF, this.options.rawEscapes ?? false);
      run.checkLength(result.length);
      return { result, words, matched: run.matched, unmatched: run.unmatched };
    } catch (error) {
      if (error instanceof LexError) {
        const message = `failed to process ${quoteWord(word)}: ${error.message}`;
        const options = error.hint === undefined ? {} : { hint: error.hint };
        throw error.limit ? new ExpansionLimitError(message, options) : new DockerfileError(message, options);
      }
      throw error;
    }
  }

  /** The expanded word as one string (BuildKit's `ProcessWord`). */
  processWord(word: string, env: ExpansionEnv): string {
    return this.expand(word, env).result;
  }

  /** The expanded word split into words (BuildKit's `ProcessWords`). */
  processWords(word: string, env: ExpansionEnv): readonly string[] {
    return this.expand(word, env).words;
  }
}

/**
 * A word that passes one of the expansion limits ({@link MAX_EXPANDED_LENGTH},
 * {@link MAX_EXPANSION_DEPTH}, {@link MAX_PATTERN_STEPS}). Unlike a syntax error, which BuildKit
 * ignores where it only looks for heredocs, this one always fails.
 */
export class ExpansionLimitError extends DockerfileError {}

/** A syntax or expansion error inside one word; `expand` turns it into a DockerfileError. */
class LexError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    readonly limit = false,
  ) {
    super(message);
  }
}

const NONE: ReadonlySet<string> = new Set();

/** Whether a word holds anything the lexer would change: `$`, quotes, `<<` or the escape token. */
function hasSpecial(word: string, escapeToken: string): boolean {
  for (let i = 0; i < word.length; i++) {
    const ch = word[i]!;
    if (ch === '$' || ch === "'" || ch === '"' || ch === '<' || ch === escapeToken) return true;
  }
  return false;
}

/** Whitespace-separated words, as the collector would produce for plain text. */
function splitOnSpace(text: string): string[] {
  const words: string[] = [];
  let start = -1;
  for (let i = 0; i <= text.length; i++) {
    const space = i === text.length || isSpace(text[i]!);
    if (space) {
      if (start !== -1) words.push(text.slice(start, i));
      start = -1;
    } else if (start === -1) {
      start = i;
    }
  }
  return words;
}

/** Words collected while scanning: unquoted whitespace separates words, quoted text never does. */
class WordCollector {
  buffer = '';
  inWord = false;
  readonly words: string[] = [];

  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord && this.buffer.length > 0) {
        this.words.push(this.buffer);
        this.buffer = '';
        this.inWord = false;
      }
    } else {
      this.addRawChar(ch);
    }
  }

  addRawChar(ch: string): void {
    this.buffer += ch;
    this.inWord = true;
  }

  addString(text: string): void {
    // Runs of non-space characters are appended at once (one concatenation, not one per char).
    let i = 0;
    while (i < text.length) {
      if (isSpace(text[i]!)) {
        this.addChar(text[i]!);
        i++;
        continue;
      }
      let j = i + 1;
      while (j < text.length && !isSpace(text[j]!)) j++;
      this.addRawString(text.slice(i, j));
      i = j;
    }
  }

  addRawString(text: string): void {
    this.buffer += text;
    this.inWord = true;
  }

  finish(): string[] {
    if (this.buffer.length > 0) {
      this.words.push(this.buffer);
      this.buffer = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class LexRun {
  private readonly text: string;
  private pos = 0;
  private rawEscapes: boolean;
  /** How many `${` the scan is inside. */
  private depth = 0;
  private readonly maxLength: number;
  private readonly budget: PatternBudget = { steps: MAX_PATTERN_STEPS };
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();

  constructor(
    text: string,
    private readonly env: ExpansionEnv,
    private readonly lexer: ShellLexer,
  ) {
    this.text = text;
    this.rawEscapes = lexer.options.rawEscapes ?? false;
    this.maxLength = Math.max(MAX_EXPANDED_LENGTH, text.length);
  }

  /** Throws once a result being built passes {@link MAX_EXPANDED_LENGTH}. */
  checkLength(length: number): void {
    if (length > this.maxLength) {
      throw new LexError(
        `expanded value is longer than ${this.maxLength} characters, the limit`,
        'variables that repeat one another, like ARG b=$a$a, double at each step',
        true,
      );
    }
  }

  /** The character (code point) at the position, or EOF. */
  private peek(): string {
    const text = this.text;
    if (this.pos >= text.length) return EOF;
    const c = text.charCodeAt(this.pos);
    return c >= 0xd800 && c <= 0xdbff && this.pos + 1 < text.length
      ? text.slice(this.pos, this.pos + 2)
      : text[this.pos]!;
  }

  private next(): string {
    const ch = this.peek();
    this.pos += ch.length;
    return ch;
  }

  /** Scans until `stop` (consumed) or the end of input; `stop` = EOF means "to the end". */
  processStopOn(stop: string, rawEscapes: boolean): { result: string; words: string[] } {
    const savedRaw = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let result = '';
      const words = new WordCollector();
      const quotes = !(this.lexer.options.skipProcessQuotes ?? false);
      const escapeChar = this.lexer.escapeToken;
      while (this.peek() !== EOF) {
        const ch = this.peek();
        if (stop !== EOF && ch === stop) {
          this.next();
          return { result, words: words.finish() };
        }
        if (ch === '$') {
          const text = this.processDollar();
          result += text;
          this.checkLength(result.length);
          words.addString(text);
        } else if (ch === '<') {
          const text = this.processPossibleHeredoc();
          result += text;
          words.addRawString(text);
        } else if (quotes && ch === "'") {
          const text = this.processSingleQuote();
          result += text;
          words.addRawString(text);
        } else if (quotes && ch === '"') {
          const text = this.processDoubleQuote();
          result += text;
          this.checkLength(result.length);
          words.addRawString(text);
        } else if (ch !== escapeChar) {
          // A run of ordinary characters is copied in one piece.
          const text = this.text;
          let end = this.pos + 1;
          while (end < text.length) {
            const next = text[end]!;
            if (
              next === stop ||
              next === '$' ||
              next === '<' ||
              next === escapeChar ||
              (quotes && (next === "'" || next === '"'))
            )
              break;
            end++;
          }
          const run = text.slice(this.pos, end);
          this.pos = end;
          words.addString(run);
          result += run;
        } else {
          let c = this.next();
          if (c === escapeChar) {
            if (this.rawEscapes) {
              words.addRawChar(c);
              result += c;
            }
            // The escape token escapes the next character, except at the end of the word.
            c = this.next();
            if (c === EOF) break;
            words.addRawChar(c);
          } else {
            words.addChar(c);
          }
          result += c;
        }
      }
      if (stop !== EOF) throw new LexError(`unexpected end of statement while looking for matching ${stop}`);
      return { result, words: words.finish() };
    } finally {
      this.rawEscapes = savedRaw;
    }
  }

  private processSingleQuote(): string {
    // Everything up to the next ' is literal; a ' cannot be escaped inside single quotes.
    const raw = this.lexer.options.rawQuotes ?? false;
    let result = '';
    const open = this.next();
    if (raw) result += open;
    for (;;) {
      const ch = this.next();
      if (ch === EOF)
        throw new LexError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") {
        if (raw) result += ch;
        return result;
      }
      result += ch;
    }
  }

  private processDoubleQuote(): string {
    // Literal except $ substitutions; the escape token escapes only " $ and itself.
    const raw = this.lexer.options.rawQuotes ?? false;
    const escapeChar = this.lexer.escapeToken;
    let result = '';
    const open = this.next();
    if (raw) result += open;
    for (;;) {
      const peeked = this.peek();
      if (peeked === EOF)
        throw new LexError('unexpected end of statement while looking for matching double-quote');
      if (peeked === '"') {
        const close = this.next();
        if (raw) result += close;
        return result;
      }
      if (peeked === '$') {
        result += this.processDollar();
        this.checkLength(result.length);
        continue;
      }
      let ch = this.next();
      if (ch === escapeChar) {
        if (this.rawEscapes) result += ch;
        const after = this.peek();
        if (after === EOF) continue; // an escape at the very end is dropped
        if (after === '"' || after === '$' || after === escapeChar) ch = this.next();
      }
      result += ch;
    }
  }

  private processDollar(): string {
    this.next(); // $
    const skipUnset = this.lexer.options.skipUnsetEnv ?? false;
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const value = this.getEnv(name);
      if (value === undefined && skipUnset) return `$${name}`;
      return value ?? '';
    }
    this.next(); // {
    if (this.depth >= MAX_EXPANSION_DEPTH) {
      throw new LexError(
        `\${…} nested more than ${MAX_EXPANSION_DEPTH} deep`,
        'split the expression over several ARG or ENV instructions',
        true,
      );
    }
    this.depth++;
    try {
      return this.processBraced(skipUnset);
    } finally {
      this.depth--;
    }
  }

  /** `${…}` after the `${`. */
  private processBraced(skipUnset: boolean): string {
    const first = this.peek();
    if (first === EOF) throw new LexError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new LexError('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.next();
    if (ch === EOF) throw new LexError("syntax error: missing '}'");
    let modifier = ch;
    if (ch === '}') {
      const value = this.getEnv(name);
      if (value === undefined && skipUnset) return `\${${name}}`;
      return value ?? '';
    }
    if (ch === '/') return this.processReplace(name);
    let nullIsUnset = false;
    if (ch === ':') {
      nullIsUnset = true;
      ch = this.next();
      modifier += ch;
    } else if (!'+-?#%'.includes(ch)) {
      throw new LexError(`unsupported modifier (${modifier}) in substitution`);
    }
    const patternLike = ch === '#' || ch === '%';
    if (nullIsUnset && patternLike) throw new LexError(`unsupported modifier (${modifier}) in substitution`);
    let word: string;
    try {
      word = this.processStopOn('}', patternLike).result;
    } catch (error) {
      if (error instanceof LexError && this.peek() === EOF) throw new LexError("syntax error: missing '}'");
      throw error;
    }
    const value = this.getEnv(name);
    if (value === undefined && skipUnset) return `\${${name}${modifier}${word}}`;
    const unsetOrNull = value === undefined || (nullIsUnset && value === '');
    switch (ch) {
      case '-':
        return unsetOrNull ? word : (value ?? '');
      case '+':
        return unsetOrNull ? '' : word;
      case '?':
        if (value === undefined)
          throw new LexError(`${name}: ${word === '' ? 'is not allowed to be unset' : word}`);
        if (nullIsUnset && value === '')
          throw new LexError(`${name}: ${word === '' ? 'is not allowed to be empty' : word}`);
        return value;
      case '#':
      case '%': {
        // # and % remove the shortest match, ## and %% the longest.
        let pattern = word;
        let greedy = false;
        if (pattern.startsWith(ch)) {
          greedy = true;
          pattern = pattern.slice(1);
        }
        return this.withPattern(pattern, () =>
          ch === '%'
            ? trimSuffix(pattern, value ?? '', greedy, this.budget)
            : trimPrefix(pattern, value ?? '', greedy, this.budget),
        );
      }
      default:
        throw new LexError(`unsupported modifier (${modifier}) in substitution`);
    }
  }

  private processReplace(name: string): string {
    const all = this.peek() === '/';
    if (all) this.next();
    let pattern: string;
    try {
      pattern = this.processStopOn('/', true).result;
    } catch (error) {
      if (error instanceof LexError && this.peek() === EOF)
        throw new LexError(`syntax error: missing '/' in $${'{}'}`);
      throw error;
    }
    let replacement: string;
    try {
      replacement = this.processStopOn('}', true).result;
    } catch (error) {
      if (error instanceof LexError && this.peek() === EOF) throw new LexError("syntax error: missing '}'");
      throw error;
    }
    const value = this.getEnv(name);
    if (value === undefined && (this.lexer.options.skipUnsetEnv ?? false))
      return `\${${name}/${pattern}/${replacement}}`;
    return this.withPattern(pattern, () =>
      replaceShellPattern(compileShellPattern(pattern, true), value ?? '', {
        replacement,
        all,
        budget: this.budget,
        maxLength: this.maxLength,
      }),
    );
  }

  /** Runs a pattern operation, turning its errors into the lexer's. */
  private withPattern(pattern: string, fn: () => string): string {
    try {
      return fn();
    } catch (error) {
      if (!(error instanceof ShellPatternError)) throw error;
      if (error.reason === 'length') this.checkLength(Number.POSITIVE_INFINITY);
      if (error.reason === 'steps')
        throw new LexError(
          `pattern ${quoteWord(pattern)} in substitution needs more than ${MAX_PATTERN_STEPS} matching steps for this value`,
          'use a pattern with fewer * or a shorter value',
          true,
        );
      throw new LexError(`invalid pattern (${pattern}) in substitution: ${error.message}`);
    }
  }

  /** A name: letters, digits and `_`; or all leading digits (`$10`); or one special parameter. */
  private processName(): string {
    let name = '';
    while (this.peek() !== EOF) {
      const ch = this.peek();
      if (name === '' && isDigit(ch)) {
        while (this.peek() !== EOF && isDigit(this.peek())) name += this.next();
        return name;
      }
      if (name === '' && '@*#?-$!0'.includes(ch)) return this.next();
      if (!isLetter(ch) && !isDigit(ch) && ch !== '_') break;
      name += this.next();
    }
    return name;
  }

  private processPossibleHeredoc(): string {
    this.next(); // <
    if (this.peek() !== '<') return '<';
    this.next();
    // `<< EOF` keeps its spaces so the heredoc word stays one word.
    let space = '';
    while (this.peek() === ' ' || this.peek() === '\t' || this.peek() === '\r') space += this.next();
    return `<<${space}`;
  }

  private getEnv(name: string): string | undefined {
    const value = this.env.get(name);
    if (value === undefined) this.unmatched.add(name);
    else this.matched.add(name);
    return value;
  }
}

function trimPrefix(pattern: string, value: string, greedy: boolean, budget: PatternBudget): string {
  const text = codePoints(value);
  const match = findShellPattern(compileShellPattern(pattern, greedy), text, {
    from: 0,
    anchored: true,
    budget,
  });
  if (match === undefined) return value;
  let offset = 0; // match[1] is in code points
  for (let i = 0; i < match[1]; i++) offset += text[i]! > 0xffff ? 2 : 1;
  return value.slice(offset);
}

function trimSuffix(pattern: string, value: string, greedy: boolean, budget: PatternBudget): string {
  // As BuildKit: reverse both the pattern (keeping escape pairs in order) and the value, and trim
  // a prefix instead.
  return reverse(trimPrefix(reversePattern(pattern), reverse(value), greedy, budget));
}

function reversePattern(pattern: string): string {
  const chars = Array.from(pattern);
  const pieces: string[] = [];
  for (let i = 0; i < chars.length; ) {
    if (chars[i] === '\\' && i !== chars.length - 1) {
      pieces.push(chars[i]! + chars[i + 1]!);
      i += 2;
    } else {
      pieces.push(chars[i]!);
      i++;
    }
  }
  return pieces.reverse().join('');
}

function reverse(text: string): string {
  return Array.from(text).reverse().join('');
}

/** Go's `unicode.IsSpace`. */
export function isSpace(ch: string): boolean {
  const c = ch.codePointAt(0) ?? 0;
  if (c <= 0xff) return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0x85 || c === 0xa0;
  return (
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

const LETTER = /^\p{L}$/u;
const DIGIT = /^\p{Nd}$/u;

function isLetter(ch: string): boolean {
  const c = ch.charCodeAt(0);
  if (c < 0x80) return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
  return LETTER.test(ch);
}

function isDigit(ch: string): boolean {
  const c = ch.charCodeAt(0);
  if (c < 0x80) return c >= 0x30 && c <= 0x39;
  return DIGIT.test(ch);
}

/**
 * Go's `%q` for the words quoted in messages, as BuildKit's `failed to process %q`; a word of
 * more than 80 characters is cut to its first 80.
 */
function quoteWord(text: string): string {
  return text.length > 80 ? `${goQuote(text.slice(0, 80))}…` : goQuote(text);
}
