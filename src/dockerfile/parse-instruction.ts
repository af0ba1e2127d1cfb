import { extractBuilderFlags, type FlagValue, type FlagWord, parseFlags } from './builder-flags.ts';
import { DockerfileError } from './dockerfile-error.ts';
import { parseGoDuration } from './go-duration.ts';
import {
  type ArgDeclaration,
  type CommandLine,
  type CopyLike,
  type DockerfileWarning,
  type Heredoc,
  INSTRUCTION_KEYWORDS,
  type InlineSource,
  type Instruction,
  type InstructionBase,
  type KeyValue,
  type NetworkMode,
  type RunMount,
  type SecurityMode,
} from './instructions.ts';
import { parseHeredocWord } from './logical-lines.ts';
import { parseRunMount } from './run-mount.ts';
import { EMPTY_ENV, isSpace, ShellLexer } from './shell-lexer.ts';
import type { SourceRange } from './source-range.ts';
import { didYouMean } from './suggest.ts';

/** What the instruction parser needs to know about one logical line. */
export interface InstructionSource {
  readonly file: string;
  readonly text: string;
  readonly range: SourceRange;
  readonly comments: readonly string[];
  readonly heredocs: readonly Heredoc[];
  readonly escapeToken: '\\' | '`';
  positionAt(offset: number): { line: number; column: number };
  /** Warnings found while typing the instruction are added here. */
  readonly warnings: DockerfileWarning[];
}

/** `[\t\v\f\r ]+`, the separator BuildKit splits arguments on. */
const WHITESPACE = /[\t\v\f\r ]+/;
const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;
const OCTAL_MODE = /^[0-7]+$/;
const SYMBOLIC_MODE = /^[ugoa]*(?:[-+=](?:[rwxXst]*|[ugo]))+(?:,[ugoa]*(?:[-+=](?:[rwxXst]*|[ugo]))+)*$/;

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
  while (end < text.length && !/[\t\v\f\r ]/.test(text[end]!)) end++;
  let restStart = end;
  while (restStart < text.length && /[\t\v\f\r ]/.test(text[restStart]!)) restStart++;
  return {
    keyword: text.slice(start, end),
    keywordOffset: start,
    rest: text.slice(restStart),
    restOffset: restStart,
  };
}

/**
 * Types one logical line into an {@link Instruction}, with BuildKit's argument rules per keyword
 * (parser/line_parsers.go, instructions/parse.go). Throws {@link DockerfileError} with a location.
 */
