import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  type Stats,
  symlinkSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import {
  AbortedError,
  currentUserNamespace,
  isErrnoException,
  isOverlayXattr,
  nativeCalls,
  overlayOpaqueXattr,
  resolveInRoot,
  setAttributeSync,
} from '../util/index.ts';
import { TarApplyError, UnsafeTarEntryError } from './errors.ts';
import { OPAQUE_MARKER, WHITEOUT_PREFIX } from './pack-layer.ts';
import type { TarHeader } from './tar-header.ts';
import { TarParser, type TarVisitor } from './tar-parser.ts';

/** Options of {@link applyLayer}. */
export interface ApplyLayerOptions {
  /**
   * `'apply'` (default): whiteouts delete what lower layers put in `root`, opaque markers empty
   * their directory of lower content. `'overlay'`: unpack as an overlayfs upperdir/lowerdir —
   * a whiteout becomes a 0:0 character device, an opaque marker sets `trusted.overlay.opaque=y`.
   * `'literal'`: an archive, not a layer — `.wh.*` entries are ordinary files written under their
   * own names, as ADD extracts a tar (Docker's archive.Untar knows no whiteouts; only
   * ApplyLayer does).
   */
  readonly whiteouts?: 'apply' | 'overlay' | 'literal';
  /** Set owners from the archive (default true; needs root or CAP_CHOWN). */
  readonly preserveOwnership?: boolean;
  /**
   * Where to copy owner, mode and mtime from when the layer omits a parent directory (the lower
   * layers' directories, topmost first; containerd's `WithParents`). Without it, or when no lower
   * layer has the directory, it is created 0755 root-owned, as Docker does. Needed when unpacking
   * a layer alone for overlayfs, where a made-up parent would shadow the lower one's metadata.
   */
  readonly parentsFrom?: readonly string[];
  readonly signal?: AbortSignal;
}

/** What an apply did, for progress and tests. */
export interface ApplyLayerResult {
  /** Entries created or replaced (whiteouts and markers not counted). */
  readonly entries: number;
  /** Bytes of file content written. */
  readonly bytes: number;
  readonly whiteouts: number;
}

/**
 * Extracts an uncompressed layer tar (see {@link openDecompressed}) onto `root`, which may hold
 * the lower layers already applied. Modes (incl. setuid/setgid/sticky, no umask), numeric owners,
 * xattrs, mtimes, hardlinks, symlinks, fifos and devices are reproduced; an entry replaces
 * whatever was at its path (file ↔ directory ↔ symlink), directories merge.
 *
 * Safety: nothing outside `root` is ever created, changed or deleted. Names are cleaned and a
 * `..` that would leave the root is refused ({@link UnsafeTarEntryError}); absolute names and
 * link targets are taken relative to the root. Parent directories are resolved with
 * {@link resolveInRoot}, which follows symlinks *inside* the root as a chroot would, so a
 * planted `etc -> /` symlink leads back into the root, never out. The final component is never
 * followed: files are created with O_EXCL|O_NOFOLLOW after removing what was there, so a
 * symlink planted earlier is replaced rather than written through. Directory modes and mtimes are
 * set last, by a file descriptor opened with O_NOFOLLOW after re-checking the path holds no
 * symlink. Assumes nothing else writes into `root` while the layer is applied.
 */
export async function applyLayer(
  tar: Readable | AsyncIterable<Uint8Array>,
  root: string,
  options: ApplyLayerOptions = {},
): Promise<ApplyLayerResult> {
  const applier = new LayerApplier(posix.resolve(root), options);
  const parser = new TarParser(applier);
  try {
    for await (const chunk of tar) {
      if (options.signal?.aborted)
        throw new AbortedError('applying layer aborted', { cause: options.signal.reason });
      parser.write(
        Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
      );
    }
    parser.end();
    applier.finish();
  } finally {
    applier.close();
  }
  return applier.result();
}

/** Cleans an archive name into components below the root; throws when `..` would leave it. */
export function entryComponents(name: string): string[] {
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) throw new UnsafeTarEntryError(name, 'path leaves the root through ".."');
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out;
}

