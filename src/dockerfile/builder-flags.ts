import type { DockerfileError } from './dockerfile-error.ts';
import { isSpace } from './shell-lexer.ts';
import { didYouMean } from './suggest.ts';

/** One `--flag[=value]` word of an instruction, quotes removed, with its offset in the line. */
export interface FlagWord {
  readonly text: string;
  readonly offset: number;
}

/** An instruction's arguments split into leading `--flags` and the rest. */
export interface SplitArguments {
  readonly flags: readonly FlagWord[];
  /** The arguments after the flags, trimmed. */
  readonly rest: string;
  /** Offset of `rest` in the text that was split. */
  readonly restOffset: number;
}

/**
 * Takes the leading `--flag` words off an instruction's arguments, as BuildKit's
 * `extractBuilderFlags` does: a word is a flag while it starts with `--`; quotes group and are
 * removed; the escapeToken token escapes the next character; a lone `--` ends the flags.
 */
export function extractBuilderFlags(
  line: string,
  options: { readonly escapeToken: string; readonly baseOffset?: number },
): SplitArguments {
  const { escapeToken, baseOffset = 0 } = options;
  const flags: FlagWord[] = [];
  const length = line.length;
  let pos = 0;
  for (;;) {
    while (pos < length && isSpace(line[pos]!)) pos++;
    if (pos >= length) return { flags, rest: '', restOffset: baseOffset + length };
    if (line[pos] !== '-' || line[pos + 1] !== '-') return restFrom(line, pos, flags, baseOffset);
    // One word: quotes group and are removed; the escape token keeps the next character. The
    // word is assembled from slices between the characters that are dropped.
    const wordStart = pos;
    let word = '';
    let segment = pos;
    let quote = '';
    let blankOk = false;
    while (pos < length) {
      const ch = line[pos]!;
      if (quote === '') {
        if (isSpace(ch)) break;
        if (ch === "'" || ch === '"') {
          word += line.slice(segment, pos);
          quote = ch;
          blankOk = true;
          segment = pos + 1;
        } else if (ch === escapeToken) {
          word += line.slice(segment, pos);
          segment = pos + 1; // the escaped character starts the next slice; a final escape is dropped
          pos++;
        }
      } else if (ch === quote) {
        word += line.slice(segment, pos);
        quote = '';
        segment = pos + 1;
      } else if (ch === escapeToken) {
        word += line.slice(segment, pos);
        segment = pos + 1;
        if (pos + 1 === length) quote = '';
        pos++;
      }
      pos++;
    }
    word += line.slice(segment, Math.min(pos, length));
    if (word === '--') return restFrom(line, pos, flags, baseOffset);
    if (blankOk || word.length > 0) flags.push({ text: word, offset: baseOffset + wordStart });
  }
}

/** The arguments from `pos` on, trimmed, after the flags found so far. */
function restFrom(line: string, pos: number, flags: readonly FlagWord[], baseOffset: number): SplitArguments {
  let start = pos;
  while (start < line.length && isSpace(line[start]!)) start++;
  let end = line.length;
  while (end > start && isSpace(line[end - 1]!)) end--;
  return { flags, rest: line.slice(start, end), restOffset: baseOffset + start };
}

/** The kinds of flag BuildKit's `BFlags` knows. */
export type FlagKind = 'bool' | 'string' | 'strings';

/** The parsed value of one flag; `used` tells a given default from an explicit value. */
export interface FlagValue {
  readonly used: boolean;
  readonly value: string | undefined;
  readonly values: readonly string[];
  readonly bool: boolean;
  /** Offset of the (last) flag word in the logical line, for error positions. */
  readonly offset: number | undefined;
  /** Offsets of each occurrence of a repeatable flag, in the order of `values`. */
  readonly offsets: readonly number[];
}

/**
 * Parses an instruction's flags against the flags it accepts (the map holds only the flags given), with BuildKit's rules and messages:
 * unknown flags (with a "did you mean"), duplicates (except repeatable ones), `--bool`,
 * `--bool=true|false`, `--string=value` (a value is required), `--strings=v` repeated.
 */
export function parseFlags(
  words: readonly FlagWord[],
  options: {
    /** The instruction keyword, for messages. */
    readonly instruction: string;
    /** The flags the instruction takes, by name (without `--`). */
    readonly accepted: Readonly<Record<string, FlagKind>>;
    /** Makes the error for a problem at an offset of the logical line. */
    readonly fail: (message: string, offset: number, hint?: string) => DockerfileError;
  },
): Map<string, FlagValue> {
  const { instruction, accepted, fail } = options;
  const state = new Map<
    string,
    {
      used: boolean;
      value: string | undefined;
      values: string[];
      bool: boolean;
      offset: number | undefined;
      offsets: number[];
    }
  >();
  for (const word of words) {
    if (word.text === '--') break;
    if (!word.text.startsWith('--')) throw fail(`arg should start with -- : ${word.text}`, word.offset);
    const eq = word.text.indexOf('=');
    const flagName = eq === -1 ? word.text : word.text.slice(0, eq);
    const hasValue = eq !== -1;
    const value = hasValue ? word.text.slice(eq + 1) : '';
    const name = flagName.slice(2);
    const kind = Object.hasOwn(accepted, name) ? accepted[name] : undefined;
    if (kind === undefined) {
      const names = Object.keys(accepted);
      const suggestion = didYouMean(name, names, { caseSensitive: true });
      const hint =
        suggestion !== undefined
          ? suggestion.replace(/^did you mean /, 'did you mean --')
          : names.length === 0
            ? `${instruction} takes no flags`
            : `${instruction} accepts ${names.map((n) => `--${n}`).join(', ')}`;
      throw fail(`unknown flag: ${flagName}`, word.offset, hint);
    }
    // Entries exist only for flags that were given: an absent flag reads as undefined.
    let entry = state.get(name);
    if (entry === undefined) {
      entry = { used: false, value: undefined, values: [], bool: false, offset: undefined, offsets: [] };
      state.set(name, entry);
    }
    if (entry.used && kind !== 'strings') throw fail(`duplicate flag specified: ${flagName}`, word.offset);
    entry.used = true;
    entry.offset = word.offset;
    if (kind === 'bool') {
      if (hasValue && value === '') throw fail(`missing a value on flag: ${flagName}`, word.offset);
      const lowered = value.toLowerCase();
      if (lowered === 'true' || lowered === '') entry.bool = true;
      else if (lowered === 'false') entry.bool = false;
      else throw fail(`expecting boolean value for flag ${flagName}, not: ${value}`, word.offset);
      entry.value = String(entry.bool);
    } else {
      if (!hasValue)
        throw fail(`missing a value on flag: ${flagName}`, word.offset, `write ${flagName}=<value>`);
      entry.value = value;
      if (kind === 'strings') {
        entry.values.push(value);
        entry.offsets.push(word.offset);
      }
    }
  }
  return state;
}