export function parseInstruction(
  source: InstructionSource,
  textOffset = 0,
  textOverride?: string,
): Instruction {
  const text = textOverride ?? source.text;
  const { keyword, keywordOffset, rest, restOffset } = splitKeyword(text);
  const kind = keyword.toLowerCase();
  const upper = keyword.toUpperCase();
  const split = extractBuilderFlags(rest, source.escapeToken, textOffset + restOffset);
  const args = split.rest;
  const argsOffset = split.restOffset;

  const rangeAt = (offset: number | undefined): SourceRange => {
    // Nothing at the offset (a missing argument): point at the instruction itself.
    if (offset === undefined || offset >= textOffset + text.length) return source.range;
    const at = source.positionAt(offset);
    return {
      line: at.line,
      column: at.column,
      endLine: source.range.endLine,
      endColumn: source.range.endColumn,
    };
  };
  const fail = (message: string, offset?: number, hint?: string): DockerfileError =>
    new DockerfileError(message, { file: source.file, range: rangeAt(offset), instruction: upper, hint });
  const wrap = <T>(offset: number | undefined, fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      if (error instanceof DockerfileError)
        throw error.placed({ file: source.file, range: rangeAt(offset), instruction: upper });
      throw error;
    }
  };
  const flags = (accepted: Readonly<Record<string, 'bool' | 'string' | 'strings'>>): Map<string, FlagValue> =>
    parseFlags(upper, split.flags, accepted, (message, offset, hint) => fail(message, offset, hint));
  const flagString = (values: Map<string, FlagValue>, name: string): string | undefined =>
    values.get(name)?.value;

  const base: InstructionBase = {
    keyword,
    original: text,
    range: textOverride === undefined ? source.range : rangeAt(textOffset + keywordOffset),
    comments: source.comments,
  };

  switch (kind) {
    case 'from': {
      const f = flags({ platform: 'string' });
      const words = splitWhitespace(args);
      let name: string | undefined;
      let nameAsWritten: string | undefined;
      if (words.length === 3 && words[1]!.toLowerCase() === 'as') {
        nameAsWritten = words[2]!;
        name = nameAsWritten.toLowerCase();
        if (!STAGE_NAME.test(name)) {
          throw fail(
            `invalid name for build stage: ${JSON.stringify(nameAsWritten)}, name can't start with a number or contain symbols`,
            argsOffset + args.lastIndexOf(nameAsWritten),
            'stage names start with a letter and use only letters, digits, "-", "_" and "."',
          );
        }
        const asWord = words[1]!;
        const fromLower = keyword === keyword.toLowerCase();
        const fromUpper = keyword === keyword.toUpperCase();
        if (
          (fromLower && asWord !== asWord.toLowerCase()) ||
          (fromUpper && asWord !== asWord.toUpperCase())
        ) {
          source.warnings.push({
            rule: 'FromAsCasing',
            message: `'${asWord}' and '${keyword}' keywords' casing do not match`,
            file: source.file,
            range: source.range,
          });
        }
        if (nameAsWritten !== name) {
          source.warnings.push({
            rule: 'StageNameCasing',
            message: `Stage name '${nameAsWritten}' should be lowercase`,
            file: source.file,
            range: source.range,
          });
        }
      } else if (words.length !== 1) {
        throw fail(
          'FROM requires either one or three arguments',
          argsOffset,
          'write FROM <image> [AS <name>]',
        );
      }
      const platform = flagString(f, 'platform');
      return {
        ...base,
        kind: 'from',
        image: words[0]!,
        ...(name === undefined ? {} : { name, nameAsWritten }),
        ...(platform === undefined ? {} : { platform }),
      };
    }
    case 'run': {
      const f = flags({ mount: 'strings', network: 'string', security: 'string', device: 'strings' });
      const mounts: RunMount[] = (f.get('mount')?.values ?? []).map((value) =>
        wrap(f.get('mount')?.offset, () => parseRunMount(value)),
      );
      const network = flagString(f, 'network');
      if (network !== undefined && network !== 'default' && network !== 'none' && network !== 'host') {
        throw fail(
          `invalid network mode ${JSON.stringify(network)}`,
          f.get('network')?.offset,
          'one of default, none, host',
        );
      }
      const security = flagString(f, 'security');
      if (security !== undefined && security !== 'sandbox' && security !== 'insecure') {
        throw fail(
          `security ${JSON.stringify(security)} is not valid`,
          f.get('security')?.offset,
          'one of sandbox, insecure',
        );
      }
      const command = wrap(argsOffset, () => parseMaybeJson(args));
      return {
        ...base,
        kind: 'run',
        command,
        heredocs: command.form === 'shell' ? source.heredocs : [],
        mounts,
        ...(network === undefined ? {} : { network: network as NetworkMode }),
        ...(security === undefined ? {} : { security: security as SecurityMode }),
        devices: f.get('device')?.values ?? [],
      };
    }
    case 'cmd':
    case 'entrypoint': {
      flags({});
      const command = wrap(argsOffset, () => parseMaybeJson(args));
      return { ...base, kind, command };
    }
    case 'shell': {
      flags({});
      const command = wrap(argsOffset, () => parseMaybeJson(args));
      if (command.form === 'shell') {
        if (command.text === '') throw fail('SHELL requires at least one argument', argsOffset);
        throw fail(
          'SHELL requires the arguments to be in JSON form',
          argsOffset,
          'write SHELL ["executable", "parameters"]',
        );
      }
      if (command.args.length === 0) throw fail('SHELL requires at least one argument', argsOffset);
      return { ...base, kind: 'shell', shell: command.args };
    }
    case 'copy':
    case 'add': {
      const f =
        kind === 'copy'
          ? flags({
              chown: 'string',
              from: 'string',
              chmod: 'string',
              link: 'bool',
              exclude: 'strings',
              parents: 'bool',
            })
          : flags({
              chown: 'string',
              chmod: 'string',
              link: 'bool',
              'keep-git-dir': 'bool',
              checksum: 'string',
              unpack: 'bool',
              exclude: 'strings',
            });
      const list = wrap(argsOffset, () => parseMaybeJsonToList(args));
      if (list.words.length < 2) {
        throw fail(
          `${upper} requires at least two arguments, but only one was provided. Destination could not be determined`,
          argsOffset,
          `write ${upper} <source>... <destination>`,
        );
      }
      const dest = list.words[list.words.length - 1]!;
      if (wrap(argsOffset, () => parseHeredocWord(dest)) !== undefined) {
        throw fail(`${upper} cannot accept a heredoc as a destination`, argsOffset + args.lastIndexOf(dest));
      }
      const byName = new Map(source.heredocs.map((h) => [h.name, h]));
      const sources: string[] = [];
      const inline: InlineSource[] = [];
      for (const word of list.words.slice(0, -1)) {
        const heredoc = wrap(argsOffset, () => parseHeredocWord(word));
        if (heredoc === undefined) {
          sources.push(word);
          continue;
        }
        let content = byName.get(heredoc.name)?.content ?? '';
        if (heredoc.chomp) content = chompHeredoc(content);
        inline.push({ name: heredoc.name, content, expand: heredoc.expand, chomp: heredoc.chomp });
      }
      const chown = flagString(f, 'chown');
      const chmod = flagString(f, 'chmod');
      if (chmod !== undefined && !chmod.includes('$')) {
        checkChmod(chmod, (message) =>
          fail(
            message,
            f.get('chmod')?.offset,
            'an octal mode such as 0755, or a symbolic one such as u=rwX,go=rX',
          ),
        );
      }
      const common: Omit<CopyLike, 'keyword' | 'original' | 'range' | 'comments'> = {
        sources,
        inline,
        dest,
        form: list.json ? 'exec' : 'shell',
        ...(chown === undefined ? {} : { chown }),
        ...(chmod === undefined ? {} : { chmod }),
        link: f.get('link')?.bool ?? false,
        exclude: f.get('exclude')?.values ?? [],
      };
      if (kind === 'copy') {
        const from = flagString(f, 'from');
        if (from !== undefined) {
          const expanded = wrap(f.get('from')?.offset, () =>
            new ShellLexer({ escapeToken: source.escapeToken }).processWord(from, EMPTY_ENV),
          );
          if (expanded !== from) {
            throw fail(
              'variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround',
              f.get('from')?.offset,
            );
          }
        }
        return {
          ...base,
          ...common,
          kind: 'copy',
          ...(from === undefined ? {} : { from }),
          parents: f.get('parents')?.bool ?? false,
        };
      }
      const checksum = flagString(f, 'checksum');
      const keepGit = f.get('keep-git-dir');
      const unpack = f.get('unpack');
      return {
        ...base,
        ...common,
        kind: 'add',
        ...(checksum === undefined ? {} : { checksum }),
        ...(keepGit?.used ? { keepGitDir: keepGit.bool } : {}),
        ...(unpack?.used ? { unpack: unpack.bool } : {}),
      };
    }
    case 'env':
    case 'label': {
      flags({});
      const pairs = wrap(argsOffset, () => parseNameValue(args, upper, source.escapeToken));
      if (pairs.length === 0) throw fail(`${upper} requires at least one argument`, argsOffset);
      for (const pair of pairs) {
        if (pair.key === '') throw fail(`${upper} names can not be blank`, argsOffset);
      }
      return { ...base, kind, pairs };
    }
    case 'arg': {
      flags({});
      const words = parseWords(args, source.escapeToken);
      if (words.length === 0)
        throw fail('ARG requires at least one argument', argsOffset, 'write ARG <name>[=<default>]');
      const declarations: ArgDeclaration[] = words.map((word) => {
        const eq = word.indexOf('=');
        if (eq === -1) return { key: word };
        if (eq === 0) throw fail('ARG names can not be blank', argsOffset);
        return { key: word.slice(0, eq), defaultValue: word.slice(eq + 1) };
      });
      return { ...base, kind: 'arg', args: declarations };
    }
    case 'expose': {
      flags({});
      const ports = splitWhitespace(args);
      if (ports.length === 0) throw fail('EXPOSE requires at least one argument', argsOffset);
      // BuildKit sorts the ports as it parses them.
      return { ...base, kind: 'expose', ports: [...ports].sort() };
    }
    case 'user':
    case 'workdir':
    case 'stopsignal':
    case 'maintainer': {
      flags({});
      if (args === '') throw fail(`${upper} requires exactly one argument`, argsOffset);
      if (kind === 'user') return { ...base, kind, user: args };
      if (kind === 'workdir') return { ...base, kind, path: args };
      if (kind === 'stopsignal') return { ...base, kind, signal: args };
      source.warnings.push({
        rule: 'MaintainerDeprecated',
        message: 'Maintainer instruction is deprecated in favor of using label',
        file: source.file,
        range: source.range,
      });
      return { ...base, kind: 'maintainer', maintainer: args };
    }
    case 'volume': {
      flags({});
      const list = wrap(argsOffset, () => parseMaybeJsonToList(args));
      if (list.words.length === 0) throw fail('VOLUME requires at least one argument', argsOffset);
      const volumes = list.words.map((v) => v.trim());
      if (volumes.some((v) => v === ''))
        throw fail('VOLUME specified can not be an empty string', argsOffset);
      return { ...base, kind: 'volume', volumes, form: list.json ? 'exec' : 'shell' };
    }
    case 'healthcheck': {
      const f = flags({
        interval: 'string',
        timeout: 'string',
        'start-period': 'string',
        'start-interval': 'string',
        retries: 'string',
      });
      const sep = args.search(/\s/);
      const type = sep === -1 ? args : args.slice(0, sep);
      const after = sep === -1 ? '' : args.slice(sep).trimStart();
      if (type === '')
        throw fail(
          'HEALTHCHECK requires at least one argument',
          argsOffset,
          'write HEALTHCHECK NONE or HEALTHCHECK [options] CMD <command>',
        );
      const durations = { intervalNs: 0, timeoutNs: 0, startPeriodNs: 0, startIntervalNs: 0, retries: 0 };
      if (type.toUpperCase() === 'NONE') {
        if (after !== '') throw fail('HEALTHCHECK NONE takes no arguments', argsOffset);
        return { ...base, kind: 'healthcheck', test: { type: 'none' }, ...durations };
      }
      if (type.toUpperCase() !== 'CMD') {
        throw fail(`Unknown type ${JSON.stringify(type)} in HEALTHCHECK (try CMD)`, argsOffset);
      }
      const command = wrap(argsOffset, () => parseMaybeJson(after));
      if (
        (command.form === 'exec' && command.args.length === 0) ||
        (command.form === 'shell' && command.text === '')
      ) {
        throw fail('Missing command after HEALTHCHECK CMD', argsOffset);
      }
      const duration = (name: string): number => {
        const flag = f.get(name);
        if (flag?.value === undefined || flag.value === '') return 0;
        const value = wrap(flag.offset, () => parseGoDuration(flag.value!));
        if (value !== 0 && value < 1e6)
          throw fail(`Interval ${JSON.stringify(name)} cannot be less than 1ms`, flag.offset);
        return value;
      };
      let retries = 0;
      const retriesFlag = f.get('retries');
      if (retriesFlag?.value !== undefined && retriesFlag.value !== '') {
        const text = retriesFlag.value;
        const parsed = /^[+-]?\d+$/.test(text) ? Number(text) : Number.NaN;
        if (Number.isNaN(parsed) || parsed > 2147483647 || parsed < -2147483648) {
          throw fail(
            `strconv.ParseInt: parsing ${JSON.stringify(text)}: ${Number.isNaN(parsed) ? 'invalid syntax' : 'value out of range'}`,
            retriesFlag.offset,
          );
        }
        if (parsed < 0) throw fail(`--retries cannot be negative (${parsed})`, retriesFlag.offset);
        retries = parsed;
      }
      return {
        ...base,
        kind: 'healthcheck',
        test: { type: 'cmd', command },
        intervalNs: duration('interval'),
        timeoutNs: duration('timeout'),
        startPeriodNs: duration('start-period'),
        startIntervalNs: duration('start-interval'),
        retries,
      };
    }
    case 'onbuild': {
      flags({});
      if (args === '') throw fail('ONBUILD requires at least one argument', argsOffset);
      const triggerKeyword = splitKeyword(args).keyword.toUpperCase();
      if (triggerKeyword === 'ONBUILD') {
        throw fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", argsOffset);
      }
      if (triggerKeyword === 'MAINTAINER' || triggerKeyword === 'FROM') {
        throw fail(`${triggerKeyword} isn't allowed as an ONBUILD trigger`, argsOffset);
      }
      const trigger = parseInstruction(source, argsOffset, args);
      let expression = text.replace(/^\s*ONBUILD\s*/i, '');
      for (const heredoc of source.heredocs) expression += `\n${heredoc.content}${heredoc.name}`;
      return { ...base, kind: 'onbuild', expression, trigger };
    }
    default: {
      const suggestion = didYouMean(keyword, INSTRUCTION_KEYWORDS, { caseSensitive: false });
      throw new DockerfileError(`unknown instruction: ${keyword}`, {
        file: source.file,
        range: rangeAt(textOffset + keywordOffset),
        instruction: keyword,
        hint: suggestion,
      });
    }
  }
}

