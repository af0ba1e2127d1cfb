import { DockerfileError } from './dockerfile-error.ts';
import type { CommandLine, KeyValue } from './instructions.ts';
import { isSpace } from './shell-lexer.ts';

/*
 * The argument forms of instructions, as BuildKit's parser/line_parsers.go reads them: JSON or
 * shell form, whitespace-separated words, quoted words, name=value pairs.
 */

/** `[\t\v\f\r ]+`, the separator BuildKit splits arguments on. */
const WHITESPACE = /[\t\v\f\r ]+/;

/** Whitespace-separated words; none for an empty text. */
export function splitWhitespace(text: string): string[] {
  return text === '' ? [] : text.split(WHITESPACE);
}

/** `<<-` bodies lose the leading tabs of every line. */
export function chompHeredoc(content: string): string {
  return content.replace(/^\t+/gm, '');
}

const NOT_STRING_ARRAY = 'when using JSON array syntax, arrays must be comprised of strings only';

/** A JSON array of strings, or undefined when the text is not a JSON array (shell form then). */
function parseJsonArray(text: string): string[] | undefined {
  const trimmed = text.trimStart();
  if (!trimmed.startsWith('[')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    // Invalid JSON is not an error: BuildKit treats the text as shell form.
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  if (!value.every((v) => typeof v === 'string')) throw new DockerfileError(NOT_STRING_ARRAY);
  return value as string[];
}

/** RUN, CMD, ENTRYPOINT, SHELL: a JSON array is exec form; anything else is one shell string. */
export function parseMaybeJson(text: string): CommandLine {
  if (text === '') return { form: 'shell', text: '' };
  const array = parseJsonArray(text);
  return array === undefined ? { form: 'shell', text } : { form: 'exec', args: array };
}

/** COPY, ADD, VOLUME: a JSON array, or whitespace-separated words. */
export function parseMaybeJsonToList(text: string): { words: string[]; json: boolean } {
  const array = parseJsonArray(text);
  return array === undefined ? { words: splitWhitespace(text), json: false } : { words: array, json: true };
}

/**
 * Words as ENV, LABEL and ARG split them: whitespace separates, quotes group (and are kept, to be
 * removed by expansion), the escapeToken token keeps the next character in the word.
 */
export function parseWords(rest: string, escapeToken: string): string[] {
  // Words keep their quotes and escapes, so each is a slice of `rest`; the only character ever
  // dropped is an escape token at the very end of the line. Indexing by UTF-16 unit is safe:
  // every character with a meaning here is ASCII.
  const words: string[] = [];
  const length = rest.length;
  let pos = 0;
  while (pos < length) {
    while (pos < length && isSpace(rest[pos]!)) pos++;
    if (pos >= length) break;
    const start = pos;
    let quote = '';
    let end = -1;
    while (pos < length) {
      const ch = rest[pos]!;
      if (quote === '') {
        if (isSpace(ch)) break;
        if (ch === "'" || ch === '"') quote = ch;
        else if (ch === escapeToken) {
          if (pos + 1 === length) {
            end = pos; // an escape at the end of the line is dropped
            pos++;
            break;
          }
          pos++;
        }
      } else if (ch === quote) {
        quote = '';
      } else if (ch === escapeToken && quote !== "'") {
        if (pos + 1 === length) {
          end = pos;
          pos++;
          break;
        }
        pos++;
      }
      pos++;
    }
    const word = rest.slice(start, end === -1 ? pos : end);
    if (word.length > 0) words.push(word);
  }
  return words;
}

/** ENV and LABEL: `k=v …`, or the legacy `k v` when the first word has no `=`. */
export function parseNameValue(rest: string, instruction: string, escapeToken: string): KeyValue[] {
  const words = parseWords(rest, escapeToken);
  if (words.length === 0) return [];
  if (!words[0]!.includes('=')) {
    const parts = rest.split(WHITESPACE);
    if (parts.length < 2 || (parts.length === 2 && parts[1] === ''))
      throw new DockerfileError(`${instruction} must have two arguments`);
    const space = WHITESPACE.exec(rest)!;
    return [{ key: parts[0]!, value: rest.slice(space.index + space[0].length), legacy: true }];
  }
  return words.map((word) => {
    const eq = word.indexOf('=');
    if (eq === -1) {
      throw new DockerfileError(
        `Syntax error - can't find = in ${JSON.stringify(word)}. Must be of the form: name=value`,
      );
    }
    return { key: word.slice(0, eq), value: word.slice(eq + 1), legacy: false };
  });
}
