import type { Digest } from '../oci/index.ts';
import type { ImageAnalysis } from './analyze-image.ts';
import type { MergedFile } from './merged-filesystem.ts';

/** One image of a comparison: its analysis and its final filesystem. */
export interface ComparedImage {
  readonly name: string;
  readonly analysis: ImageAnalysis;
  readonly files: readonly MergedFile[];
}

/** What kind of bytes a path holds, for "what the smaller image dropped". */
export type PathCategory =
  | 'toolchain'
  | 'cache'
  | 'dev-dependencies'
  | 'docs'
  | 'package-manager'
  | 'source'
  | 'other';

const CATEGORY_PATTERNS: readonly [PathCategory, RegExp][] = [
  ['dev-dependencies', /\/node_modules\/|\/vendor\/bundle\/|\/\.venv\/|\/site-packages\/.*\/tests?\//],
  [
    'cache',
    /^\/var\/cache\/|^\/var\/lib\/apt\/lists\/|^\/root\/\.cache\/|^\/root\/\.npm\/|^\/usr\/local\/share\/\.cache\/|^\/root\/\.m2\/|^\/root\/\.gradle\/|^\/go\/pkg\/mod\/|^\/tmp\/|^\/root\/\.cargo\/registry\/|^\/usr\/local\/cargo\/registry\/|\/__pycache__\//,
  ],
  [
    'toolchain',
    /^\/usr\/local\/go\/|^\/usr\/lib\/go[^/]*\/|^\/usr\/lib\/gcc\/|^\/usr\/libexec\/gcc\/|^\/usr\/lib\/jvm\/|^\/usr\/local\/cargo\/|^\/usr\/local\/rustup\/|^\/root\/\.rustup\/|^\/root\/\.cargo\/|^\/usr\/include\/|^\/usr\/local\/include\/|^\/usr\/lib\/llvm[^/]*\/|^\/usr\/share\/maven\/|^\/opt\/gradle\/|^\/usr\/bin\/(gcc|g\+\+|cc|c\+\+|cpp|ld|as|go|rustc|cargo|javac|make|cmake)[^/]*$|^\/usr\/lib\/[^/]+-linux-gnu\/.*\.a$|^\/usr\/bin\/[^/]+-linux-gnu-|^\/usr\/lib\/[^/]+-linux-gnu\/lib(asan|tsan|ubsan|lsan|hwasan|gomp|itm|quadmath|cc1|bfd|opcodes|ctf|gprofng|isl|mpc|mpfr|sframe)[.-]|^\/usr\/lib\/bfd-plugins\/|^\/usr\/share\/dotnet\/sdk\//,
  ],
  ['docs', /^\/usr\/share\/(doc|man|info|locale|gtk-doc)\//],
  ['package-manager', /^\/var\/lib\/(dpkg|apt|rpm|dnf|yum)\/|^\/usr\/lib\/apk\/|^\/lib\/apk\//],
  ['source', /^\/(go\/)?src\/|\.(c|h|cc|cpp|go|rs|java|ts)$/],
];

/** The category of a path in an image (first matching pattern; `other` when none). */
export function categorizePath(path: string): PathCategory {
  for (const [category, pattern] of CATEGORY_PATTERNS) if (pattern.test(path)) return category;
  return 'other';
}

/** One directory's bytes in both images. */
export interface DirectoryChange {
  /** Ends with `/`. */
  readonly path: string;
  readonly oldBytes: number;
  readonly newBytes: number;
  readonly oldFiles: number;
  readonly newFiles: number;
  readonly category: PathCategory;
}

/** The side of a comparison, summarised. */
export interface ComparedSummary {
  readonly name: string;
  readonly digest: Digest;
  /** dive's total: Σ layer content bytes. */
  readonly sizeBytes: number;
  readonly compressedSize: number;
  readonly layers: number;
  readonly visibleFiles: number;
}

/** What `strata compare` prints. */
export interface ImageComparison {
  readonly old: ComparedSummary;
  readonly new: ComparedSummary;
  /** old size / new size (Infinity when the new image is empty). */
  readonly ratio: number;
  readonly compressedRatio: number;
  /** Directories holding fewer bytes in the new image, most dropped first. */
  readonly dropped: readonly DirectoryChange[];
  /** Directories holding more bytes in the new image, most added first. */
  readonly added: readonly DirectoryChange[];
  /** Bytes of files the new image dropped or shrank, by category, largest first. */
  readonly droppedByCategory: readonly { readonly category: PathCategory; readonly bytes: number }[];
}

function summary(side: ComparedImage): ComparedSummary {
  return {
    name: side.name,
    digest: side.analysis.digest,
    sizeBytes: side.analysis.sizeBytes,
    compressedSize: side.analysis.compressedSize,
    layers: side.analysis.layers.length,
    visibleFiles: side.analysis.visibleFiles,
  };
}

function directorySizes(
  files: readonly MergedFile[],
  maxDepth: number,
): Map<string, { bytes: number; files: number }> {
  const out = new Map<string, { bytes: number; files: number }>();
  for (const f of files) {
    const parts = f.path.split('/').filter(Boolean);
    for (let depth = 1; depth < parts.length && depth <= maxDepth; depth++) {
      const dir = `/${parts.slice(0, depth).join('/')}/`;
      const e = out.get(dir) ?? { bytes: 0, files: 0 };
      e.bytes += f.size;
      e.files++;
      out.set(dir, e);
    }
  }
  return out;
}

/**
 * Picks the directories that explain a size difference: the most specific directories whose
 * change is at least 2 % of the total change none of whose subdirectories changes that much, so
 * the list reads `/usr/lib/gcc/x86_64-linux-gnu/12/`, `/var/cache/apt/`, `/app/node_modules/`
 * rather than `/usr/` and `/var/`.
 */
function explainingDirectories(changes: DirectoryChange[], sign: 1 | -1, limit: number): DirectoryChange[] {
  const delta = (c: DirectoryChange) => sign * (c.oldBytes - c.newBytes);
  const depth = (path: string) => path.split('/').length - 2;
  const total = changes.filter((c) => depth(c.path) === 1).reduce((n, c) => n + Math.max(0, delta(c)), 0);
  const threshold = Math.max(1, total * 0.02);
  const heavyParents = new Set<string>();
  for (const c of changes)
    if (delta(c) >= threshold) heavyParents.add(`${c.path.slice(0, c.path.slice(0, -1).lastIndexOf('/'))}/`);
  return changes
    .filter((c) => delta(c) >= threshold && !heavyParents.has(c.path))
    .sort((a, b) => delta(b) - delta(a) || (a.path < b.path ? -1 : 1))
    .slice(0, limit);
}

/**
 * Compares two analysed images — typically the single-stage and the multi-stage build of the same
 * app — and explains the difference at directory level: what the new image dropped (toolchains,
 * caches, dev dependencies) and what it added. Pure.
 */
export function compareImages(
  oldImage: ComparedImage,
  newImage: ComparedImage,
  options: { readonly limit?: number; readonly maxDepth?: number } = {},
): ImageComparison {
  const limit = options.limit ?? 10;
  const maxDepth = options.maxDepth ?? 4;
  const oldDirs = directorySizes(oldImage.files, maxDepth);
  const newDirs = directorySizes(newImage.files, maxDepth);
  const changes: DirectoryChange[] = [];
  for (const path of new Set([...oldDirs.keys(), ...newDirs.keys()])) {
    const o = oldDirs.get(path) ?? { bytes: 0, files: 0 };
    const n = newDirs.get(path) ?? { bytes: 0, files: 0 };
    if (o.bytes === n.bytes) continue;
    changes.push({
      path,
      oldBytes: o.bytes,
      newBytes: n.bytes,
      oldFiles: o.files,
      newFiles: n.files,
      category: categorizePath(path),
    });
  }
  const newSizes = new Map(newImage.files.map((f) => [f.path, f.size]));
  const byCategory = new Map<PathCategory, number>();
  for (const f of oldImage.files) {
    const dropped = f.size - (newSizes.get(f.path) ?? 0);
    if (dropped <= 0) continue;
    const category = categorizePath(f.path);
    byCategory.set(category, (byCategory.get(category) ?? 0) + dropped);
  }
  const o = summary(oldImage);
  const n = summary(newImage);
  return {
    old: o,
    new: n,
    ratio: o.sizeBytes / n.sizeBytes,
    compressedRatio: o.compressedSize / n.compressedSize,
    dropped: explainingDirectories(changes, 1, limit),
    added: explainingDirectories(changes, -1, limit),
    droppedByCategory: [...byCategory.entries()]
      .map(([category, bytes]) => ({ category, bytes }))
      .sort((a, b) => b.bytes - a.bytes),
  };
}