function splitWhitespace(text: string): string[] {
  return text === '' ? [] : text.split(WHITESPACE);
}

/** `<<-` bodies lose the leading tabs of every line. */
export function chompHeredoc(content: string): string {
  return content.replace(/^\t+/gm, '');
}

function checkChmod(value: string, fail: (message: string) => DockerfileError): void {
  if (OCTAL_MODE.test(value)) {
    if (Number.parseInt(value, 8) > 0o7777)
      throw fail(`invalid chmod parameter: '${value}'. it should be octal string and between 0 and 07777`);
    return;
  }
  if (/^\d/.test(value) || !SYMBOLIC_MODE.test(value)) {
    throw fail(`invalid chmod parameter: '${value}'. it should be octal string and between 0 and 07777`);
  }
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
function parseMaybeJson(text: string): CommandLine {
  if (text === '') return { form: 'shell', text: '' };
  const array = parseJsonArray(text);
  return array === undefined ? { form: 'shell', text } : { form: 'exec', args: array };
}

/** COPY, ADD, VOLUME: a JSON array, or whitespace-separated words. */
function parseMaybeJsonToList(text: string): { words: string[]; json: boolean } {
  const array = parseJsonArray(text);
  return array === undefined ? { words: splitWhitespace(text), json: false } : { words: array, json: true };
}

/**
 * Words as ENV, LABEL and ARG split them: whitespace separates, quotes group (and are kept, to be
 * removed by expansion), the escapeToken token keeps the next character in the word.
 */
export function parseWords(rest: string, escapeToken: string): string[] {
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  let blankOk = false;
  let word = '';
  const chars = Array.from(rest);
  for (let pos = 0; pos <= chars.length; pos++) {
    const atEnd = pos === chars.length;
    let ch = atEnd ? '' : chars[pos]!;
    if (phase === 'spaces') {
      if (atEnd) break;
      if (isSpace(ch)) continue;
      phase = 'word';
    }
    if (atEnd) {
      if (blankOk || word.length > 0) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (isSpace(ch)) {
        phase = 'spaces';
        if (blankOk || word.length > 0) words.push(word);
        word = '';
        blankOk = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
        phase = 'quote';
      }
      if (ch === escapeToken) {
        if (pos + 1 === chars.length) continue; // an escapeToken at the end of the line is dropped
        word += ch;
        pos++;
        ch = chars[pos]!;
      }
      word += ch;
      continue;
    }
    // inside quotes
    if (ch === quote) phase = 'word';
    if (ch === escapeToken && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      pos++;
      word += ch;
      ch = chars[pos]!;
    }
    word += ch;
  }
  return words;
}

/** ENV and LABEL: `k=v …`, or the legacy `k v` when the first word has no `=`. */
function parseNameValue(rest: string, instruction: string, escapeToken: string): KeyValue[] {
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

/** A FlagWord list, re-exported for tests of flag splitting. */
export type { FlagWord };
