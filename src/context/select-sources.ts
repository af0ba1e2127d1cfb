import { cleanPath } from '../util/index.ts';
import { type ContextNode, ContextView } from './context-view.ts';
import { compileExcludePatterns } from './dockerignore.ts';
import { SourceNotFoundError } from './errors.ts';
import { BadPatternError, goMatch, hasWildcards } from './go-match.ts';
import type { ParentMatches, PatternMatcher } from './pattern-matcher.ts';

/** What a COPY/ADD reads from the context. */
export interface SelectOptions {
  /** The (ignore-filtered) build context. */
  readonly view: ContextView;
  /** The sources as written in the instruction (after variable expansion). */
  readonly sources: readonly string[];
  /** `--exclude` patterns: matched against paths relative to each selected source. */
  readonly excludes?: readonly string[];
  /** `--parents`: keep each source's path (below an optional `/./` pivot) under the destination. */
  readonly parents?: boolean;
}

/** One entry a COPY/ADD will write. */
export interface SelectedEntry {
  /** Index of the source (in {@link SelectOptions.sources}) that selected it. */
  readonly sourceIndex: number;
  /**
   * True for the path a source named or a wildcard matched (and, with `--parents`, for the pivot
   * directory). A file match root is named by {@link destPath}'s base name, or becomes the
   * destination itself when that does not end in `/`; a directory match root stands for the
   * destination directory: its contents go into it, its own mode and owner do not (BuildKit makes a
   * missing destination 0755, as the copy's other new directories).
   */
  readonly matchRoot: boolean;
  /** Path below the destination directory, slash-separated; `''` for the destination itself. */
  readonly destPath: string;
  /**
   * The entry on disk. For a match root that is a symlink, the node of what it points to (BuildKit
   * follows a named source, inside the context); everything below is taken as it is, symlinks
   * included.
   */
  readonly node: ContextNode;
}

