import type { TarEntryType } from '../archive/index.ts';
import type { LayerEntry } from './read-layer.ts';

/** A file visible in the merged filesystem, and the layer its bytes come from. */
export interface MergedFile {
  readonly path: string;
  readonly type: TarEntryType;
  readonly size: number;
  readonly layer: number;
}

/** Bytes a later layer hid: removed by a whiteout or opaque directory, or overwritten. */
export interface HiddenBytes {
  /** The path the later layer removed or replaced (a directory ends with `/`). */
  readonly path: string;
  readonly action: 'removed' | 'overwritten';
  /** The layer that added the hidden files. */
  readonly addedLayer: number;
  /** The layer that removed or overwrote them. */
  readonly hiddenLayer: number;
  readonly bytes: number;
  readonly files: number;
}

/** One file a later layer hid: the layer that added it, and the layer that removed or replaced it. */
export interface HiddenFile {
  readonly path: string;
  readonly size: number;
  readonly layer: number;
  readonly hiddenBy: number;
  readonly action: 'removed' | 'overwritten';
}

interface Node {
  readonly children: Map<string, Node>;
  /** Undefined for a directory no layer listed (implied by a child). */
  entry?: { type: TarEntryType; size: number; layer: number } | undefined;
}

function newNode(): Node {
  return { children: new Map() };
}

/**
 * The filesystem an image's layers stack up to, applied in order with the OCI image layer
 * semantics (image-spec layer.md: whiteouts and opaque directories hide only lower layers; a
 * non-directory replaces whatever was at its path). Along the way it records every byte a later
 * layer hid, which is what the image carries but a container never sees.
 */
export class MergedFilesystem {
  readonly #root = newNode();
  readonly #hidden = new Map<string, HiddenBytes>();
  readonly #hiddenFiles: HiddenFile[] = [];

  /** Applies layer `index`'s entries on top of the layers applied so far. */
  apply(index: number, entries: readonly LayerEntry[]): void {
    // Whiteouts and opaque markers first: they only hide what the lower layers put there.
    for (const entry of entries) {
      if (entry.kind === 'whiteout') {
        const parent = this.#find(parentOf(entry.path));
        const name = baseOf(entry.path);
        const node = parent?.children.get(name);
        if (!parent || !node) continue;
        const label =
          node.children.size > 0 || node.entry?.type === 'directory' ? `${entry.path}/` : entry.path;
        this.#hide(node, { path: entry.path, label }, 'removed', index);
        parent.children.delete(name);
      } else if (entry.kind === 'opaque') {
        const dir = this.#find(entry.path);
        if (!dir) continue;
        for (const [name, child] of dir.children)
          this.#hide(
            child,
            { path: `${withSlash(entry.path)}${name}`, label: withSlash(entry.path) },
            'removed',
            index,
          );
        dir.children.clear();
      }
    }
    for (const entry of entries) {
      if (entry.kind !== 'entry') continue;
      let node = this.#root;
      const names = entry.path.split('/').filter(Boolean);
      for (const [i, name] of names.entries()) {
        let child = node.children.get(name);
        const last = i === names.length - 1;
        if (!child) {
          child = newNode();
          node.children.set(name, child);
        } else if (!last && child.entry && child.entry.type !== 'directory') {
          // A file where this layer has a directory: the file is replaced.
          const path = `/${names.slice(0, i + 1).join('/')}`;
          this.#hide(child, { path, label: path }, 'overwritten', index);
          child.entry = undefined;
        }
        if (last) {
          const isDir = entry.type === 'directory';
          const wasDir = child.entry === undefined || child.entry.type === 'directory';
          if (child.entry && child.entry.layer < index && !wasDir)
            this.#hide(child, { path: entry.path, label: entry.path }, 'overwritten', index);
          else if (!isDir && child.children.size > 0) {
            this.#hide(child, { path: entry.path, label: `${entry.path}/` }, 'overwritten', index);
            child.children.clear();
          }
          child.entry = { type: entry.type, size: entry.size, layer: index };
        }
        node = child;
      }
    }
  }

  /** Every byte hidden so far, grouped by (path, action, adding layer, hiding layer). */
  hidden(): HiddenBytes[] {
    return [...this.#hidden.values()];
  }

  /** Every non-directory visible now, depth-first in name order. */
  files(): MergedFile[] {
    const out: MergedFile[] = [];
    const walk = (node: Node, path: string): void => {
      for (const name of [...node.children.keys()].sort()) {
        const child = node.children.get(name)!;
        const childPath = `${path}/${name}`;
        if (child.entry && child.entry.type !== 'directory')
          out.push({
            path: childPath,
            type: child.entry.type,
            size: child.entry.size,
            layer: child.entry.layer,
          });
        walk(child, childPath);
      }
    };
    walk(this.#root, '');
    return out;
  }

  #find(path: string): Node | undefined {
    let node = this.#root;
    for (const name of path.split('/').filter(Boolean)) {
      const child = node.children.get(name);
      if (!child) return undefined;
      node = child;
    }
    return node;
  }

  /** Every file hidden so far, one by one (for the report's per-layer file lists). */
  hiddenFiles(): readonly HiddenFile[] {
    return this.#hiddenFiles;
  }

  /**
   * Records every non-directory under (and including) `node` — at `at.path` — from a lower layer
   * as hidden, grouped under `at.label` (the path the hiding layer named).
   */
  #hide(
    node: Node,
    at: { readonly path: string; readonly label: string },
    action: HiddenBytes['action'],
    hiddenLayer: number,
  ): void {
    const { label } = at;
    const visit = (n: Node, path: string): void => {
      if (n.entry && n.entry.type !== 'directory' && n.entry.layer < hiddenLayer) {
        this.#hiddenFiles.push({
          path,
          size: n.entry.size,
          layer: n.entry.layer,
          hiddenBy: hiddenLayer,
          action,
        });
        const key = `${label}\0${action}\0${n.entry.layer}\0${hiddenLayer}`;
        const previous = this.#hidden.get(key);
        this.#hidden.set(key, {
          path: label,
          action,
          addedLayer: n.entry.layer,
          hiddenLayer,
          bytes: (previous?.bytes ?? 0) + n.entry.size,
          files: (previous?.files ?? 0) + 1,
        });
      }
      for (const [name, child] of n.children) visit(child, `${path}/${name}`);
    };
    visit(node, at.path);
  }
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/')) || '/';
}

function baseOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function withSlash(path: string): string {
  return path.endsWith('/') ? path : `${path}/`;
}
