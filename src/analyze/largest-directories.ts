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
  /** Deepest directory considered, in path components (default 5). */
  readonly maxDepth?: number;
  /** A directory must hold at least this share of all bytes to be listed (default 0.02). */
  readonly minShare?: number;
}

/**
 * The most specific directories that hold a large share of `files`' bytes: every directory with
 * at least `minShare` of the bytes none of whose subdirectories also has that much (so the list
 * reads `/var/cache/apt/archives/`, `/usr/lib/gcc/x86_64-linux-gnu/` rather than `/`, `/usr/`,
 * `/var/`), largest first. Pure.
 */
export function largestDirectories(
  files: Iterable<{ readonly path: string; readonly size: number }>,
  options: LargestDirectoriesOptions = {},
): DirectorySize[] {
  const limit = options.limit ?? 5;
  const maxDepth = options.maxDepth ?? 5;
  const sizes = new Map<string, { bytes: number; files: number; heavyChild: boolean }>();
  let total = 0;
  for (const file of files) {
    total += file.size;
    const parts = file.path.split('/').filter(Boolean);
    for (let depth = 0; depth < parts.length && depth <= maxDepth; depth++) {
      const dir = depth === 0 ? '/' : `/${parts.slice(0, depth).join('/')}/`;
      const entry = sizes.get(dir) ?? { bytes: 0, files: 0, heavyChild: false };
      entry.bytes += file.size;
      entry.files += 1;
      sizes.set(dir, entry);
    }
  }
  const threshold = Math.max(1, total * (options.minShare ?? 0.02));
  for (const [dir, entry] of sizes) {
    if (dir === '/' || entry.bytes < threshold) continue;
    const parent = sizes.get(`${dir.slice(0, dir.slice(0, -1).lastIndexOf('/'))}/`);
    if (parent) parent.heavyChild = true;
  }
  return [...sizes.entries()]
    .filter(([, e]) => e.bytes >= threshold && !e.heavyChild)
    .map(([path, e]) => ({ path, bytes: e.bytes, files: e.files }))
    .sort((a, b) => b.bytes - a.bytes || (a.path < b.path ? -1 : 1))
    .slice(0, limit);
}
