import { posix } from 'node:path';
import {
  type AddInstruction,
  type CopyInstruction,
  invalidChmodMessage,
  isValidChmod,
  ShellLexer,
} from '../dockerfile/index.ts';
import type { FileSource, PlannedInlineSource } from './build-graph.ts';
import { resolveStageSource } from './stage-names.ts';
import type { StepPart, StepPlanContext } from './step-plan-context.ts';

/** COPY and ADD: sources, destination and flags expanded; COPY's `--from` resolved. */
export function planCopy(
  c: StepPlanContext,
  instruction: CopyInstruction | AddInstruction,
): StepPart<'copy' | 'add'> {
  const { expand } = c;
  const rawLexer = new ShellLexer({ escapeToken: '\\', skipProcessQuotes: true });
  // A flag that expands to nothing is no flag at all, as in BuildKit (`if chown != ""`).
  const chown = instruction.chown === undefined ? undefined : expand(instruction.chown) || undefined;
  const chmod = instruction.chmod === undefined ? undefined : expand(instruction.chmod) || undefined;
  // A literal mode was checked by the parser; one made of variables is checked once expanded.
  if (chmod !== undefined && instruction.chmod?.includes('$') && !isValidChmod(chmod)) {
    throw c.plan.fail(invalidChmodMessage(chmod), instruction.range, { instruction: instruction.keyword });
  }
  const sources = instruction.sources.map((s) => expand(s));
  const dest = expand(instruction.dest);
  const inline: PlannedInlineSource[] = instruction.inline.map((s) => ({
    name: s.name,
    content: s.expand ? expand(s.content, rawLexer) : s.content,
  }));
  const fromContext = instruction.kind === 'add' || instruction.from === undefined;
  if (fromContext && c.isIgnored !== undefined) {
    for (const source of sources) {
      if (instruction.kind === 'add' && isRemoteSource(source)) continue;
      if (!c.isIgnored(source)) continue;
      c.plan.warn(
        'CopyIgnoredFile',
        `Attempting to ${instruction.kind === 'add' ? 'Add' : 'Copy'} file ${JSON.stringify(cleanSource(source))} that is excluded by .dockerignore`,
        instruction.range,
      );
    }
  }
  const common = {
    sources,
    inline,
    dest,
    chown,
    chmod,
    link: instruction.link,
    exclude: instruction.exclude,
  };
  if (instruction.kind === 'copy') {
    const from: FileSource =
      instruction.from === undefined
        ? { kind: 'context' }
        : resolveStageSource(c.plan, c.stages, instruction.from, instruction);
    return {
      kind: 'copy',
      ...common,
      from,
      parents: instruction.parents,
    };
  }
  return {
    kind: 'add',
    ...common,
    checksum: addChecksum(c, instruction, sources),
    keepGitDir: instruction.keepGitDir,
    unpack: instruction.unpack,
  };
}

/** ADD --checksum, expanded: only for one source, and only an HTTP(S) or Git one. */
function addChecksum(c: StepPlanContext, instruction: AddInstruction, sources: readonly string[]) {
  const checksum =
    instruction.checksum === undefined ? undefined : c.expand(instruction.checksum) || undefined;
  if (checksum === undefined) return undefined;
  if (sources.length !== 1)
    throw c.plan.fail("checksum can't be specified for multiple sources", instruction.range, {
      instruction: 'ADD',
    });
  if (!/^(https?:\/\/|git@|git:\/\/|ssh:\/\/)/.test(sources[0]!) && !/\.git(#|$)/.test(sources[0]!)) {
    throw c.plan.fail('checksum requires HTTP(S) or Git sources', instruction.range, { instruction: 'ADD' });
  }
  return checksum;
}

/** An ADD source that is not read from the context: a URL or a Git repository. */
function isRemoteSource(source: string): boolean {
  return /^(https?:\/\/|git@|git:\/\/|ssh:\/\/)/.test(source) || /\.git(#|$)/.test(source);
}

/** The source as BuildKit names it in CopyIgnoredFile: filepath.Clean'ed. */
function cleanSource(source: string): string {
  return posix.normalize(source).replace(/(.)\/$/, '$1');
}
