import {
  closeSync,
  constants,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  type Stats,
} from 'node:fs';
import { Readable } from 'node:stream';
import {
  AbortedError,
  cleanPath,
  getAttributeSync,
  InvalidInputError,
  isOverlayXattr,
  listAttributesSync,
  overlayOpaqueXattr,
} from '../util/index.ts';
import { FileChangedError } from './errors.ts';
import { BLOCK_SIZE, blockPadding, encodeHeader, type TarEntryType, type TarHeader } from './tar-header.ts';

/**
 * One change a layer records, as a snapshotter reports it. Paths are relative to the layer root
 * (`usr/bin/tool`, no leading slash). An `add` is a single entry, not recursive: a directory
 * change lists the directory and, separately, each changed child.
 */
export type LayerChange =
  /** The node at `source` (any type; symlinks are not followed) becomes entry `path`. */
  | { readonly kind: 'add'; readonly path: string; readonly source: string }
  /** `path` existed in a lower layer and is deleted: a `.wh.<name>` entry. */
  | { readonly kind: 'whiteout'; readonly path: string }
  /** Directory `path` hides everything lower layers had in it: a `.wh..wh..opq` entry. */
  | { readonly kind: 'opaque'; readonly path: string };

/** Options of {@link packDirectory} and {@link packChanges}. */
export interface PackOptions {
  /**
   * `SOURCE_DATE_EPOCH` in seconds: mtimes later than it are clamped to it (BuildKit's
   * `rewrite-timestamp`), and whiteout markers get it as their mtime. Without it markers get 0.
   */
  readonly sourceDateEpoch?: number;
  /**
   * Read the tree as an overlayfs upperdir: 0:0 character devices become whiteouts and
   * directories with `trusted.overlay.opaque=y` get an opaque marker ({@link packDirectory} only).
   */
  readonly overlayUpperdir?: boolean;
  /** Which xattrs to record; default {@link defaultXattrFilter}. */
  readonly includeXattr?: (name: string) => boolean;
  readonly signal?: AbortSignal;
}

/**
 * The xattrs a layer keeps by default: all but overlayfs's own bookkeeping (`trusted.overlay.*`)
 * and the host's SELinux label (`security.selinux`), which belong to the host, not the image.
 */
export function defaultXattrFilter(name: string): boolean {
  // `user.overlay.*` too in a user namespace, where overlayfs keeps its marks there (userxattr).
  return !isOverlayXattr(name) && name !== 'security.selinux';
}

/** The whiteout prefix of the OCI layer spec (image-spec layer.md, "Whiteouts"). */
export const WHITEOUT_PREFIX = '.wh.';
/** The opaque-directory marker of the OCI layer spec. */
export const OPAQUE_MARKER = '.wh..wh..opq';

/**
 * A deterministic layer tar of the tree under `root` (the root itself is not an entry). Entries
 * come depth-first, each directory's children in UTF-8 byte order of their tar names (the order
 * of GNU tar's `--sort=name`); ownership is numeric, uname/gname are empty, atime/ctime are not
 * recorded. The tree is read with synchronous calls in slices of ~1 MiB per `_read`, so memory
 * stays bounded whatever the layer size, and the event loop is free between slices.
 */
export function packDirectory(root: string, options: PackOptions = {}): Readable {
  return new LayerTarStream(walkTree(root, '', options), options);
}

/**
 * A deterministic layer tar of an explicit list of changes (from a snapshotter's diff). The list
 * is sorted into the same order as {@link packDirectory} would produce; an opaque marker comes
 * right after its directory's entry. Hardlinks among the added files are detected by device and
 * inode.
 */
