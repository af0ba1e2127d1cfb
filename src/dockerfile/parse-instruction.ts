import {
  extractBuilderFlags,
  type FlagKind,
  type FlagValue,
  type FlagWord,
  parseFlags,
} from './builder-flags.ts';
import { invalidChmodMessage, isValidChmod } from './chmod-mode.ts';
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
import { type PositionMap, parseHeredocWord } from './logical-lines.ts';
import { parseRunDevice, parseRunMount } from './run-mount.ts';
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
  readonly positions: PositionMap;
  /** Warnings found while typing the instruction are added here. */
  readonly warnings: DockerfileWarning[];
}

/** The flags each instruction takes (BuildKit's instructions/parse.go); the others take none. */
const NO_FLAGS: Readonly<Record<string, FlagKind>> = {};
const FROM_FLAGS: Readonly<Record<string, FlagKind>> = { platform: 'string' };
const RUN_FLAGS: Readonly<Record<string, FlagKind>> = {
  mount: 'strings',
  network: 'string',
  security: 'string',
  device: 'strings',
};
const COPY_FLAGS: Readonly<Record<string, FlagKind>> = {
  chown: 'string',
  from: 'string',
  chmod: 'string',
  link: 'bool',
  exclude: 'strings',
  parents: 'bool',
};
const ADD_FLAGS: Readonly<Record<string, FlagKind>> = {
  chown: 'string',
  chmod: 'string',
  link: 'bool',
  'keep-git-dir': 'bool',
  checksum: 'string',
  unpack: 'bool',
  exclude: 'strings',
};
const HEALTHCHECK_FLAGS: Readonly<Record<string, FlagKind>> = {
  interval: 'string',
  timeout: 'string',
  'start-period': 'string',
  'start-interval': 'string',
  retries: 'string',
};
/** What an instruction written without flags gets: shared, never mutated. */
const NO_FLAG_VALUES: ReadonlyMap<string, FlagValue> = new Map();

/** `[\t\v\f\r ]+`, the separator BuildKit splits arguments on. */
const WHITESPACE = /[\t\v\f\r ]+/;
const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

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

/**
 * Types one logical line into an {@link Instruction}, with BuildKit's argument rules per keyword
 * (parser/line_parsers.go, instructions/parse.go). Throws {@link DockerfileError} with a location.
 */
