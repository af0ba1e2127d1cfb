import { isSpace } from './shell-lexer.ts';

/** The keyword and argument text of a logical line (BuildKit's `splitCommand`). */
export function splitKeyword(text: string): {
  keyword: string;
  keywordOffset: number;
  rest: string;
  restOffset: number;
} {
  let start = 0;
  while (start < text.length && isSpace(text[start]!)) start++;
  let end = start;
  while (end < text.length && !isSeparator(text.charCodeAt(end))) end++;
  let restStart = end;
  while (restStart < text.length && isSeparator(text.charCodeAt(restStart))) restStart++;
  return {
    keyword: text.slice(start, end),
    keywordOffset: start,
    rest: text.slice(restStart),
    restOffset: restStart,
  };
}

/** `[\t\v\f\r ]`, the characters BuildKit separates arguments with. */
function isSeparator(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0b || c === 0x0c || c === 0x0d;
}