export function packChanges(changes: Iterable<LayerChange>, options: PackOptions = {}): Readable {
  const planned: Planned[] = [];
  for (const change of changes) {
    const clean = cleanPath(`/${change.path}`).slice(1);
    if (clean === '' || change.path.split('/').includes('..'))
      throw new InvalidInputError(
        `layer change path ${JSON.stringify(change.path)} must name an entry below the root`,
      );
    const parts = clean.split('/');
    if (change.kind === 'add')
      planned.push({ kind: 'node', key: parts, tarPath: clean, source: change.source });
    else if (change.kind === 'opaque') planned.push({ kind: 'opaque', key: [...parts, ''], tarPath: clean });
    else {
      const name = parts.pop()!;
      planned.push({
        kind: 'whiteout',
        key: [...parts, WHITEOUT_PREFIX + name],
        tarPath: [...parts, WHITEOUT_PREFIX + name].join('/'),
      });
    }
  }
  planned.sort((a, b) => compareKeys(a.key, b.key));
  return new LayerTarStream(planned[Symbol.iterator](), options);
}

type Planned =
  | { kind: 'node'; key: string[]; tarPath: string; source: string }
  | { kind: 'whiteout'; key: string[]; tarPath: string }
  | { kind: 'opaque'; key: string[]; tarPath: string };

/**
 * Compares two strings in UTF-8 byte order (JS `<` compares UTF-16 code units, which differs
 * for characters above U+FFFF against U+E000–U+FFFF).
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x = x <= 0xdfff ? x + 0x2000 : x - 0x800;
    if (y >= 0xd800) y = y <= 0xdfff ? y + 0x2000 : y - 0x800;
    return x - y;
  }
  return a.length - b.length;
}

function compareKeys(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareUtf8(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

function* walkTree(dir: string, prefix: string, options: PackOptions): Generator<Planned> {
  // Dirents, not Stats: a directory of 20k entries is held as names and types only (the full
  // lstat happens as each entry is written). Only character devices need an lstat up front, to
  // tell an overlay whiteout (0:0) from a real device — its tar name sorts differently.
  const children = readdirSync(dir, { withFileTypes: true }).map((dirent) => {
    const whiteout =
      options.overlayUpperdir === true &&
      dirent.isCharacterDevice() &&
      lstatSync(`${dir}/${dirent.name}`).rdev === 0;
    return {
      name: dirent.name,
      tarName: whiteout ? WHITEOUT_PREFIX + dirent.name : dirent.name,
      whiteout,
      directory: dirent.isDirectory(),
    };
  });
  children.sort((a, b) => compareUtf8(a.tarName, b.tarName));
  for (const child of children) {
    const tarPath = prefix === '' ? child.tarName : `${prefix}/${child.tarName}`;
    if (child.whiteout) {
      yield { kind: 'whiteout', key: [], tarPath };
      continue;
    }
    const abs = `${dir}/${child.name}`;
    yield { kind: 'node', key: [], tarPath, source: abs };
    if (child.directory) {
      if (options.overlayUpperdir && isOverlayOpaque(abs)) yield { kind: 'opaque', key: [], tarPath };
      yield* walkTree(abs, tarPath, options);
    }
  }
}

function isOverlayOpaque(path: string): boolean {
  const value = getAttributeSync(path, overlayOpaqueXattr());
  return value !== null && value.length === 1 && value[0] === 0x79; // 'y'
}

const CHUNK = 1024 * 1024;
const YIELD_EVERY = 8 * CHUNK;
const NO_XATTRS: ReadonlyMap<string, Buffer> = new Map();

/** The tar byte stream of a sequence of planned entries, produced synchronously in ~1 MiB chunks. */
class LayerTarStream extends Readable {
  readonly #entries: Iterator<Planned>;
  readonly #epoch: number | undefined;
  readonly #includeXattr: (name: string) => boolean;
  readonly #signal: AbortSignal | undefined;
  /** dev:ino → tar path of the first entry for a multiply-linked inode. */
  readonly #links = new Map<string, string>();
  #buf = Buffer.allocUnsafe(CHUNK);
  #pos = 0;
  #file: { fd: number; path: string; size: number; offset: number } | undefined;
  #finished = false;
  /** Reused for ordinary headers, which #write copies out at once. */
  readonly #scratch = Buffer.alloc(BLOCK_SIZE);
  #sinceYield = 0;