export function parseInstruction(
  source: InstructionSource,
  /** For an ONBUILD trigger: its text and where it starts in the logical line. */
  nested?: { readonly text: string; readonly offset: number },
): Instruction {
  const textOverride = nested?.text;
  const textOffset = nested?.offset ?? 0;
  const text = textOverride ?? source.text;
  const { keyword, keywordOffset, rest, restOffset } = splitKeyword(text);
  const kind = keyword.toLowerCase();
  const upper = keyword.toUpperCase();
  const split = extractBuilderFlags(rest, {
    escapeToken: source.escapeToken,
    baseOffset: textOffset + restOffset,
  });
  const args = split.rest;
  const argsOffset = split.restOffset;

  const c = new InstructionContext(source, textOffset, text, upper, split.flags);

  const base: InstructionBase = {
    keyword,
    original: text,
    range: textOverride === undefined ? source.range : c.rangeAt(textOffset + keywordOffset),
    comments: source.comments,
  };

  switch (kind) {
    case 'from': {
      const f = c.flags(FROM_FLAGS);
      const words = splitWhitespace(args);
      let name: string | undefined;
      let nameAsWritten: string | undefined;
      if (words.length === 3 && words[1]!.toLowerCase() === 'as') {
        nameAsWritten = words[2]!;
        name = nameAsWritten.toLowerCase();
        if (!STAGE_NAME.test(name)) {
          throw c.fail(
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
        throw c.fail(
          'FROM requires either one or three arguments',
          argsOffset,
          'write FROM <image> [AS <name>]',
        );
      }
      const platform = f.get('platform')?.value;
      return {
        ...base,
        kind: 'from',
        image: words[0]!,
        name,
        nameAsWritten,
        platform,
      };
    }
    case 'run': {
      const f = c.flags(RUN_FLAGS);
      const mounts: RunMount[] = (f.get('mount')?.values ?? []).map((value, i) =>
        c.wrap(f.get('mount')?.offsets[i], () => parseRunMount(value)),
      );
      const network = f.get('network')?.value;
      if (network !== undefined && network !== 'default' && network !== 'none' && network !== 'host') {
        throw c.fail(
          `invalid network mode ${JSON.stringify(network)}`,
          f.get('network')?.offset,
          'one of default, none, host',
        );
      }
      const security = f.get('security')?.value;
      if (security !== undefined && security !== 'sandbox' && security !== 'insecure') {
        throw c.fail(
          `security ${JSON.stringify(security)} is not valid`,
          f.get('security')?.offset,
          'one of sandbox, insecure',
        );
      }
      const command = c.wrap(argsOffset, () => parseMaybeJson(args));
      return {
        ...base,
        kind: 'run',
        command,
        heredocs: command.form === 'shell' ? source.heredocs : [],
        mounts,
        network: network as NetworkMode | undefined,
        security: security as SecurityMode | undefined,
        devices: (f.get('device')?.values ?? []).map((value, i) =>
          c.wrap(f.get('device')?.offsets[i], () => parseRunDevice(value)),
        ),
      };
    }
    case 'cmd':
    case 'entrypoint': {
      c.flags(NO_FLAGS);
      const command = c.wrap(argsOffset, () => parseMaybeJson(args));
      return {
        ...base,
        kind,
        command,
      };
    }
    case 'shell': {
      c.flags(NO_FLAGS);
      const command = c.wrap(argsOffset, () => parseMaybeJson(args));
      if (command.form === 'shell') {
        if (command.text === '') throw c.fail('SHELL requires at least one argument', argsOffset);
        throw c.fail(
          'SHELL requires the arguments to be in JSON form',
          argsOffset,
          'write SHELL ["executable", "parameters"]',
        );
      }
      if (command.args.length === 0) throw c.fail('SHELL requires at least one argument', argsOffset);
      return {
        ...base,
        kind: 'shell',
        shell: command.args,
      };
    }
    case 'copy':
    case 'add': {
      const f = kind === 'copy' ? c.flags(COPY_FLAGS) : c.flags(ADD_FLAGS);
      const list = c.wrap(argsOffset, () => parseMaybeJsonToList(args));
      if (list.words.length < 2) {
        throw c.fail(
          `${upper} requires at least two arguments, but only one was provided. Destination could not be determined`,
          argsOffset,
          `write ${upper} <source>... <destination>`,
        );
      }
      const dest = list.words[list.words.length - 1]!;
      if (c.wrap(argsOffset, () => parseHeredocWord(dest)) !== undefined) {
        throw c.fail(
          `${upper} cannot accept a heredoc as a destination`,
          argsOffset + args.lastIndexOf(dest),
        );
      }
      const byName = new Map(source.heredocs.map((h) => [h.name, h]));
      const sources: string[] = [];
      const inline: InlineSource[] = [];
      for (const word of list.words.slice(0, -1)) {
        const heredoc = c.wrap(argsOffset, () => parseHeredocWord(word));
        if (heredoc === undefined) {
          sources.push(word);
          continue;
        }
        let content = byName.get(heredoc.name)?.content ?? '';
        if (heredoc.chomp) content = chompHeredoc(content);
        inline.push({ name: heredoc.name, content, expand: heredoc.expand, chomp: heredoc.chomp });
      }
      const chown = f.get('chown')?.value;
      const chmod = f.get('chmod')?.value;
      if (chmod !== undefined && !chmod.includes('$')) {
        checkChmod(chmod, (message) =>
          c.fail(
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
        chown,
        chmod,
        link: f.get('link')?.bool ?? false,
        exclude: f.get('exclude')?.values ?? [],
      };
      if (kind === 'copy') {
        const from = f.get('from')?.value;
        if (from !== undefined) {
          const expanded = c.wrap(f.get('from')?.offset, () =>
            new ShellLexer({ escapeToken: source.escapeToken }).processWord(from, EMPTY_ENV),
          );
          if (expanded !== from) {
            throw c.fail(
              'variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround',
              f.get('from')?.offset,
            );
          }
        }
        return {
          ...base,
          ...common,
          kind: 'copy',
          from,
          parents: f.get('parents')?.bool ?? false,
        };
      }
      const checksum = f.get('checksum')?.value;
      const keepGit = f.get('keep-git-dir');
      const unpack = f.get('unpack');
      return {
        ...base,
        ...common,
        kind: 'add',
        checksum,
        keepGitDir: keepGit?.used ? keepGit.bool : undefined,
        unpack: unpack?.used ? unpack.bool : undefined,
      };
    }
    case 'env':
    case 'label': {
      c.flags(NO_FLAGS);
      const pairs = c.wrap(argsOffset, () => parseNameValue(args, upper, source.escapeToken));
      if (pairs.length === 0) throw c.fail(`${upper} requires at least one argument`, argsOffset);
      for (const pair of pairs) {
        if (pair.key === '') throw c.fail(`${upper} names can not be blank`, argsOffset);
      }
      return {
        ...base,
        kind,
        pairs,
      };
    }
    case 'arg': {
      c.flags(NO_FLAGS);
      const words = parseWords(args, source.escapeToken);
      if (words.length === 0)
        throw c.fail('ARG requires at least one argument', argsOffset, 'write ARG <name>[=<default>]');
      const declarations: ArgDeclaration[] = words.map((word) => {
        const eq = word.indexOf('=');
        if (eq === -1) return { key: word };
        if (eq === 0) throw c.fail('ARG names can not be blank', argsOffset);
        return { key: word.slice(0, eq), defaultValue: word.slice(eq + 1) };
      });
      return {
        ...base,
        kind: 'arg',
        args: declarations,
      };
    }
    case 'expose': {
      c.flags(NO_FLAGS);
      const ports = splitWhitespace(args);
      if (ports.length === 0) throw c.fail('EXPOSE requires at least one argument', argsOffset);
      // BuildKit sorts the ports as it parses them.
      return {
        ...base,
        kind: 'expose',
        ports: [...ports].sort(),
      };
    }
    case 'user':
    case 'workdir':
    case 'stopsignal':
    case 'maintainer': {
      c.flags(NO_FLAGS);
      if (args === '') throw c.fail(`${upper} requires exactly one argument`, argsOffset);
      if (kind === 'user')
        return {
          ...base,
          kind,
          user: args,
        };
      if (kind === 'workdir')
        return {
          ...base,
          kind,
          path: args,
        };
      if (kind === 'stopsignal')
        return {
          ...base,
          kind,
          signal: args,
        };
      source.warnings.push({
        rule: 'MaintainerDeprecated',
        message: 'Maintainer instruction is deprecated in favor of using label',
        file: source.file,
        range: source.range,
      });
      return {
        ...base,
        kind: 'maintainer',
        maintainer: args,
      };
    }
    case 'volume': {
      c.flags(NO_FLAGS);
      const list = c.wrap(argsOffset, () => parseMaybeJsonToList(args));
      if (list.words.length === 0) throw c.fail('VOLUME requires at least one argument', argsOffset);
      const volumes = list.words.map((v) => v.trim());
      if (volumes.some((v) => v === ''))
        throw c.fail('VOLUME specified can not be an empty string', argsOffset);
      return {
        ...base,
        kind: 'volume',
        volumes,
        form: list.json ? 'exec' : 'shell',
      };
    }
    case 'healthcheck': {
      const f = c.flags(HEALTHCHECK_FLAGS);
      const sep = args.search(/\s/);
      const type = sep === -1 ? args : args.slice(0, sep);
      const after = sep === -1 ? '' : args.slice(sep).trimStart();
      if (type === '')
        throw c.fail(
          'HEALTHCHECK requires at least one argument',
          argsOffset,
          'write HEALTHCHECK NONE or HEALTHCHECK [options] CMD <command>',
        );
      if (type.toUpperCase() === 'NONE') {
        if (after !== '') throw c.fail('HEALTHCHECK NONE takes no arguments', argsOffset);
        return {
          ...base,
          kind: 'healthcheck',
          test: { type: 'none' },
          intervalNs: 0,
          timeoutNs: 0,
          startPeriodNs: 0,
          startIntervalNs: 0,
          retries: 0,
        };
      }
      if (type.toUpperCase() !== 'CMD') {
        throw c.fail(`Unknown type ${JSON.stringify(type)} in HEALTHCHECK (try CMD)`, argsOffset);
      }
      const command = c.wrap(argsOffset, () => parseMaybeJson(after));
      if (
        (command.form === 'exec' && command.args.length === 0) ||
        (command.form === 'shell' && command.text === '')
      ) {
        throw c.fail('Missing command after HEALTHCHECK CMD', argsOffset);
      }
      let retries = 0;
      const retriesFlag = f.get('retries');
      if (retriesFlag?.value !== undefined && retriesFlag.value !== '') {
        const text = retriesFlag.value;
        const parsed = /^[+-]?\d+$/.test(text) ? Number(text) : Number.NaN;
        if (Number.isNaN(parsed) || parsed > 2147483647 || parsed < -2147483648) {
          throw c.fail(
            `strconv.ParseInt: parsing ${JSON.stringify(text)}: ${Number.isNaN(parsed) ? 'invalid syntax' : 'value out of range'}`,
            retriesFlag.offset,
          );
        }
        if (parsed < 0) throw c.fail(`--retries cannot be negative (${parsed})`, retriesFlag.offset);
        retries = parsed;
      }
      return {
        ...base,
        kind: 'healthcheck',
        test: { type: 'cmd', command },
        intervalNs: durationFlag(c, f, 'interval'),
        timeoutNs: durationFlag(c, f, 'timeout'),
        startPeriodNs: durationFlag(c, f, 'start-period'),
        startIntervalNs: durationFlag(c, f, 'start-interval'),
        retries,
      };
    }
    case 'onbuild': {
      c.flags(NO_FLAGS);
      if (args === '') throw c.fail('ONBUILD requires at least one argument', argsOffset);
      const triggerKeyword = splitKeyword(args).keyword.toUpperCase();
      if (triggerKeyword === 'ONBUILD') {
        throw c.fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", argsOffset);
      }
      if (triggerKeyword === 'MAINTAINER' || triggerKeyword === 'FROM') {
        throw c.fail(`${triggerKeyword} isn't allowed as an ONBUILD trigger`, argsOffset);
      }
      const trigger = parseInstruction(source, { text: args, offset: argsOffset });
      let expression = text.replace(/^\s*ONBUILD\s*/i, '');
      for (const heredoc of source.heredocs) expression += `\n${heredoc.content}${heredoc.name}`;
      return {
        ...base,
        kind: 'onbuild',
        expression,
        trigger,
      };
    }
    default: {
      const suggestion = didYouMean(keyword, INSTRUCTION_KEYWORDS, { caseSensitive: false });
      throw new DockerfileError(`unknown instruction: ${keyword}`, {
        file: source.file,
        range: c.rangeAt(textOffset + keywordOffset),
        instruction: keyword,
        hint: suggestion,
      });
    }
  }
}

/** Where an instruction sits, and how to report a problem in it: shared by the argument parsers. */
class InstructionContext {
  constructor(
    readonly source: InstructionSource,
    readonly textOffset: number,
    readonly text: string,
    readonly upper: string,
    readonly flagWords: readonly FlagWord[],
  ) {}

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

  flags(accepted: Readonly<Record<string, FlagKind>>): ReadonlyMap<string, FlagValue> {
    if (this.flagWords.length === 0) return NO_FLAG_VALUES;
    return parseFlags(this.flagWords, {
      instruction: this.upper,
      accepted,
      fail: (message, offset, hint) => this.fail(message, offset, hint),
    });
  }
}

/** A HEALTHCHECK duration flag in nanoseconds (0 when absent), at least 1ms when set. */
function durationFlag(c: InstructionContext, f: ReadonlyMap<string, FlagValue>, name: string): number {
  const flag = f.get(name);
  if (flag?.value === undefined || flag.value === '') return 0;
  const text = flag.value;
  const value = c.wrap(flag.offset, () => parseGoDuration(text));
  if (value !== 0 && value < 1e6)
    throw c.fail(`Interval ${JSON.stringify(name)} cannot be less than 1ms`, flag.offset);
  return value;
}

function splitWhitespace(text: string): string[] {
  return text === '' ? [] : text.split(WHITESPACE);
}

/** `<<-` bodies lose the leading tabs of every line. */
export function chompHeredoc(content: string): string {
  return content.replace(/^\t+/gm, '');
}

function checkChmod(value: string, fail: (message: string) => DockerfileError): void {
  if (!isValidChmod(value)) throw fail(invalidChmodMessage(value));
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
