import type { FlagKind, FlagValue } from './builder-flags.ts';
import { invalidChmodMessage, isValidChmod } from './chmod-mode.ts';
import { chompHeredoc, parseMaybeJsonToList } from './instruction-arguments.ts';
import type { InstructionContext } from './instruction-context.ts';
import type { AddInstruction, CopyInstruction, CopyLike, InlineSource } from './instructions.ts';
import { parseHeredocWord } from './logical-lines.ts';
import { EMPTY_ENV, ShellLexer } from './shell-lexer.ts';

/* COPY and ADD (BuildKit's parseCopy, parseAdd): sources, heredoc sources and a destination. */

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

/** `COPY [--from=…] [--chown=…] [--chmod=…] [--link] [--parents] [--exclude=…] <src>... <dest>`. */
export function parseCopy(c: InstructionContext): CopyInstruction {
  const f = c.flags(COPY_FLAGS);
  const common = copyLike(c, f);
  const from = f.get('from')?.value;
  if (from !== undefined) {
    const expanded = c.wrap(f.get('from')?.offset, () =>
      new ShellLexer({ escapeToken: c.source.escapeToken }).processWord(from, EMPTY_ENV),
    );
    if (expanded !== from) {
      throw c.fail(
        'variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround',
        f.get('from')?.offset,
      );
    }
  }
  return {
    ...c.base,
    ...common,
    kind: 'copy',
    from,
    parents: f.get('parents')?.bool ?? false,
  };
}

/** `ADD [--chown=…] [--chmod=…] [--link] [--checksum=…] [--keep-git-dir] [--unpack] <src>... <dest>`. */
export function parseAdd(c: InstructionContext): AddInstruction {
  const f = c.flags(ADD_FLAGS);
  const common = copyLike(c, f);
  const checksum = f.get('checksum')?.value;
  const keepGit = f.get('keep-git-dir');
  const unpack = f.get('unpack');
  return {
    ...c.base,
    ...common,
    kind: 'add',
    checksum,
    keepGitDir: keepGit?.used ? keepGit.bool : undefined,
    unpack: unpack?.used ? unpack.bool : undefined,
  };
}

/** What COPY and ADD share: sources (heredocs apart), destination, form, and the common flags. */
function copyLike(
  c: InstructionContext,
  f: ReadonlyMap<string, FlagValue>,
): Omit<CopyLike, 'keyword' | 'original' | 'range' | 'comments'> {
  const { args, argsOffset, upper } = c;
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
    throw c.fail(`${upper} cannot accept a heredoc as a destination`, argsOffset + args.lastIndexOf(dest));
  }
  const byName = new Map(c.source.heredocs.map((h) => [h.name, h]));
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
  // A mode made of variables is checked by the planner, once expanded.
  if (chmod !== undefined && !chmod.includes('$') && !isValidChmod(chmod)) {
    throw c.fail(
      invalidChmodMessage(chmod),
      f.get('chmod')?.offset,
      'an octal mode such as 0755, or a symbolic one such as u=rwX,go=rX',
    );
  }
  return {
    sources,
    inline,
    dest,
    form: list.json ? 'exec' : 'shell',
    chown,
    chmod,
    link: f.get('link')?.bool ?? false,
    exclude: f.get('exclude')?.values ?? [],
  };
}
