import { DockerfileError } from './dockerfile-error.ts';
import type { Directive, Heredoc } from './instructions.ts';
import { EMPTY_ENV, ExpansionLimitError, ShellLexer } from './shell-lexer.ts';
import type { SourceRange } from './source-range.ts';

/**
 * One instruction as the line reader sees it, before it is typed: the logical line (continuations
 * joined, comment lines inside dropped), its place in the file, and its heredoc bodies. This
 * follows BuildKit's parser.Parse loop (frontend/dockerfile/parser/parser.go).
 */
export interface LogicalLine {
  readonly text: string;
  readonly range: SourceRange;
  readonly comments: readonly string[];
  readonly heredocs: readonly Heredoc[];
  /** Empty continuation lines were skipped inside this instruction (a warning in BuildKit). */
  readonly hadEmptyContinuation: boolean;
  /** Maps an offset in `text` to a line and column in the file. */
  readonly positions: PositionMap;
}

/** Maps offsets in a logical line back to lines and columns in the file. */
export interface PositionMap {
  positionAt(offset: number): { line: number; column: number };
}

/** A {@link PositionMap} over the pieces a logical line was joined from. */
class SegmentMap implements PositionMap {
  constructor(private readonly segments: readonly Segment[]) {}

  positionAt(offset: number): { line: number; column: number } {
    let segment = this.segments[0]!;
    for (const candidate of this.segments) {
      if (candidate.offset <= offset) segment = candidate;
      else break;
    }
    return { line: segment.line, column: segment.column + (offset - segment.offset) };
  }
}

/** What the line reader found: directives, the escapeToken token in force, and logical lines. */
export interface ReadLinesResult {
  readonly directives: readonly Directive[];
  readonly escapeToken: '\\' | '`';
  readonly lines: readonly LogicalLine[];
}

/** Where a piece of a logical line came from. */
interface Segment {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

// Go's `\s` is [\t\n\f\r ], narrower than JavaScript's.
const DIRECTIVE = /^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/;
/** Shared empty lists: most instructions have no comments and no heredocs. Never mutated. */
const NO_COMMENTS: string[] = [];
const NO_HEREDOCS: Heredoc[] = [];

const HEREDOC_WORD = /^(\d*)<<(-?)\s*([^<]*)$/;

/**
 * Splits Dockerfile text into logical lines. Throws {@link DockerfileError} for a repeated or
 * invalid directive, an unterminated heredoc, or a file without instructions.
 */
export function readLogicalLines(
  source: string,
  options: {
    /** The file name errors use. */
    readonly file: string;
    /** Whether a logical line may carry heredocs (RUN, COPY, ADD not in JSON form). */
    readonly canContainHeredoc: (text: string, escapeToken: '\\' | '`') => boolean;
  },
): ReadLinesResult {
  const text = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  const reader = new LineReader(new PhysicalLines(text), options);
  const lines = reader.readAll();
  if (lines.length === 0) {
    const last = Math.max(1, reader.physical.count);
    throw new DockerfileError('file with no instructions', {
      file: options.file,
      range: { line: last, column: 1, endLine: last, endColumn: 1 },
      hint: 'a Dockerfile needs at least a FROM instruction',
    });
  }
  return { directives: reader.directives, escapeToken: reader.escapeToken, lines };
}

/**
 * BuildKit's parser.Parse loop over the physical lines: directives at the top, then one logical
 * line at a time — its continuations, then its heredoc bodies.
 */
class LineReader {
  readonly physical: PhysicalLines;
  readonly directives: Directive[] = [];
  escapeToken: '\\' | '`' = '\\';
  readonly #file: string;
  readonly #canContainHeredoc: (text: string, escapeToken: '\\' | '`') => boolean;
  readonly #seen = new Set<string>();
  #directivesDone = false;
  /** The comments above the next instruction. */
  #comments: string[] = NO_COMMENTS;
  /** The next physical line to read (0-based). */
  #index = 0;

  constructor(
    physical: PhysicalLines,
    options: {
      readonly file: string;
      readonly canContainHeredoc: (text: string, escapeToken: '\\' | '`') => boolean;
    },
  ) {
    this.physical = physical;
    this.#file = options.file;
    this.#canContainHeredoc = options.canContainHeredoc;
  }

