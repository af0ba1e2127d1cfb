import { openDecompressed, type TarEntryType, type TarHeader, TarParser } from '../archive/index.ts';
import type { Layer } from '../oci/index.ts';
import { cleanPath } from '../util/index.ts';
import { DiveTree } from './dive-tree.ts';

/** What one tar entry of a layer means for the merged filesystem. */
export type LayerEntryKind =
  /** A file, directory, link or device the layer adds or replaces. */
  | 'entry'
  /** `.wh.<name>`: `<name>` (and everything under it) is removed from the layers below. */
  | 'whiteout'
  /** `.wh..wh..opq`: the directory's contents in the layers below are hidden. */
  | 'opaque';

/** One entry of a layer tar, its path absolute and cleaned (`/usr/bin/env`). */
export interface LayerEntry {
  readonly kind: LayerEntryKind;
  /** For a whiteout, the removed path; for an opaque marker, its directory; else the entry's path. */
  readonly path: string;
  readonly type: TarEntryType;
  /** Content bytes (regular files only). */
  readonly size: number;
}

/** A layer read once: its entries, dive's tree of it, and its sizes. */
export interface LayerContents {
  readonly entries: readonly LayerEntry[];
  /** dive's tree of this layer (for {@link diveEfficiency}). */
  readonly diveTree: DiveTree;
  /** Bytes of the uncompressed tar (what hashes to the diff_id). */
  readonly uncompressedSize: number;
  /** Σ of the entries' content sizes: what dive shows as the layer's size. */
  readonly contentSize: number;
  /** Entries that are neither directories nor whiteout markers. */
  readonly fileCount: number;
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** Classifies a cleaned absolute tar path (whiteout markers, per the OCI image layer spec). */
export function layerEntryOf(header: Pick<TarHeader, 'path' | 'type' | 'size'>): LayerEntry | undefined {
  const clean = cleanPath(header.path);
  if (clean === '.' || clean === '/') return undefined;
  const path = clean.startsWith('/') ? clean : `/${clean}`;
  const slash = path.lastIndexOf('/');
  const dir = path.slice(0, slash) || '/';
  const base = path.slice(slash + 1);
  if (base === OPAQUE) return { kind: 'opaque', path: dir, type: header.type, size: 0 };
  if (base.startsWith(WHITEOUT)) {
    const removed = `${dir === '/' ? '' : dir}/${base.slice(WHITEOUT.length)}`;
    return { kind: 'whiteout', path: removed, type: header.type, size: 0 };
  }
  return { kind: 'entry', path, type: header.type, size: header.size };
}

/**
 * Reads a layer blob once (decompressing gzip or zstd as its magic bytes say) and returns its
 * entries, dive's tree of it and its sizes. Memory grows with the number of entries, not bytes.
 */
export async function readLayerContents(layer: Layer, signal?: AbortSignal): Promise<LayerContents> {
  const entries: LayerEntry[] = [];
  const diveTree = new DiveTree();
  let contentSize = 0;
  let fileCount = 0;
  const parser = new TarParser({
    entry(header) {
      // dive: `name := path.Clean(header.Name)`, "." skipped, then AddPath(name, FileInfo).
      const name = cleanPath(header.path);
      if (name === '.') return;
      diveTree.addPath(name, { size: header.size, isDir: header.type === 'directory' });
      contentSize += header.size;
      const entry = layerEntryOf(header);
      if (!entry) return;
      entries.push(entry);
      if (entry.kind === 'entry' && entry.type !== 'directory') fileCount++;
    },
    data() {},
    entryEnd() {},
  });
  let uncompressedSize = 0;
  const stream = openDecompressed(await layer.open(signal));
  for await (const chunk of stream) {
    signal?.throwIfAborted();
    const buffer = chunk as Buffer;
    uncompressedSize += buffer.length;
    parser.write(buffer);
  }
  parser.end();
  return { entries, diveTree, uncompressedSize, contentSize, fileCount };
}