function joinRel(parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** fsutil's splitWildcards: the components before the first one with a wildcard, and the rest. */
function splitWildcards(path: string): { literal: string; pattern: string } {
  const parts = path === '' ? [] : path.split('/');
  const index = parts.findIndex((p) => hasWildcards(p));
  if (index === -1) return { literal: path, pattern: '' };
  return { literal: parts.slice(0, index).join('/'), pattern: parts.slice(index).join('/') };
}

function safeGoMatch(pattern: string, name: string): boolean {
  try {
    return goMatch(pattern, name);
  } catch (error) {
    // BuildKit ignores filepath.Match's error here: a malformed wildcard simply matches nothing.
    if (error instanceof BadPatternError) return false;
    throw error;
  }
}

function notFound(view: ContextView, source: string, path: string): SourceNotFoundError {
  // Say whether the path exists but is hidden by the ignore file: the usual cause.
  const hidden = view.resolve(path) === undefined && new ContextView(view.root).resolve(path) !== undefined;
  return new SourceNotFoundError(source, `${JSON.stringify(`/${path}`)} not found in the build context`, {
    ...(hidden ? { hint: 'it is excluded by .dockerignore; add an exception (!pattern) to copy it' } : {}),
  });
}

interface Pending {
  readonly node: ContextNode;
  readonly rel: string;
}

/**
 * Walks below `dir` the way fsutil's copier does: names sorted, symlinks not followed, include
 * patterns (for `--parents`) and exclude patterns matched against paths relative to the copied
 * source. A directory that is not itself selected is emitted only when something below it is,
 * as the copier creates it as a parent.
 */
function* walkCopy(
  view: ContextView,
  dir: ContextNode,
  state: {
    readonly relDir: string;
    readonly include: PatternMatcher | undefined;
    readonly exclude: PatternMatcher | undefined;
    readonly includeInfo: ParentMatches;
    readonly excludeInfo: ParentMatches;
    readonly pending: Pending[];
  },
): Generator<Pending> {
  for (const child of view.children(dir)) {
    const rel = joinRel(state.relDir, baseName(child.path));
    let included = true;
    let includeInfo: ParentMatches;
    if (state.include !== undefined) {
      const r = state.include.matchesWithParent(rel, state.includeInfo ?? []);
      included = r.matched;
      includeInfo = r.info;
    }
    let excluded = false;
    let excludeInfo: ParentMatches;
    if (state.exclude !== undefined) {
      const r = state.exclude.matchesWithParent(rel, state.excludeInfo ?? []);
      excluded = r.matched;
      excludeInfo = r.info;
    }
    const selected = included && !excluded;
    if (selected) {
      yield* state.pending.splice(0);
      yield { node: child, rel };
    }
    if (child.type !== 'directory') continue;
    // An excluded directory is only read when an exception could bring something back.
    if (excluded && !state.exclude!.hasExclusions) continue;
    const depth = state.pending.length;
    if (!selected) state.pending.push({ node: child, rel });
    yield* walkCopy(view, child, { ...state, relDir: rel, includeInfo, excludeInfo });
    if (state.pending.length > depth) state.pending.length = depth;
  }
}

/**
 * Yields, in order, every entry a COPY/ADD of `sources` from the build context writes, with
 * BuildKit's rules:
 *
 * - a source is relative to the context root (a leading `/` or `..` cannot leave it) and is
 *   resolved inside the ignore-filtered context, following symlinks only within the root;
 * - a source with wildcards is split at its first wildcard component: the part before is
 *   resolved, the rest matched with Go's `filepath.Match` against paths below it; a matched
 *   directory is not entered further; no match is not an error;
 * - a directory source yields its contents (its own entry is the match root), a file itself;
 * - `--exclude` patterns are matched against paths relative to each match (never the match
 *   itself), with patternmatcher semantics;
 * - `--parents` keeps paths relative to the context root or to a `/./` pivot in the source.
 *
 * Throws {@link SourceNotFoundError} for a source without wildcards that the build cannot see.
 */
export function* selectSources(options: SelectOptions): Generator<SelectedEntry> {
  const { view } = options;
  const exclude =
    options.excludes !== undefined && options.excludes.length > 0
      ? compileExcludePatterns(options.excludes)
      : undefined;
  for (let sourceIndex = 0; sourceIndex < options.sources.length; sourceIndex++) {
    const source = options.sources[sourceIndex]!;
    if (options.parents) {
      yield* selectWithParents(view, source, sourceIndex, exclude);
      continue;
    }
    const path = cleanPath(`/${source}`).slice(1);
    const { literal, pattern } = splitWildcards(path);
    const matches: string[] = [];
    if (pattern === '') {
      matches.push(literal);
    } else {
      const base = view.resolve(literal);
      if (base === undefined) throw notFound(view, source, literal);
      const depth = pattern.split('/').length;
      const prune = !pattern.includes('[');
      const visit = (dir: ContextNode, relDir: string): void => {
        for (const child of view.children(dir)) {
          const rel = joinRel(relDir, baseName(child.path));
          if (safeGoMatch(pattern, rel)) {
            matches.push(child.path);
            continue;
          }
          if (child.type === 'directory' && !(prune && rel.split('/').length >= depth)) visit(child, rel);
        }
      };
      visit(base, '');
    }
    for (const match of matches) {
      const node = view.resolve(match);
      if (node === undefined) throw notFound(view, source, match);
      if (node.type !== 'directory') {
        yield { sourceIndex, matchRoot: true, destPath: baseName(match), node };
        continue;
      }
      yield { sourceIndex, matchRoot: true, destPath: '', node };
      for (const entry of walkCopy(view, node, {
        relDir: '',
        include: undefined,
        exclude,
        includeInfo: undefined,
        excludeInfo: undefined,
        pending: [],
      }))
        yield { sourceIndex, matchRoot: false, destPath: entry.rel, node: entry.node };
    }
  }
}

function* selectWithParents(
  view: ContextView,
  source: string,
  sourceIndex: number,
  exclude: PatternMatcher | undefined,
): Generator<SelectedEntry> {
  // BuildKit: an optional "/./" pivot; what precedes it is the copied directory, what follows an
  // include pattern below it (patternmatcher semantics, so ** works across directories).
  const pivot = source.indexOf('/./');
  const parent = pivot === -1 ? '/' : source.slice(0, pivot);
  const rawPattern = pivot === -1 ? source : source.slice(pivot + 3);
  const pattern = cleanPath(`/${rawPattern}`).slice(1);
  const dirPath = cleanPath(`/${parent}`).slice(1);
  const dir = view.resolve(dirPath);
  if (dir === undefined) throw notFound(view, source, dirPath);
  if (!hasWildcards(dirPath) && !hasWildcards(pattern)) {
    const required = joinRel(dir.path, pattern);
    if (pattern !== '' && view.lookup(required) === undefined) throw notFound(view, source, required);
  }
  const include = pattern === '' ? undefined : compileExcludePatterns([pattern], '--parents source');
  yield { sourceIndex, matchRoot: true, destPath: '', node: dir };
  if (dir.type !== 'directory') return;
  for (const entry of walkCopy(view, dir, {
    relDir: '',
    include,
    exclude,
    includeInfo: undefined,
    excludeInfo: undefined,
    pending: [],
  }))
    yield { sourceIndex, matchRoot: false, destPath: entry.rel, node: entry.node };
}
