/**
 * A port of the data structure dive scores images with (wagoodman/dive `dive/filetree/file_tree.go`
 * and `file_node.go`), kept faithful on purpose so that strata's efficiency numbers equal dive's,
 * quirks included:
 * - intermediate directories a layer tar does not list get an empty payload (size 0, not a dir);
 * - names starting with `.wh..wh..` (opaque markers) are never added;
 * - a whiteout `.wh.x` is a node of its own; its path is reported without the prefix;
 * - children are visited in byte order of their names (Go's `sort.Strings`).
 */

/** The part of dive's `FileInfo` that its efficiency computation reads. */
export interface DiveFileInfo {
  /** The tar header's size (0 for everything but regular files). */
  readonly size: number;
  readonly isDir: boolean;
}

const EMPTY_INFO: DiveFileInfo = { size: 0, isDir: false };
const WHITEOUT_PREFIX = '.wh.';
const DOUBLE_WHITEOUT_PREFIX = '.wh..wh..';

const ABOVE_SURROGATES = /[\uD800-\uFFFF]/;

/**
 * Go's `sort.Strings` order: byte-wise on UTF-8. UTF-16 code-unit order is the same unless a
 * string holds a surrogate pair or a character from U+E000 up, so only those pay for encoding.
 */
function byteOrder(a: string, b: string): number {
  if (ABOVE_SURROGATES.test(a) || ABOVE_SURROGATES.test(b))
    return Buffer.compare(Buffer.from(a), Buffer.from(b));
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One node of a {@link DiveTree}. */
export class DiveNode {
  readonly name: string;
  parent: DiveNode | undefined;
  info: DiveFileInfo;
  readonly children = new Map<string, DiveNode>();

  constructor(name: string, parent: DiveNode | undefined, info: DiveFileInfo) {
    this.name = name;
    this.parent = parent;
    this.info = info;
  }

  /** dive's `IsWhiteout`: the name starts with `.wh.`. */
  get isWhiteout(): boolean {
    return this.name.startsWith(WHITEOUT_PREFIX);
  }

  /** dive's `IsLeaf`: no children in this tree. */
  get isLeaf(): boolean {
    return this.children.size === 0;
  }

  /** dive's `Path()`: `/a/b`, with the whiteout prefix removed from this node's own name. */
  path(): string {
    const names: string[] = [];
    let current: DiveNode | undefined = this;
    while (current?.parent) {
      names.unshift(current === this ? stripWhiteout(current.name) : current.name);
      current = current.parent;
    }
    return `/${names.join('/')}`.replaceAll('//', '/');
  }

  /** Children in dive's visiting order. */
  sortedChildren(): DiveNode[] {
    return [...this.children.values()].sort((a, b) => byteOrder(a.name, b.name));
  }

  /**
   * dive's `VisitDepthChildFirst` from this node: children first (by name), then the node itself,
   * except a tree's root. `visit` returning false stops the whole walk (dive's error return).
   */
  visitChildFirst(visit: (node: DiveNode) => boolean, evaluate?: (node: DiveNode) => boolean): boolean {
    for (const child of this.sortedChildren()) {
      if (!child.visitChildFirst(visit, evaluate)) return false;
    }
    if (!this.parent) return true;
    if (evaluate && !evaluate(this)) return true;
    return visit(this);
  }

  #copy(parent: DiveNode | undefined): DiveNode {
    const node = new DiveNode(this.name, parent, this.info);
    for (const [name, child] of this.children) node.children.set(name, child.#copy(node));
    return node;
  }

  /** A deep copy under `parent` (dive's `Copy`). */
  copyUnder(parent: DiveNode | undefined): DiveNode {
    return this.#copy(parent);
  }
}

function stripWhiteout(name: string): string {
  return name.startsWith(WHITEOUT_PREFIX) ? name.slice(WHITEOUT_PREFIX.length) : name;
}

/** dive's `FileTree`: one layer's files, or a stack of layers. */
export class DiveTree {
  root = new DiveNode('', undefined, EMPTY_INFO);

  /** dive's `AddPath`: creates missing parents with an empty payload, then sets the last one's. */
  addPath(path: string, info: DiveFileInfo): void {
    const names = path.replace(/^\/+|\/+$/g, '').split('/');
    let node = this.root;
    for (const [index, name] of names.entries()) {
      if (name === '') continue;
      const existing = node.children.get(name);
      if (existing) node = existing;
      else {
        // dive: "don't add paths that should be deleted".
        if (name.startsWith(DOUBLE_WHITEOUT_PREFIX)) return;
        const child = new DiveNode(name, node, EMPTY_INFO);
        node.children.set(name, child);
        node = child;
      }
      if (index === names.length - 1) node.info = info;
    }
  }

  /** dive's `GetNode`. */
  getNode(path: string): DiveNode | undefined {
    let node = this.root;
    for (const name of path.replace(/^\/+|\/+$/g, '').split('/')) {
      if (name === '') continue;
      const child = node.children.get(name);
      if (!child) return undefined;
      node = child;
    }
    return node;
  }

  /** dive's `RemovePath` (a failure, e.g. a missing path, is ignored as dive's Stack ignores it). */
  removePath(path: string): void {
    const node = this.getNode(path);
    if (!node?.parent) return;
    node.parent.children.delete(node.name);
  }

  /** dive's `Stack`: applies `upper` on top of this tree (whiteouts remove, everything else adds). */
  stack(upper: DiveTree): void {
    upper.root.visitChildFirst((node) => {
      if (node.isWhiteout) this.removePath(node.path());
      else this.addPath(node.path(), node.info);
      return true;
    });
  }

  /** A deep copy. */
  copy(): DiveTree {
    const tree = new DiveTree();
    tree.root = this.root.copyUnder(undefined);
    return tree;
  }
}