  constructor(entries: Iterator<Planned>, options: PackOptions) {
    super({ highWaterMark: CHUNK });
    this.#entries = entries;
    this.#epoch = options.sourceDateEpoch;
    this.#includeXattr = options.includeXattr ?? defaultXattrFilter;
    this.#signal = options.signal;
  }

  override _read(): void {
    if (this.#sinceYield >= YIELD_EVERY) {
      // With a synchronous consumer (hashing only) Node calls _read again before any I/O
      // callback runs; producing from setImmediate every few MiB keeps the event loop
      // (progress, downloads) responsive.
      this.#sinceYield = 0;
      setImmediate(() => this.#produce());
      return;
    }
    this.#produce();
  }

  /** Produces until one chunk was pushed (or the archive ended). */
  #produce(): void {
    try {
      if (this.#signal?.aborted)
        throw new AbortedError('packing layer aborted', { cause: this.#signal.reason });
      for (;;) {
        if (this.#file) {
          if (this.#pumpFile()) return;
          continue;
        }
        const next = this.#entries.next();
        if (next.done) {
          this.#finish();
          return;
        }
        if (this.#entry(next.value)) return;
      }
    } catch (error) {
      this.#closeFile();
      this.destroy(error as Error);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#closeFile();
    callback(error);
  }

  #closeFile(): void {
    if (this.#file) {
      closeSync(this.#file.fd);
      this.#file = undefined;
    }
  }

  /** Appends bytes to the output; returns true when a chunk was pushed. */
  #write(bytes: Buffer): boolean {
    let pushed = false;
    let offset = 0;
    while (offset < bytes.length) {
      const n = Math.min(bytes.length - offset, this.#buf.length - this.#pos);
      bytes.copy(this.#buf, this.#pos, offset, offset + n);
      this.#pos += n;
      offset += n;
      if (this.#pos === this.#buf.length) pushed = this.#flush() || pushed;
    }
    return pushed;
  }

  /** Pushes the current chunk; returns true when there was one to push. */
  #flush(): boolean {
    if (this.#pos === 0) return false;
    const chunk = this.#pos === this.#buf.length ? this.#buf : this.#buf.subarray(0, this.#pos);
    this.#buf = Buffer.allocUnsafe(CHUNK);
    this.#pos = 0;
    this.#sinceYield += chunk.length;
    this.push(chunk);
    return true;
  }

  #mtime(stat: Stats | undefined): number {
    const seconds = stat ? Math.floor(stat.mtimeMs / 1000) : (this.#epoch ?? 0);
    return this.#epoch !== undefined && seconds > this.#epoch ? this.#epoch : seconds;
  }

  #marker(tarPath: string): TarHeader {
    return {
      path: tarPath,
      type: 'file',
      mode: 0,
      uid: 0,
      gid: 0,
      size: 0,
      mtime: this.#mtime(undefined),
      linkpath: '',
      devmajor: 0,
      devminor: 0,
      xattrs: NO_XATTRS,
    };
  }

  /** Writes one entry's header (and opens its content); returns true when a chunk was pushed. */
  #entry(planned: Planned): boolean {
    if (planned.kind === 'whiteout')
      return this.#write(encodeHeader(this.#marker(planned.tarPath), this.#scratch));
    if (planned.kind === 'opaque')
      return this.#write(encodeHeader(this.#marker(`${planned.tarPath}/${OPAQUE_MARKER}`), this.#scratch));
    // A real file named `.wh.*` (ADD of a tar holding whiteouts, `RUN touch .wh.x`) is stored
    // under its name, as BuildKit's and Docker's differs store it: whoever applies the layer
    // then reads it as a whiteout, for strata's images exactly as for BuildKit's.
    const stat = lstatSync(planned.source);
    let type: TarEntryType;
    let linkpath = '';
    let devmajor = 0;
    let devminor = 0;
    if (stat.isFile()) type = 'file';
    else if (stat.isDirectory()) type = 'directory';
    else if (stat.isSymbolicLink()) {
      type = 'symlink';
      linkpath = readlinkSync(planned.source);
    } else if (stat.isCharacterDevice() || stat.isBlockDevice()) {
      type = stat.isCharacterDevice() ? 'char' : 'block';
      const high = Math.floor(stat.rdev / 0x100000000);
      const low = stat.rdev >>> 0;
      // glibc's major()/minor() of a 64-bit dev_t.
      devmajor = (((low >>> 8) & 0xfff) | (high & 0xfffff000)) >>> 0;
      devminor = ((low & 0xff) | (((low >>> 12) | (high << 20)) & 0xffffff00)) >>> 0;
    } else if (stat.isFIFO()) type = 'fifo';
    else return false; // sockets cannot be archived (GNU tar: "socket ignored")
    if (type !== 'directory' && stat.nlink > 1) {
      const key = inodeKey(planned.source, stat);
      const first = this.#links.get(key);
      if (first !== undefined) {
        type = 'link';
        linkpath = first;
      } else this.#links.set(key, planned.tarPath);
    }
    const size = type === 'file' ? stat.size : 0;
    const header: TarHeader = {
      path: planned.tarPath,
      type,
      mode: stat.mode & 0o7777,
      uid: stat.uid,
      gid: stat.gid,
      size,
      mtime: this.#mtime(stat),
      linkpath,
      devmajor,
      devminor,
      xattrs: type === 'link' ? NO_XATTRS : this.#readXattrs(planned.source),
    };
    if (type === 'file' && size > 0) {
      // O_NOFOLLOW: if the file was swapped for a symlink since lstat, fail rather than follow it.
      const fd = openSync(planned.source, constants.O_RDONLY | constants.O_NOFOLLOW);
      this.#file = { fd, path: planned.source, size, offset: 0 };
    }
    return this.#write(encodeHeader(header, this.#scratch));
  }

  #readXattrs(path: string): ReadonlyMap<string, Buffer> {
    const names = listAttributesSync(path);
    if (names.length === 0) return NO_XATTRS;
    const xattrs = new Map<string, Buffer>();
    for (const name of names) {
      if (!this.#includeXattr(name)) continue;
      const value = getAttributeSync(path, name);
      if (value !== null) xattrs.set(name, value);
    }
    return xattrs;
  }

  /** Reads the open file straight into the output chunk; returns true when a chunk was pushed. */
  #pumpFile(): boolean {
    const file = this.#file!;
    while (file.offset < file.size) {
      const want = Math.min(file.size - file.offset, this.#buf.length - this.#pos);
      const n = readSync(file.fd, this.#buf, this.#pos, want, file.offset);
      if (n === 0) throw new FileChangedError(file.path, file.size, file.offset);
      file.offset += n;
      this.#pos += n;
      if (this.#pos === this.#buf.length && this.#flush()) {
        if (file.offset === file.size) this.#endFile();
        return true;
      }
    }
    this.#endFile();
    return false;
  }

  #endFile(): void {
    const file = this.#file!;
    this.#closeFile();
    const padding = blockPadding(file.size);
    if (padding > 0) this.#write(Buffer.alloc(padding));
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#write(Buffer.alloc(2 * BLOCK_SIZE)); // end-of-archive marker
    this.#flush();
    this.push(null);
  }
}

/** A hardlink identity; bigint stats so 64-bit inode numbers compare exactly. */
function inodeKey(path: string, stat: Stats): string {
  if (stat.ino < Number.MAX_SAFE_INTEGER && stat.dev < Number.MAX_SAFE_INTEGER)
    return `${stat.dev}:${stat.ino}`;
  const big = lstatSync(path, { bigint: true });
  return `${big.dev}:${big.ino}`;
}
