import type { Digest, Image } from '../oci/index.ts';
import { diveEfficiency } from './dive-efficiency.ts';
import type { DiveTree } from './dive-tree.ts';
import { type DirectorySize, largestDirectories } from './largest-directories.ts';
import { layerOrigins } from './layer-history.ts';
import { type HiddenBytes, type HiddenFile, type MergedFile, MergedFilesystem } from './merged-filesystem.ts';
import { readLayerContents } from './read-layer.ts';

/** One layer of an analysed image. */
export interface LayerSummary {
  readonly index: number;
  readonly digest: Digest;
  readonly diffId: Digest;
  /** The history entry's `created_by`, when the history has one for this layer. */
  readonly createdBy?: string;
  readonly historyIndex?: number;
  /** The blob as stored and pulled (compressed). */
  readonly compressedSize: number;
  /** The uncompressed tar. */
  readonly uncompressedSize: number;
  /** Σ of the content sizes of its entries (dive's layer size). */
  readonly contentSize: number;
  /** Entries that are neither directories nor whiteouts. */
  readonly fileCount: number;
  /** The directories this layer adds the most bytes to. */
  readonly largestDirectories: readonly DirectorySize[];
}

/** dive's "inefficient file" row: a path seen in two or more layers. */
export interface InefficientFile {
  readonly path: string;
  /** How many layers hold the path (dive's `count`). */
  readonly count: number;
  /** Σ of every copy (dive's `sizeBytes`). */
  readonly sizeBytes: number;
  /** The layers the path appears in, in order. */
  readonly layers: readonly number[];
}

/** Bytes that a later layer removed or overwrote, with the steps on both sides. */
export interface WastedPath {
  /** The path the later layer removed or replaced (a directory ends with `/`). */
  readonly path: string;
  readonly bytes: number;
  readonly files: number;
  readonly action: 'removed' | 'overwritten';
  readonly addedBy: { readonly layer: number; readonly createdBy?: string };
  readonly hiddenBy: { readonly layer: number; readonly createdBy?: string };
}

/** Everything `strata analyze` reports about one image. */
export interface ImageAnalysis {
  readonly digest: Digest;
  readonly layers: readonly LayerSummary[];
  /** Σ compressed layer sizes (what a pull transfers, without config and manifest). */
  readonly compressedSize: number;
  /** Σ uncompressed layer tar sizes. */
  readonly uncompressedSize: number;
  /** dive's "Total Image size": Σ of every layer's content sizes. */
  readonly sizeBytes: number;
  /** dive's user size: every layer's content but the first. */
  readonly userSizeBytes: number;
  /** dive's efficiency score (0–1). */
  readonly efficiency: number;
  /** dive's wasted bytes: Σ of every copy of each path seen in two or more layers. */
  readonly wastedBytes: number;
  /** dive's wastedBytes / userSizeBytes (may exceed 1; Infinity or NaN when there are no user bytes). */
  readonly userWastedPercent: number;
  /** dive's inefficient file list, largest first. */
  readonly inefficientFiles: readonly InefficientFile[];
  /**
   * strata's count: bytes in the layers that the merged filesystem never shows (removed by a
   * later whiteout or opaque directory, or overwritten), each counted once — unlike dive's
   * wastedBytes, which counts the kept copy too and misses deleted directories.
   */
  readonly reclaimableBytes: number;
  /** The largest hidden byte groups, largest first. */
  readonly wastedPaths: readonly WastedPath[];
  /** Bytes of the files visible in the final filesystem. */
  readonly visibleBytes: number;
  readonly visibleFiles: number;
}

/** Options of {@link analyzeImage}. */
export interface AnalyzeImageOptions {
  /** How many wasted paths to keep (default 20). */
  readonly topWasted?: number;
  /** How many largest directories per layer (default 5). */
  readonly topDirectories?: number;
  /** Called after each layer is read. */
  readonly onLayer?: (index: number, total: number) => void;
  readonly signal?: AbortSignal;
}

/** {@link ImageAnalysis} plus the final filesystem's files (for the HTML report and compare). */
export interface ImageAnalysisWithFiles {
  readonly analysis: ImageAnalysis;
  readonly files: readonly MergedFile[];
  /** Every file a later layer removed or overwrote, with the layer that added it (the waste). */
  readonly hiddenFiles: readonly HiddenFile[];
}

/**
 * Reads every layer of `image` once and computes dive's numbers (efficiency, wasted bytes, user
 * wasted percent, inefficient files — see docs/analyze.md for how they follow dive's code) and
 * strata's own: reclaimable bytes with the steps that added and hid them, the largest directories
 * each layer adds, and the final filesystem.
 */