  readAll(): LogicalLine[] {
    const lines: LogicalLine[] = [];
    const physical = this.physical;
    while (this.#index < physical.count) {
      const lineNumber = this.#index + 1;
      this.#index++;
      const trimmedRaw = physical.trimmed(this.#index - 1);
      const leading = leadingSpace(trimmedRaw);
      const commentLine = trimmedRaw.charCodeAt(leading) === 0x23;
      if (commentLine) this.#addComment(trimmedRaw.slice(leading + 1).trim());
      const token = leading === 0 ? trimmedRaw : trimmedRaw.slice(leading);
      if (!this.#directivesDone && this.#tryDirective(token, lineNumber)) {
        this.#comments = this.#comments.length <= 1 ? NO_COMMENTS : this.#comments.slice(0, -1);
        continue;
      }
      const trimmed = trimContinuation(commentLine ? '' : token, this.escapeToken);
      if (trimmed.complete && trimmed.text.length === 0) continue;
      const joined = this.#continuation(trimmed, { line: lineNumber, column: leading + 1 });
      this.#directivesDone = true;
      let currentLine = joined.endLine;
      let heredocs: Heredoc[] = NO_HEREDOCS;
      if (joined.text.includes('<<') && this.#canContainHeredoc(joined.text, this.escapeToken)) {
        ({ heredocs, endLine: currentLine } = this.#heredocBodies(joined.text, lineNumber, currentLine));
      }
      const lastLength =
        currentLine >= 1 && currentLine <= physical.count ? physical.trimmedLength(currentLine - 1) : 0;
      lines.push({
        text: joined.text,
        range: { line: lineNumber, column: leading + 1, endLine: currentLine, endColumn: lastLength + 1 },
        comments: this.#comments,
        heredocs,
        hadEmptyContinuation: joined.hadEmptyContinuation,
        positions: new SegmentMap(joined.segments),
      });
      this.#comments = NO_COMMENTS;
    }
    return lines;
  }

  #error(message: string, line: number, endLine = line): DockerfileError {
    return new DockerfileError(message, {
      file: this.#file,
      range: { line, column: 1, endLine, endColumn: 1 },
    });
  }

  #addComment(comment: string): void {
    if (comment === '') this.#comments = NO_COMMENTS;
    else if (this.#comments === NO_COMMENTS) this.#comments = [comment];
    else this.#comments.push(comment);
  }

  /** BuildKit's directive parser: only `#` lines at the very top, each name once. */
  #tryDirective(token: string, lineNumber: number): boolean {
    if (this.#directivesDone) return false;
    if (!token.startsWith('#')) {
      this.#directivesDone = true;
      return false;
    }
    const match = DIRECTIVE.exec(trimLeftSpace(token.slice(1)));
    if (match === null) {
      this.#directivesDone = true;
      return false;
    }
    const name = match[1]!.toLowerCase();
    if (name !== 'syntax' && name !== 'escape' && name !== 'check') {
      this.#directivesDone = true;
      return false;
    }
    if (this.#seen.has(name)) throw this.#error(`only one ${name} parser directive can be used`, lineNumber);
    this.#seen.add(name);
    const value = match[2]!;
    if (name === 'escape') {
      if (value !== '`' && value !== '\\') {
        throw this.#error(`invalid escape token '${value}' does not match \` or \\`, lineNumber);
      }
      this.escapeToken = value;
    }
    this.directives.push({ name, value, line: lineNumber });
    return true;
  }

  /**
   * The rest of a logical line whose first part is `first`: continuation lines joined (comment
   * lines inside skipped, empty ones noted), with where each part came from.
   */
  #continuation(
    first: { text: string; complete: boolean },
    at: { line: number; column: number },
  ): { text: string; segments: Segment[]; endLine: number; hadEmptyContinuation: boolean } {
    const physical = this.physical;
    let buffer = first.text;
    const segments: Segment[] = [{ offset: 0, line: at.line, column: at.column }];
    let complete = first.complete;
    let endLine = at.line;
    let hadEmptyContinuation = false;
    while (!complete && this.#index < physical.count) {
      const next = physical.trimmed(this.#index);
      this.#index++;
      endLine = this.#index;
      this.#directivesDone = true;
      const nextLeading = leadingSpace(next);
      if (next.charCodeAt(nextLeading) === 0x23) continue; // a comment line
      if (nextLeading === next.length) {
        hadEmptyContinuation = true;
        continue;
      }
      const part = trimContinuation(next, this.escapeToken);
      segments.push({ offset: buffer.length, line: endLine, column: 1 });
      buffer += part.text;
      complete = part.complete;
    }
    return { text: buffer, segments, endLine, hadEmptyContinuation };
  }

  /** The bodies of the heredocs a logical line opens, read from the lines after it. */
  #heredocBodies(text: string, startLine: number, endLine: number): { heredocs: Heredoc[]; endLine: number } {
    const physical = this.physical;
    const heredocs: Heredoc[] = [];
    let currentLine = endLine;
    for (const found of heredocsFromLine(text, this.#file, startLine, currentLine)) {
      let content = '';
      let terminated = false;
      while (this.#index < physical.count) {
        const bodyIndex = this.#index;
        this.#index++;
        currentLine = this.#index;
        let candidate = physical.trimmed(bodyIndex);
        if (found.chomp) candidate = candidate.replace(/^\t+/, '');
        if (candidate === found.name) {
          terminated = true;
          break;
        }
        content += physical.raw(bodyIndex);
      }
      if (!terminated) throw this.#error('unterminated heredoc', startLine, currentLine);
      heredocs.push({ ...found, content });
    }
    return { heredocs, endLine: currentLine };
  }
}

/**
 * The physical lines of a file as offsets into it: `raw` keeps the line ending (heredoc bodies keep
 * them, as in BuildKit), `trimmed` drops trailing CR and LF. Only the text asked for is sliced.
 */
class PhysicalLines {
  private readonly starts: number[] = [];
  readonly count: number;

  constructor(private readonly text: string) {
    let start = 0;
    while (start < text.length) {
      this.starts.push(start);
      const nl = text.indexOf('\n', start);
      start = nl === -1 ? text.length : nl + 1;
    }
    this.count = this.starts.length;
    this.starts.push(text.length);
  }

  raw(index: number): string {
    return this.text.slice(this.starts[index]!, this.starts[index + 1]!);
  }

  trimmedLength(index: number): number {
    const start = this.starts[index]!;
    let end = this.starts[index + 1]!;
    while (end > start && (this.text.charCodeAt(end - 1) === 10 || this.text.charCodeAt(end - 1) === 13))
      end--;
    return end - start;
  }

  trimmed(index: number): string {
    const start = this.starts[index]!;
    let end = this.starts[index + 1]!;
    while (end > start && (this.text.charCodeAt(end - 1) === 10 || this.text.charCodeAt(end - 1) === 13))
      end--;
    return this.text.slice(start, end);
  }
}

/** Go's `bytes.TrimLeftFunc(s, unicode.IsSpace)` for the ASCII and Latin-1 spaces. */
function trimLeftSpace(text: string): string {
  let i = 0;
  while (i < text.length && isSpaceCode(text.charCodeAt(i))) i++;
  return i === 0 ? text : text.slice(i);
}

/** How many whitespace characters a line starts with. */
function leadingSpace(text: string): number {
  let i = 0;
  while (i < text.length && isSpaceCode(text.charCodeAt(i))) i++;
  return i;
}

function isSpaceCode(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0x85 || c === 0xa0;
}

/**
 * The escape token is a line continuation when it is the last character before trailing blanks
 * (spaces, tabs) and is not itself preceded by the escape token, so `\\` at the end is a literal
 * backslash. This is BuildKit's `([^\\])\\[ \t]*$|^\\[ \t]*$`, without a regular expression.
 */
function trimContinuation(text: string, escapeToken: string): { text: string; complete: boolean } {
  let last = text.length - 1;
  while (last >= 0 && (text.charCodeAt(last) === 0x20 || text.charCodeAt(last) === 0x09)) last--;
  if (last < 0 || text[last] !== escapeToken) return { text, complete: true };
  if (last === 0) return { text: '', complete: false };
  if (text[last - 1] === escapeToken) return { text, complete: true };
  return { text: text.slice(0, last), complete: false };
}

const HEREDOC_LINE_LEXER = new ShellLexer({
  escapeToken: '\\',
  rawQuotes: true,
  rawEscapes: true,
  skipUnsetEnv: true,
});
const HEREDOC_NAME_LEXER = new ShellLexer({ escapeToken: '\\', skipUnsetEnv: true });
const HEREDOC_RAW_LEXER = new ShellLexer({ escapeToken: '\\', skipUnsetEnv: true, rawQuotes: true });

/** The heredoc a word opens (`<<EOF`, `<<-"EOF"`, `3<<EOF`), if any, without its body. */
export function parseHeredocWord(word: string): Omit<Heredoc, 'content'> | undefined {
  const match = HEREDOC_WORD.exec(word);
  if (match === null) return undefined;
  const rest = match[3]!;
  if (rest === '') return undefined;
  // The delimiter is read with and without quote removal: if the two differ in their quotes,
  // part of the delimiter was quoted, and the body is not expanded.
  const words = HEREDOC_NAME_LEXER.processWords(rest, EMPTY_ENV);
  if (words.length !== 1) return undefined;
  const rawWords = HEREDOC_RAW_LEXER.processWords(rest, EMPTY_ENV);
  if (rawWords.length !== words.length) {
    throw new DockerfileError(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  }
  const quotes = (s: string): number => s.split(/['"]/).length - 1;
  return {
    name: words[0]!,
    expand: quotes(words[0]!) === quotes(rawWords[0]!),
    chomp: match[2] === '-',
    fileDescriptor: match[1] === '' ? 0 : Number.parseInt(match[1]!, 10),
  };
}

function heredocsFromLine(
  line: string,
  file: string,
  startLine: number,
  endLine: number,
): Omit<Heredoc, 'content'>[] {
  let words: readonly string[];
  try {
    words = HEREDOC_LINE_LEXER.processWords(line, EMPTY_ENV);
  } catch (error) {
    // BuildKit ignores lexing errors here: a line its lexer cannot split has no heredocs. A line
    // past an expansion limit is refused outright, not read as one without heredocs.
    if (error instanceof DockerfileError && !(error instanceof ExpansionLimitError)) return [];
    if (error instanceof DockerfileError)
      throw error.placed({ file, range: { line: startLine, column: 1, endLine, endColumn: 1 } });
    throw error;
  }
  const out: Omit<Heredoc, 'content'>[] = [];
  for (const word of words) {
    try {
      const heredoc = parseHeredocWord(word);
      if (heredoc !== undefined) out.push(heredoc);
    } catch (error) {
      if (error instanceof DockerfileError) {
        throw error.placed({ file, range: { line: startLine, column: 1, endLine, endColumn: 1 } });
      }
      throw error;
    }
  }
  return out;
}
