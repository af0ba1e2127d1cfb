import { type FlagKind, type FlagValue, type FlagWord, parseFlags } from './builder-flags.ts';
import { DockerfileError } from './dockerfile-error.ts';
import type { DockerfileWarning, Heredoc, Instruction, InstructionBase } from './instructions.ts';
import type { PositionMap } from './logical-lines.ts';
import type { SourceRange } from './source-range.ts';

/** What the instruction parser needs to know about one logical line. */
export interface InstructionSource {
  readonly file: string;
  readonly text: string;
  readonly range: SourceRange;
  readonly comments: readonly string[];
  readonly heredocs: readonly Heredoc[];
  readonly escapeToken: '\\' | '`';
  readonly positions: PositionMap;
  /** Warnings found while typing the instruction are added here. */
  readonly warnings: DockerfileWarning[];
}

/** What an instruction written without flags gets: shared, never mutated. */
const NO_FLAG_VALUES: ReadonlyMap<string, FlagValue> = new Map();

/**
 * One instruction being typed: its keyword, its arguments after the flags, what every instruction
 * node carries, and how to report a problem at a place in it. Each keyword's parser gets one.
 */
export class InstructionContext {
  readonly source: InstructionSource;
  /** Where the instruction's text starts in the logical line (an ONBUILD trigger starts later). */
  readonly textOffset: number;
  /** The instruction's text (the logical line, or an ONBUILD trigger's part of it). */
  readonly text: string;
  /** The keyword as written. */
  readonly keyword: string;
  /** The keyword in upper case, for messages. */
  readonly upper: string;
  /** The arguments after the flags, and where they start in the logical line. */
  readonly args: string;
  readonly argsOffset: number;
  /** What every instruction node carries. */
  readonly base: InstructionBase;
  readonly #flagWords: readonly FlagWord[];
  readonly #parseTrigger: (text: string, offset: number) => Instruction;

  constructor(options: {
    source: InstructionSource;
    textOffset: number;
    text: string;
    keyword: string;
    args: string;
    argsOffset: number;
    flagWords: readonly FlagWord[];
    /** For an ONBUILD trigger: where its keyword starts in the logical line (its range starts there). */
    keywordAt?: number;
    /** Types an ONBUILD trigger (the instruction parser itself). */
    parseTrigger: (text: string, offset: number) => Instruction;
  }) {
    this.source = options.source;
    this.textOffset = options.textOffset;
    this.text = options.text;
    this.keyword = options.keyword;
    this.upper = options.keyword.toUpperCase();
    this.args = options.args;
    this.argsOffset = options.argsOffset;
    this.#flagWords = options.flagWords;
    this.#parseTrigger = options.parseTrigger;
    this.base = {
      keyword: options.keyword,
      original: options.text,
      range: options.keywordAt === undefined ? options.source.range : this.rangeAt(options.keywordAt),
      comments: options.source.comments,
    };
  }

  /** The range starting at `offset` in the logical line; the whole instruction when nothing is there. */
  rangeAt(offset: number | undefined): SourceRange {
    // Nothing at the offset (a missing argument): point at the instruction itself.
    if (offset === undefined || offset >= this.textOffset + this.text.length) return this.source.range;
    const at = this.source.positions.positionAt(offset);
    return {
      line: at.line,
      column: at.column,
      endLine: this.source.range.endLine,
      endColumn: this.source.range.endColumn,
    };
  }

  fail(message: string, offset?: number, hint?: string): DockerfileError {
    return new DockerfileError(message, {
      file: this.source.file,
      range: this.rangeAt(offset),
      instruction: this.upper,
      hint,
    });
  }

  /** Runs `fn`, placing a location-less DockerfileError it throws at `offset`. */
  wrap<T>(offset: number | undefined, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (error instanceof DockerfileError) {
        throw error.placed({ file: this.source.file, range: this.rangeAt(offset), instruction: this.upper });
      }
      throw error;
    }
  }

  /** The instruction's flags, checked against the ones it `accepted`s. */
  flags(accepted: Readonly<Record<string, FlagKind>>): ReadonlyMap<string, FlagValue> {
    if (this.#flagWords.length === 0) return NO_FLAG_VALUES;
    return parseFlags(this.#flagWords, {
      instruction: this.upper,
      accepted,
      fail: (message, offset, hint) => this.fail(message, offset, hint),
    });
  }

  /** Adds a warning of `rule` at the whole logical line. */
  warn(rule: string, message: string): void {
    this.source.warnings.push({ rule, message, file: this.source.file, range: this.source.range });
  }

  /** Types an ONBUILD trigger: `text` starting at `offset` in the logical line. */
  parseTrigger(text: string, offset: number): Instruction {
    return this.#parseTrigger(text, offset);
  }
}

/** The flags of an instruction that takes none. */
export const NO_FLAGS: Readonly<Record<string, FlagKind>> = {};
