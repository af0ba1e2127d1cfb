import type { Stats } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isErrnoException, withLock, writeFileAtomic } from '../util/index.ts';

/** Bumped whenever the file format or the meaning of a cached hash changes. */
const FORMAT_VERSION = 2;
/** Entries not used for this long are dropped when the cache is saved. */
const MAX_IDLE_DAYS = 30;
/** Upper bound on remembered files; the least recently used go first. */
const MAX_ENTRIES = 500_000;
/**
 * A file whose ctime is this close to the moment we hashed it is not remembered: a write in the
 * same timestamp tick after we read it would leave size, mtime and ctime unchanged (git's "racy
 * clean" problem). Generous, to cover filesystems with coarse timestamps.
 */
const RACY_WINDOW_MS = 2000;

/**
 * [size, mtimeMs, ctimeMs, ino, value, day last used]; the value is the sha256 hex of a file's
 * content (+ `/` xattr digest), or {@link DIRECTORY_XATTRS} + the xattr digest of a directory.
 */
/** Marks a directory's entry (its key is `<path>/`): what follows is its xattr digest. */
const DIRECTORY_XATTRS = 'dir-xattrs:';

type Entry = [number, number, number, number, string, number];

interface CacheFile {
  readonly version: number;
  readonly entries: Record<string, Entry>;
}

function today(): number {
  return Math.floor(Date.now() / 86_400_000);
}

function parseCacheFile(text: string): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return entries; // a damaged cache is only a slower build: start empty
  }
  if (typeof data !== 'object' || data === null) return entries;
  const file = data as Partial<CacheFile>;
  if (file.version !== FORMAT_VERSION || typeof file.entries !== 'object' || file.entries === null)
    return entries;
  // Entries are checked for shape only here (cheap); a hash is checked when it is used.
  for (const [path, entry] of Object.entries(file.entries))
    if (Array.isArray(entry) && entry.length === 6) entries.set(path, entry as Entry);
  return entries;
}

async function readCacheFile(file: string): Promise<Map<string, Entry>> {
  try {
    return parseCacheFile(await readFile(file, 'utf8'));
  } catch (error) {
    if (isErrnoException(error, 'ENOENT')) return new Map();
    throw error;
  }
}

/**
 * Remembers the sha256 of context files keyed by absolute path + size + mtime + ctime + inode, so
 * a rebuild re-hashes only files that changed (BuildKit keeps the same kind of cache in its
 * daemon; we keep it in a file). Any change to content changes mtime/ctime, so a stale hash is
 * never returned; files modified within {@link RACY_WINDOW_MS} of hashing are not remembered.
 *
 * Saved atomically (temp file + rename) under a lock, merging with what other processes saved
 * meanwhile, so concurrent builds neither corrupt it nor lose each other's work.
 */
export class ChecksumCache {
  /** The file the cache lives in. */
  readonly file: string;
  readonly #entries: Map<string, Entry>;
  readonly #changed = new Map<string, Entry>();
  readonly #racyWindowMs: number;
  #hits = 0;
  #misses = 0;

  private constructor(file: string, entries: Map<string, Entry>, racyWindowMs: number) {
    this.file = file;
    this.#entries = entries;
    this.#racyWindowMs = racyWindowMs;
  }

  /**
   * Loads the cache from `file` (missing or unreadable content means an empty cache).
   * `racyWindowMs` (default 2000) is how recently changed a file may be and still be remembered;
   * 0 turns the check off (tests and benchmarks that hash files they have just written).
   */
  static async open(file: string, options: { racyWindowMs?: number } = {}): Promise<ChecksumCache> {
    return new ChecksumCache(file, await readCacheFile(file), options.racyWindowMs ?? RACY_WINDOW_MS);
  }

  /** The remembered sha256 hex of the file at `absPath` if its stats are unchanged. */
  lookup(absPath: string, stats: Stats): string | undefined {
    const entry = this.#entries.get(absPath);
    if (
      entry !== undefined &&
      typeof entry[4] === 'string' &&
      entry[4].length >= 64 &&
      entry[0] === stats.size &&
      entry[1] === stats.mtimeMs &&
      entry[2] === stats.ctimeMs &&
      entry[3] === stats.ino
    ) {
      this.#hits++;
      const day = today();
      if (entry[5] !== day) {
        entry[5] = day;
        this.#changed.set(absPath, entry);
      }
      return entry[4];
    }
    this.#misses++;
    return undefined;
  }

  /**
   * Remembers `hex` for the file at `absPath` as it was when `stats` were taken; `hashStartedMs`
   * is when reading began (racily recent files are skipped).
   */
  store(absPath: string, stats: Stats, hex: string, hashStartedMs: number): void {
    this.#remember(absPath, stats, hex, hashStartedMs);
  }

  /**
   * The remembered xattr digest of the directory at `absPath` (`''` when it has none) if its
   * stats are unchanged. Setting or removing an xattr changes the directory's ctime, as adding or
   * removing an entry does, so a stale digest is never returned. Directories are remembered under
   * `<path>/`, which no file's path can be.
   */
  lookupDirectoryXattrs(absPath: string, stats: Stats): string | undefined {
    const entry = this.#entries.get(`${absPath}/`);
    if (
      entry === undefined ||
      typeof entry[4] !== 'string' ||
      !entry[4].startsWith(DIRECTORY_XATTRS) ||
      entry[1] !== stats.mtimeMs ||
      entry[2] !== stats.ctimeMs ||
      entry[3] !== stats.ino
    )
      return undefined;
    const day = today();
    if (entry[5] !== day) {
      entry[5] = day;
      this.#changed.set(`${absPath}/`, entry);
    }
    return entry[4].slice(DIRECTORY_XATTRS.length);
  }

  /** Remembers a directory's xattr digest (see lookupDirectoryXattrs), read at `readStartedMs`. */
  storeDirectoryXattrs(absPath: string, stats: Stats, digest: string, readStartedMs: number): void {
    this.#remember(`${absPath}/`, stats, `${DIRECTORY_XATTRS}${digest}`, readStartedMs);
  }

  #remember(key: string, stats: Stats, value: string, startedMs: number): void {
    const limit = startedMs - this.#racyWindowMs;
    if (this.#racyWindowMs > 0 && (stats.ctimeMs > limit || stats.mtimeMs > limit)) return;
    const entry: Entry = [stats.size, stats.mtimeMs, stats.ctimeMs, stats.ino, value, today()];
    this.#entries.set(key, entry);
    this.#changed.set(key, entry);
  }

  /** Lookups answered from the cache since it was opened. */
  get hits(): number {
    return this.#hits;
  }

  /** Lookups that had to hash the file. */
  get misses(): number {
    return this.#misses;
  }

  /** Number of remembered files. */
  get size(): number {
    return this.#entries.size;
  }

  /** Writes the changes made since opening (a no-op when there are none). */
  async save(): Promise<void> {
    if (this.#changed.size === 0) return;
    await mkdir(dirname(this.file), { recursive: true });
    await withLock(`${this.file}.lock`, async () => {
      const merged = await readCacheFile(this.file);
      for (const [path, entry] of this.#changed) merged.set(path, entry);
      const oldest = today() - MAX_IDLE_DAYS;
      let kept = [...merged].filter(([, e]) => e[5] >= oldest);
      if (kept.length > MAX_ENTRIES) kept = kept.sort((a, b) => b[1][5] - a[1][5]).slice(0, MAX_ENTRIES);
      const data: CacheFile = { version: FORMAT_VERSION, entries: Object.fromEntries(kept) };
      await writeFileAtomic(this.file, JSON.stringify(data));
    });
    this.#changed.clear();
  }
}
