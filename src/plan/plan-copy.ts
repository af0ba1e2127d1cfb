import { posix } from 'node:path';
import {
  type AddInstruction,
  type CopyInstruction,
  type GitRef,
  invalidChmodMessage,
  isGitSource,
  isHttpSource,
  isValidChmod,
  parseGitRef,
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
  const gitRefs = sources.map((source) => c.plan.placed(instruction, () => parseGitRef(source)));
  if (instruction.kind === 'copy') {
    // BuildKit's dispatchCopy: remote sources are ADD's alone.
    sources.forEach((source, i) => {
      if (gitRefs[i] !== undefined || isHttpSource(source)) {
        throw c.plan.fail(
          `source can't be a ${gitRefs[i] !== undefined ? 'git ref' : 'URL'} for COPY`,
          instruction.range,
          { instruction: instruction.keyword, hint: 'use ADD to add a remote file or a Git repository' },
        );
      }
    });
  } else {
    for (const ref of gitRefs) if (ref !== undefined) checkGitOptions(c, instruction, ref);
  }
  const inline: PlannedInlineSource[] = instruction.inline.map((s) => ({
    name: s.name,
    content: s.expand ? expand(s.content, rawLexer) : s.content,
  }));
  const fromContext = instruction.kind === 'add' || instruction.from === undefined;
  if (fromContext && c.isIgnored !== undefined) {
    for (const source of sources) {
      if (instruction.kind === 'add' && (isGitSource(source) || isHttpSource(source))) continue;
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
  if (!isHttpSource(sources[0]!) && !isGitSource(sources[0]!)) {
    throw c.plan.fail('checksum requires HTTP(S) or Git sources', instruction.range, { instruction: 'ADD' });
  }
  return checksum;
}

/**
 * ADD's flags against a Git source's own options, as BuildKit's dispatchCopy checks them:
 * `--keep-git-dir` and `?keep-git-dir=` must agree, as must `--checksum` and `?checksum=`; a
 * checksum is a hex commit hash.
 */
function checkGitOptions(c: StepPlanContext, instruction: AddInstruction, ref: GitRef): void {
  const fail = (message: string, hint?: string) =>
    c.plan.fail(message, instruction.range, { instruction: 'ADD', ...(hint ? { hint } : {}) });
  if (
    instruction.keepGitDir !== undefined &&
    ref.keepGitDir !== undefined &&
    instruction.keepGitDir !== ref.keepGitDir
  )
    throw fail('inconsistent keep-git-dir configuration');
  const flag = instruction.checksum === undefined ? undefined : c.expand(instruction.checksum) || undefined;
  if (flag !== undefined && ref.checksum !== undefined && flag !== ref.checksum)
    throw fail(`checksum mismatch ${JSON.stringify(flag)} != ${JSON.stringify(ref.checksum)}`);
  const checksum = flag ?? ref.checksum;
  if (checksum !== undefined && !/^[a-fA-F0-9]+$/.test(checksum))
    throw fail(
      `invalid checksum ${checksum} for Git URL, expected hex commit hash`,
      'give the commit hash (or a prefix of it)',
    );
  if (ref.fetchByCommit && (checksum === undefined || !/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(checksum)))
    throw fail(`fetch-by-commit requires a full commit SHA checksum, got ${JSON.stringify(checksum ?? '')}`);
}

/** The source as BuildKit names it in CopyIgnoredFile: filepath.Clean'ed. */
function cleanSource(source: string): string {
  return posix.normalize(source).replace(/(.)\/$/, '$1');
}
