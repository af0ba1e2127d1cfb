/** A directory and the bytes (and files) under it. */
export interface DirectorySize {
  /** Absolute, ending with `/` (`/usr/lib/`). */
  readonly path: string;
  readonly bytes: number;
  readonly files: number;
}

/** Options of {@link largestDirectories}. */
export interface LargestDirectoriesOptions {
  /** How many to return (default 5). */
  readonly limit?: number;
  /** Deepest directory considered, in path components (default 4). */
  readonly maxDepth?: number;
}

/**
 * The directories holding the most bytes of `files`. A directory whose bytes sit almost all
 * (≥ 90 %) in one subdirectory is skipped in favour of that subdirectory, so the list names
 * `/usr/lib/gcc/` rather than `/`, `/usr/` and `/usr/lib/` in turn. Pure.
 */
export function largestDirectories(
  files: Iterable<{ readonly path: string; readonly size: number }>,
  options: LargestDirectoriesOptions = {},
): DirectorySize[] {
  const limit = options.limit ?? 5;
  const maxDepth = options.maxDepth ?? 4;
  const sizes = new Map<string, { bytes: number; files: number; biggestChild: number }>();
  for (const file of files) {
    const parts = file.path.split('/').filter(Boolean);
    for (let depth = 0; depth < parts.length && depth <= maxDepth; depth++) {
      const dir = depth === 0 ? '/' : `/${parts.slice(0, depth).join('/')}/`;
      const entry = sizes.get(dir) ?? { bytes: 0, files: 0, biggestChild: 0 };
      entry.bytes += file.size;
      entry.files += 1;
      sizes.set(dir, entry);
    }
  }
  for (const [dir, entry] of sizes) {
    if (dir === '/') continue;
    const parentPath = `${dir.slice(0, dir.slice(0, -1).lastIndexOf('/'))}/`;
    const parent = sizes.get(parentPath);
    if (parent) parent.biggestChild = Math.max(parent.biggestChild, entry.bytes);
  }
  return [...sizes.entries()]
    .filter(([, e]) => e.bytes > 0 && !(e.biggestChild >= 0.9 * e.bytes))
    .map(([path, e]) => ({ path, bytes: e.bytes, files: e.files }))
    .sort((a, b) => b.bytes - a.bytes || (a.path < b.path ? -1 : 1))
    .slice(0, limit);
}