export async function analyzeImageWithFiles(
  image: Pick<Image, 'digest' | 'layers' | 'config'>,
  options: AnalyzeImageOptions = {},
): Promise<ImageAnalysisWithFiles> {
  const origins = layerOrigins(image.config);
  const trees: DiveTree[] = [];
  const merged = new MergedFilesystem();
  const layers: LayerSummary[] = [];
  for (const [index, layer] of image.layers.entries()) {
    const contents = await readLayerContents(layer, options.signal);
    trees.push(contents.diveTree);
    merged.apply(index, contents.entries);
    const origin = origins[index] ?? {};
    layers.push({
      index,
      digest: layer.descriptor.digest,
      diffId: layer.diffId,
      ...(origin.createdBy !== undefined ? { createdBy: origin.createdBy } : {}),
      ...(origin.historyIndex !== undefined ? { historyIndex: origin.historyIndex } : {}),
      compressedSize: layer.descriptor.size,
      uncompressedSize: contents.uncompressedSize,
      contentSize: contents.contentSize,
      fileCount: contents.fileCount,
      largestDirectories: largestDirectories(
        contents.entries.filter((e) => e.kind === 'entry' && e.type === 'file'),
        { limit: options.topDirectories ?? 5 },
      ),
    });
    options.onLayer?.(index, image.layers.length);
  }
  const dive = diveEfficiency(trees);
  const sizeBytes = layers.reduce((n, l) => n + l.contentSize, 0);
  const userSizeBytes = layers.slice(1).reduce((n, l) => n + l.contentSize, 0);
  const hidden = merged.hidden();
  const step = (layer: number) => {
    const createdBy = origins[layer]?.createdBy;
    return { layer, ...(createdBy !== undefined ? { createdBy } : {}) };
  };
  const wastedPaths = groupSiblings(hidden)
    .filter((h) => h.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .slice(0, options.topWasted ?? 20)
    .map(
      (h): WastedPath => ({
        path: h.path,
        bytes: h.bytes,
        files: h.files,
        action: h.action,
        addedBy: step(h.addedLayer),
        hiddenBy: step(h.hiddenLayer),
      }),
    );
  const files = merged.files();
  const analysis: ImageAnalysis = {
    digest: image.digest,
    layers,
    compressedSize: layers.reduce((n, l) => n + l.compressedSize, 0),
    uncompressedSize: layers.reduce((n, l) => n + l.uncompressedSize, 0),
    sizeBytes,
    userSizeBytes,
    efficiency: dive.score,
    wastedBytes: dive.wastedBytes,
    userWastedPercent: dive.wastedBytes / userSizeBytes,
    inefficientFiles: dive.inefficiencies.map((d) => ({
      path: d.path,
      count: d.sightings.length,
      sizeBytes: d.cumulativeSize,
      layers: d.sightings.map((s) => s.layer),
    })),
    reclaimableBytes: hidden.reduce((n, h) => n + h.bytes, 0),
    wastedPaths,
    visibleBytes: files.reduce((n, f) => n + f.size, 0),
    visibleFiles: files.length,
  };
  return { analysis, files, hiddenFiles: merged.hiddenFiles() };
}

/**
 * Hidden files that sit in one directory and were added and hidden by the same two layers in the
 * same way become one entry for the directory (`/var/cache/apt/archives/`, 82 files), which is
 * how a reader thinks of `rm -rf /var/cache/apt/archives/*.deb`.
 */
function groupSiblings(hidden: readonly HiddenBytes[]): HiddenBytes[] {
  const groups = new Map<string, HiddenBytes[]>();
  for (const h of hidden) {
    const where = h.path.endsWith('/') ? h.path : h.path.slice(0, h.path.lastIndexOf('/') + 1);
    const key = `${h.path.endsWith('/') ? `dir\0${where}` : `files\0${where}`}\0${h.action}\0${h.addedLayer}\0${h.hiddenLayer}`;
    groups.set(key, [...(groups.get(key) ?? []), h]);
  }
  const out: HiddenBytes[] = [];
  for (const members of groups.values()) {
    const first = members[0]!;
    if (members.length === 1 || first.path.endsWith('/')) out.push(...members);
    else
      out.push({
        ...first,
        path: first.path.slice(0, first.path.lastIndexOf('/') + 1),
        bytes: members.reduce((n, m) => n + m.bytes, 0),
        files: members.reduce((n, m) => n + m.files, 0),
      });
  }
  return out;
}

/** {@link analyzeImageWithFiles} without the file list. */
export async function analyzeImage(
  image: Pick<Image, 'digest' | 'layers' | 'config'>,
  options: AnalyzeImageOptions = {},
): Promise<ImageAnalysis> {
  return (await analyzeImageWithFiles(image, options)).analysis;
}
