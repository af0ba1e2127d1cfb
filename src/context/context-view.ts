import { type Dirent, lstatSync, readdirSync, readlinkSync, realpathSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { cleanPath, isErrnoException, SymlinkLoopError } from '../util/index.ts';
import type { ParentMatches, PatternMatcher } from './pattern-matcher.ts';

/** What an entry in the context is. */
export type EntryType = 'file' | 'directory' | 'symlink' | 'other';

/** One entry of the build context as a build sees it. */
export interface ContextNode {
  /** Path relative to the context root, slash-separated; `''` for the root itself. */
  readonly path: string;
  /** Absolute path on disk. */
  readonly absPath: string;
  /** `lstat` of the entry (a symlink is never followed here). */
  readonly stats: Stats;
  readonly type: EntryType;
  /**
   * True when the ignore patterns exclude the entry itself: then it is visible only as a directory
   * that leads to re-included entries below it (BuildKit sends such a directory as their parent).
   */
  readonly excluded: boolean;
  /** Per-pattern results handed to children (patternmatcher's MatchInfo). */
  readonly matchInfo: ParentMatches;
}

/** The type of an entry from its stats. */
export function entryType(stats: Stats): EntryType {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'directory';
  if (stats.isSymbolicLink()) return 'symlink';
  return 'other';
}

const MAX_SYMLINKS = 255;

function realpathOrResolved(path: string): string {
  try {
    return realpathSync(path);
  } catch (error) {
    if (isErrnoException(error, 'ENOENT') || isErrnoException(error, 'ENOTDIR')) return posix.resolve(path);
    throw error;
  }
}

/** Go's string order (bytewise UTF-8), which is how Go's directory walks sort names. */
function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Code units where UTF-16 order and UTF-8 byte order can disagree (surrogates and above). */
const NOT_ORDER_SAFE = /[\uD800-\uFFFF]/;

/** Sorts directory entries by name in Go's order; plain JS comparison when it gives the same. */
function sortByName(entries: Dirent[]): void {
  if (entries.some((e) => NOT_ORDER_SAFE.test(e.name))) entries.sort((a, b) => compareUtf8(a.name, b.name));
  else entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function joinRel(parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`;
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if (isErrnoException(error, 'ENOENT') || isErrnoException(error, 'ENOTDIR')) return undefined;
    throw error;
  }
}

/**
 * A build context directory filtered by its ignore patterns: exactly the tree BuildKit's client
 * would send. Excluded entries are invisible; an excluded directory is walked only when an
 * exception could re-include something below it (fsutil's rule) and then appears only as the
 * parent of what is re-included. Symlinks are entries of their own and are only followed by
 * {@link resolve}, which never leaves the root.
 *
 * A view reads the disk once and remembers what it saw: make one per build, as BuildKit takes one
 * snapshot of the context per build.
 */
export class ContextView {
  /** Absolute, normalised root directory. */
  readonly root: string;
  readonly #ignore: PatternMatcher | undefined;
  readonly #nodes = new Map<string, ContextNode | null>();
  readonly #children = new Map<string, ContextNode[]>();

  constructor(root: string, ignore?: PatternMatcher) {
    // The context directory itself may be reached through a symlink: Docker's CLI resolves it
    // (EvalSymlinks) before walking, so the walk starts at the real directory.
    this.root = realpathOrResolved(root);
    this.#ignore = ignore !== undefined && ignore.patterns.length > 0 ? ignore : undefined;
  }

  /** The root directory node. */
  rootNode(): ContextNode {
    const cached = this.#nodes.get('');
    if (cached) return cached;
    const stats = lstatSync(this.root);
    const node: ContextNode = {
      path: '',
      absPath: this.root,
      stats,
      type: entryType(stats),
      excluded: false,
      matchInfo: undefined,
    };
    this.#nodes.set('', node);
    return node;
  }

  /** Builds the node for `name` inside `parent`, or null when the walk would never reach it. */
  #child(parent: ContextNode, name: string, stats?: Stats): ContextNode | null {
    const path = joinRel(parent.path, name);
    const cached = this.#nodes.get(path);
    if (cached !== undefined) return cached;
    const absPath = parent.absPath === '/' ? `/${name}` : `${parent.absPath}/${name}`;
    const st = stats ?? lstatOrUndefined(absPath);
    let node: ContextNode | null = null;
    if (st !== undefined) {
      let excluded = false;
      let matchInfo: ParentMatches;
      if (this.#ignore !== undefined) {
        const result = this.#ignore.matchesWithParent(path, parent.matchInfo ?? []);
        excluded = result.matched;
        matchInfo = result.info;
      }
      const type = entryType(st);
      // fsutil skips an excluded directory (and an excluded file is simply not sent).
      if (!excluded || (type === 'directory' && this.#ignore!.mustDescendExcluded(path)))
        node = { path, absPath, stats: st, type, excluded, matchInfo };
    }
    this.#nodes.set(path, node);
    return node;
  }

  /**
   * The visible children of a directory node, sorted by name as Go sorts them. An excluded
   * directory among them is only "visible" when something below it is.
   */
  children(dir: ContextNode): ContextNode[] {
    if (dir.type !== 'directory') return [];
    const cached = this.#children.get(dir.path);
    if (cached !== undefined) return cached;
    let entries: Dirent[];
    try {
      entries = readdirSync(dir.absPath, { withFileTypes: true });
    } catch (error) {
      if (isErrnoException(error, 'ENOENT') || isErrnoException(error, 'ENOTDIR')) return [];
      throw error;
    }
    sortByName(entries);
    const out: ContextNode[] = [];
    for (const entry of entries) {
      const node = this.#child(dir, entry.name);
      if (node === null) continue;
      if (node.excluded && !this.#hasVisibleDescendant(node)) continue;
      out.push(node);
    }
    this.#children.set(dir.path, out);
    return out;
  }

  #hasVisibleDescendant(dir: ContextNode): boolean {
    return this.children(dir).length > 0;
  }

  /**
   * The node at `path` (context-relative) without following any symlink, or undefined when the
   * build cannot see it (missing, excluded, or below an excluded directory).
   */
  lookup(path: string): ContextNode | undefined {
    const clean = cleanPath(`/${path}`).slice(1);
    let node = this.rootNode();
    if (clean === '') return node;
    const parts = clean.split('/');
    for (let i = 0; i < parts.length; i++) {
      if (node.type !== 'directory') return undefined;
      const next = this.#child(node, parts[i]!);
      if (next === null) return undefined;
      node = next;
    }
    if (node.excluded && !this.#hasVisibleDescendant(node)) return undefined;
    return node;
  }

  /**
   * Resolves `path` as a process chrooted at the context would, over the *visible* tree: `..`
   * stops at the root, every symlink met is followed relative to the root (an absolute target
   * means root + target), and a component the build cannot see ends the walk. Returns the
   * visible node and its context-relative path, or undefined. Same algorithm as util's
   * `resolveInRoot`, but each step is checked against the ignore patterns, because BuildKit
   * resolves sources inside the already-filtered context.
   */
  resolve(path: string, options: { followFinal?: boolean } = {}): ContextNode | undefined {
    const followFinal = options.followFinal ?? true;
    let pending = path.split('/').filter((p) => p !== '' && p !== '.');
    const resolved: string[] = [];
    let links = 0;
    while (pending.length > 0) {
      const part = pending.shift()!;
      if (part === '..') {
        resolved.pop();
        continue;
      }
      const candidate = [...resolved, part].join('/');
      const node = this.lookup(candidate);
      if (node === undefined) return undefined;
      const isLast = pending.length === 0;
      if (node.type !== 'symlink' || (isLast && !followFinal)) {
        resolved.push(part);
        continue;
      }
      if (++links > MAX_SYMLINKS) throw new SymlinkLoopError(path);
      const target = readlinkSync(node.absPath);
      if (target.startsWith('/')) resolved.length = 0;
      pending = [...target.split('/').filter((p) => p !== '' && p !== '.'), ...pending];
    }
    return this.lookup(resolved.join('/'));
  }

  /**
   * The entries below directory `dir` that exist on disk but the build cannot see (relative to
   * `dir`): .dockerignore'd files and directories, each named once at the top of what is hidden
   * (an excluded directory with nothing visible below it is one entry; one that shows a
   * re-included file lists its hidden entries instead). What a bind mount of the context hides.
   */
  hiddenBelow(dir: ContextNode): string[] {
    const out: string[] = [];
    const visit = (node: ContextNode, rel: string) => {
      const children = this.children(node);
      const visible = new Set(children.map((c) => c.path.slice(c.path.lastIndexOf('/') + 1)));
      for (const name of readdirSync(node.absPath)) {
        if (!visible.has(name)) out.push(rel === '' ? name : `${rel}/${name}`);
      }
      for (const child of children) {
        if (child.type !== 'directory') continue;
        const name = child.path.slice(child.path.lastIndexOf('/') + 1);
        visit(child, rel === '' ? name : `${rel}/${name}`);
      }
    };
    if (dir.type === 'directory') visit(dir, '');
    return out.sort();
  }

  /**
   * Walks the visible tree below `dir` in Go's walk order (pre-order, names sorted), not
   * following symlinks; `dir` itself is not yielded. An excluded directory is yielded just before
   * the first visible entry below it, as BuildKit creates it as that entry's parent.
   */
  *walk(dir: ContextNode): Generator<ContextNode> {
    for (const child of this.children(dir)) {
      yield child;
      if (child.type === 'directory') yield* this.walk(child);
    }
  }
}