interface PendingDir {
  readonly abs: string;
  readonly rel: string;
  readonly mode: number;
  readonly mtime: number;
}

class LayerApplier implements TarVisitor {
  readonly #root: string;
  readonly #overlay: boolean;
  readonly #literal: boolean;
  readonly #chown: boolean;
  readonly #parentsFrom: readonly string[];
  /** Absolute paths this layer created: whiteouts and opaque markers spare them (lower layers only). */
  readonly #created = new Set<string>();
  readonly #dirs: PendingDir[] = [];
  /** Overlay whiteout devices this layer made (overlay mode). */
  readonly #whiteoutNodes = new Set<string>();
  #file: { fd: number; header: TarHeader; abs: string; written: number } | undefined;
  /** The last parent directory resolved, valid while `#generation` has not moved. */
  #parentCache: { key: string; abs: string; generation: number } | undefined;
  /** Bumped by every operation that can change how a path resolves (removals, new links). */
  #generation = 0;
  #entries = 0;
  #bytes = 0;
  #whiteouts = 0;

  constructor(root: string, options: ApplyLayerOptions) {
    this.#root = root;
    this.#overlay = options.whiteouts === 'overlay';
    this.#literal = options.whiteouts === 'literal';
    this.#chown = options.preserveOwnership ?? true;
    this.#parentsFrom = options.parentsFrom ?? [];
    mkdirSync(root, { recursive: true });
  }

  result(): ApplyLayerResult {
    return { entries: this.#entries, bytes: this.#bytes, whiteouts: this.#whiteouts };
  }

  close(): void {
    if (this.#file) {
      closeSync(this.#file.fd);
      this.#file = undefined;
    }
  }

  entry(header: TarHeader): void {
    try {
      this.#entry(header);
    } catch (error) {
      throw wrap(header.path, error);
    }
  }

  data(chunk: Buffer): void {
    const file = this.#file;
    if (!file) return;
    let offset = 0;
    try {
      while (offset < chunk.length) offset += writeSync(file.fd, chunk, offset, chunk.length - offset);
    } catch (error) {
      throw wrap(file.header.path, error);
    }
    file.written += chunk.length;
    this.#bytes += chunk.length;
  }

  entryEnd(): void {
    const file = this.#file;
    if (!file) return;
    try {
      const { fd, header, abs } = file;
      // chown before chmod (chown clears setuid/setgid), xattrs after both (chown clears
      // security.capability), mtime last.
      if (this.#chown) fchownSync(fd, header.uid, header.gid);
      fchmodSync(fd, header.mode);
      this.#setXattrs(abs, header);
      futimesSync(fd, header.mtime, header.mtime);
    } catch (error) {
      throw wrap(file.header.path, error);
    } finally {
      this.close();
    }
  }

  /** Sets the deferred directory modes and mtimes. */
  finish(): void {
    // In archive order, so the last entry for a directory wins (a child's metadata change does not
    // touch its parent's mtime, so the order is otherwise free).
    for (const dir of this.#dirs) {
      // Re-resolve: a later entry may have replaced a parent with a symlink, and the kernel would
      // follow it. Only a path that still resolves to itself, symlink-free, is touched.
      if (resolveInRoot(this.#root, dir.rel, { followFinal: false }) !== dir.abs) continue;
      let fd: number;
      try {
        fd = openSync(dir.abs, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
      } catch (error) {
        // Replaced by a later entry (a file, a symlink) or removed by a whiteout: nothing to do.
        if (
          isErrnoException(error, 'ENOENT') ||
          isErrnoException(error, 'ENOTDIR') ||
          isErrnoException(error, 'ELOOP')
        )
          continue;
        throw wrap(dir.rel, error);
      }
      try {
        fchmodSync(fd, dir.mode);
        futimesSync(fd, dir.mtime, dir.mtime);
      } finally {
        closeSync(fd);
      }
    }
  }

  #entry(header: TarHeader): void {
    const parts = entryComponents(header.path);
    const base = parts[parts.length - 1];
    if (!this.#literal && base?.startsWith(WHITEOUT_PREFIX)) {
      this.#whiteouts++;
      if (base === OPAQUE_MARKER) this.#opaque(parts.slice(0, -1), header);
      else if (base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`))
        return; // other AUFS metadata (.wh..wh.plnk…): meaningless here, ignored like containerd does
      else this.#whiteout(parts.slice(0, -1), base.slice(WHITEOUT_PREFIX.length), header);
      return;
    }
    if (parts.length === 0) {
      // An archive's own root entry (`./`) is skipped: Docker's archive.Unpack, which ADD uses,
      // passes over "." when the destination directory exists (it always does), so the directory
      // keeps the mode and owner ADD gave it (`--chown`).
      if (this.#literal) return;
      // The root itself: only its metadata can change; it can never be replaced.
      if (header.type !== 'directory')
        throw new UnsafeTarEntryError(header.path, `a ${header.type} cannot replace the root`);
      this.#directoryMetadata(this.#root, '', header);
      return;
    }
    const parent = this.#parentDir(parts, header.path);
    const abs = `${parent}/${base}`;
    const rel = posix.relative(this.#root, abs);
    const existing = lstatOrUndefined(abs);
    this.#entries++;
    switch (header.type) {
      case 'directory': {
        if (existing && !existing.isDirectory()) this.#remove(abs, existing);
        if (!existing?.isDirectory()) mkdirSync(abs, { mode: 0o700 });
        // `.wh.x` then `x/` in one layer means "lower x is gone, this x is new": in an upperdir
        // that is an opaque directory, or the lower x's children would show through.
        if (this.#whiteoutNodes.has(abs)) setAttributeSync(abs, overlayOpaqueXattr(), 'y');
        this.#created.add(abs);
        this.#directoryMetadata(abs, rel, header);
        return;
      }
      case 'file': {
        if (existing) this.#remove(abs, existing);
        const fd = openSync(
          abs,
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
          0o600,
        );
        this.#created.add(abs);
        this.#file = { fd, header, abs, written: 0 };
        return;
      }
      case 'symlink': {
        if (existing) this.#remove(abs, existing);
        // Any target is fine: it is only ever followed relative to the root (resolveInRoot).
        this.#generation++;
        symlinkSync(header.linkpath, abs);
        this.#created.add(abs);
        if (this.#chown) lchownSync(abs, header.uid, header.gid);
        this.#setXattrs(abs, header);
        lutimesSync(abs, header.mtime, header.mtime);
        return;
      }
      case 'link': {
        const targetParts = entryComponents(header.linkpath);
        if (targetParts.length === 0) throw new UnsafeTarEntryError(header.path, 'hardlink to the root');
        const target = resolveInRoot(this.#root, targetParts.join('/'), { followFinal: false });
        const targetStat = lstatOrUndefined(target);
        if (!targetStat)
          throw new TarApplyError(
            header.path,
            `hardlink target ${JSON.stringify(header.linkpath)} does not exist`,
          );
        if (targetStat.isDirectory())
          throw new UnsafeTarEntryError(
            header.path,
            `hardlink to directory ${JSON.stringify(header.linkpath)}`,
          );
        if (target === abs) return; // a link to itself: already there
        if (existing) this.#remove(abs, existing);
        this.#generation++;
        linkSync(target, abs);
        this.#created.add(abs);
        return;
      }
      case 'char':
      case 'block':
      case 'fifo': {
        if (existing) this.#remove(abs, existing);
        // The root of a user namespace may not make device nodes (rootless): they are skipped, as
        // containerd and moby do there (archive/tar_unix.go, handleTarTypeBlockCharFifo).
        if (header.type !== 'fifo' && currentUserNamespace()) return;
        makeNode(abs, header.type, header.devmajor, header.devminor);
        this.#created.add(abs);
        if (this.#chown) lchownSync(abs, header.uid, header.gid);
        chmodNode(abs, header.mode);
        this.#setXattrs(abs, header);
        lutimesSync(abs, header.mtime, header.mtime);
        return;
      }
    }
  }

  /** The directory an entry lives in, resolved inside the root and created when missing. */
  #parentDir(parts: readonly string[], name: string): string {
    const key = parts.slice(0, -1).join('/');
    const cached = this.#parentCache;
    // Sorted layers put siblings together: reuse the last resolution while nothing that could
    // change it (a removal, a new symlink or hardlink) has happened since.
    if (cached !== undefined && cached.key === key && cached.generation === this.#generation)
      return cached.abs;
    const parent = resolveInRoot(this.#root, key);
    const stat = lstatOrUndefined(parent);
    if (stat === undefined) {
      // Layers may omit parent entries; create them like Docker does (0755, root-owned).
      this.#mkdirs(parent, name);
    } else if (!stat.isDirectory()) throw new TarApplyError(name, 'a parent is not a directory');
    this.#parentCache = { key, abs: parent, generation: this.#generation };
    return parent;
  }

  /** Removes what is at `abs` without following it, and forgets cached path resolutions. */
  #remove(abs: string, stat: Stats): void {
    this.#generation++;
    remove(abs, stat);
  }

  /** mkdir -p for a path resolveInRoot returned (its existing prefix holds no symlink). */
  #mkdirs(abs: string, name: string): void {
    const rel = posix.relative(this.#root, abs);
    let current = this.#root;
    for (const part of rel.split('/')) {
      current = `${current}/${part}`;
      const stat = lstatOrUndefined(current);
      if (stat === undefined) {
        mkdirSync(current, { mode: 0o755 });
        this.#created.add(current);
        const lower = this.#lowerDirectory(posix.relative(this.#root, current));
        if (lower) {
          if (this.#chown) lchownSync(current, lower.uid, lower.gid);
          const mtime = lower.mtimeMs / 1000;
          this.#dirs.push({
            abs: current,
            rel: posix.relative(this.#root, current),
            mode: lower.mode & 0o7777,
            mtime,
          });
        }
      } else if (!stat.isDirectory()) throw new TarApplyError(name, 'a parent is not a directory');
    }
  }

  /** The same directory in the topmost lower layer that has it, resolved inside that layer. */
  #lowerDirectory(rel: string): Stats | undefined {
    for (const lower of this.#parentsFrom) {
      const stat = lstatOrUndefined(resolveInRoot(lower, rel, { followFinal: false }));
      if (stat?.isDirectory()) return stat;
      if (stat !== undefined) return undefined; // hidden below a non-directory: nothing to copy
    }
    return undefined;
  }

  #directoryMetadata(abs: string, rel: string, header: TarHeader): void {
    if (this.#chown) lchownSync(abs, header.uid, header.gid);
    this.#setXattrs(abs, header);
    // Mode and mtime last: writing children changes the mtime, and a 0555 dir would refuse them.
    this.#dirs.push({ abs, rel, mode: header.mode, mtime: header.mtime });
  }

  #whiteout(parentParts: readonly string[], name: string, header: TarHeader): void {
    if (name === '' || name === '.' || name === '..')
      throw new UnsafeTarEntryError(header.path, `whiteout names ${JSON.stringify(name)}`);
    const parent = resolveInRoot(this.#root, parentParts.join('/'));
    const abs = `${parent}/${name}`;
    if (this.#overlay) {
      const existing = lstatOrUndefined(abs);
      if (existing === undefined) {
        const parentStat = lstatOrUndefined(parent);
        if (parentStat === undefined) this.#mkdirs(parent, header.path);
        else if (!parentStat.isDirectory())
          throw new TarApplyError(header.path, 'a parent is not a directory');
      } else if (this.#created.has(abs))
        return; // this layer's own entry wins over its whiteout
      else this.#remove(abs, existing);
      // overlayfs whiteout: a 0:0 character device owned by root (Documentation/filesystems/overlayfs.rst).
      makeNode(abs, 'char', 0, 0);
      if (this.#chown) lchownSync(abs, 0, 0);
      this.#whiteoutNodes.add(abs);
      return;
    }
    if (this.#created.has(abs)) return; // whiteouts hide lower layers only (image-spec layer.md)
    const existing = lstatOrUndefined(abs);
    if (existing) this.#remove(abs, existing);
  }

  #opaque(dirParts: readonly string[], header: TarHeader): void {
    const dir = resolveInRoot(this.#root, dirParts.join('/'));
    if (dir === this.#root && this.#overlay)
      throw new UnsafeTarEntryError(
        header.path,
        'an opaque marker for the root cannot be expressed in an upperdir',
      );
    const stat = lstatOrUndefined(dir);
    if (stat === undefined) this.#mkdirs(dir, header.path);
    else if (!stat.isDirectory()) throw new TarApplyError(header.path, 'opaque marker in a non-directory');
    if (this.#overlay) {
      setAttributeSync(dir, overlayOpaqueXattr(), 'y');
      return;
    }
    // Hide every lower child; what this layer already wrote stays (the marker may come after it).
    for (const name of readdirSync(dir)) {
      const abs = `${dir}/${name}`;
      if (this.#created.has(abs)) continue;
      this.#remove(abs, lstatSync(abs));
    }
  }

  #setXattrs(abs: string, header: TarHeader): void {
    for (const [name, value] of header.xattrs) {
      // overlayfs reads trusted.overlay.* (user.overlay.* in a user namespace: redirects, origins,
      // opaque): a layer must not set them.
      if (isOverlayXattr(name)) continue;
      try {
        setAttributeSync(abs, name, value);
      } catch (error) {
        // The file system cannot hold this namespace (e.g. user.* on a symlink or tmpfs): skip it,
        // as Docker does for ENOTSUP. Anything else is an error.
        if (
          error instanceof Error &&
          /os error (95|1)\)/.test(error.message) &&
          !name.startsWith('security.')
        )
          continue;
        throw new TarApplyError(header.path, `setting xattr ${name}`, { cause: error });
      }
    }
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if (isErrnoException(error, 'ENOENT') || isErrnoException(error, 'ENOTDIR')) return undefined;
    throw error;
  }
}

/** Removes what is at `abs` without following it (a symlink is removed, not its target). */
function remove(abs: string, stat: Stats): void {
  if (stat.isDirectory()) rmSync(abs, { recursive: true, force: true });
  else unlinkSync(abs);
}

/**
 * Creates a device node or fifo: mknod(2) through strata's addon, or the coreutils tool when the
 * addon is not built (Node has no mknod); the final component does not exist (it was removed) and
 * its parent was resolved inside the root.
 */
function makeNode(abs: string, type: 'char' | 'block' | 'fifo', major: number, minor: number): void {
  const native = nativeCalls();
  if (native?.mknod) {
    const kind =
      type === 'fifo' ? constants.S_IFIFO : type === 'char' ? constants.S_IFCHR : constants.S_IFBLK;
    native.mknod(abs, kind | 0o600, major, minor);
    return;
  }
  const args =
    type === 'fifo'
      ? ['-m', '0600', '--', abs, 'p']
      : ['-m', '0600', '--', abs, type === 'char' ? 'c' : 'b', String(major), String(minor)];
  const result = spawnSync('mknod', args, { encoding: 'utf8' });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`mknod exited with ${result.status}: ${result.stderr.trim()}`);
}

/**
 * chmod for a node this applier just created with mknod. chmod(2) follows symlinks, but `abs` is
 * the node itself (opening a device to fchmod it would open the device).
 */
function chmodNode(abs: string, mode: number): void {
  chmodSync(abs, mode);
}

function wrap(entry: string, error: unknown): Error {
  if (error instanceof UnsafeTarEntryError || error instanceof TarApplyError || error instanceof AbortedError)
    return error;
  const message = error instanceof Error ? error.message : String(error);
  return new TarApplyError(entry, message, { cause: error });
}
