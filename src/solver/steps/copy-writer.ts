import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  copyFileSync,
  createReadStream,
  constants as fsConstants,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readlinkSync,
  readSync,
  rmSync,
  type Stats,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import {
  type ArchiveCompression,
  applyLayer,
  detectArchiveCompression,
  isTarHeader,
} from '../../archive/index.ts';
import {
  type ContextNode,
  ContextView,
  checkoutGitRef,
  type ResolvedGitRef,
  resolveGitRef,
  selectSources,
} from '../../context/index.ts';
import {
  applyChmod,
  type ChmodMode,
  type GitRef,
  isHttpSource,
  parseGitRef,
} from '../../dockerfile/index.ts';
import type { AddStep, CopyStep } from '../../plan/index.ts';
import {
  getAttributeSync,
  isErrnoException,
  listAttributesSync,
  nativeCalls,
  resolveInRoot,
  setAttributeSync,
} from '../../util/index.ts';
import { CopyError } from '../errors.ts';

/** Who copied files belong to, and their permission override. */
export interface CopyOwnership {
  /** undefined: keep the source's owner (stage/image sources) or root (context sources). */
  readonly owner?: { uid: number; gid: number };
  /** `--chmod`: octal bits replace every copied file's and directory's; a symbolic mode applies to them. */
  readonly mode?: ChmodMode;
}

/**
 * Whether ADD extracts a local file, and how it is compressed — BuildKit's isArchivePath
 * (solver/llbsolver/file/unpack.go): a regular file that docker 20.10's DecompressStream opens
 * (gzip, bzip2, xz or none; not zstd) and whose decompressed start is a tar header Go's reader
 * accepts. A gzipped text file, an empty file or a `.tar.zst` is copied as it is; a truncated
 * archive whose first header is whole is extracted and fails where it ends.
 */
async function archiveKind(path: string, size: number): Promise<ArchiveCompression | undefined> {
  if (size === 0) return undefined;
  const head = readHead(path, 8);
  const compression = detectArchiveCompression(head);
  const block = compression === 'none' ? readHead(path, 512) : await decompressedHead(path, compression, 512);
  return isTarHeader(block) ? compression : undefined;
}

/** The first `length` bytes of a file (fewer when it is shorter), opened without following links. */
function readHead(path: string, length: number): Buffer {
  const head = Buffer.alloc(length);
  const fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  let read = 0;
  try {
    while (read < head.length) {
      const n = readSync(fd, head, read, head.length - read, null);
      if (n === 0) break;
      read += n;
    }
  } finally {
    closeSync(fd);
  }
  return head.subarray(0, read);
}

/**
 * The first `length` decompressed bytes of a compressed file (fewer when the stream ends or is
 * corrupt before: then it is no archive, as DecompressStream or tar.Next fails in BuildKit).
 */
async function decompressedHead(
  path: string,
  compression: Exclude<ArchiveCompression, 'none'>,
  length: number,
): Promise<Buffer> {
  const stream = openArchive(path, compression, 'ignore');
  const chunks: Buffer[] = [];
  let have = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      have += (chunk as Buffer).length;
      if (have >= length) break;
    }
  } catch {
    // A corrupt stream: whatever came before the error decides (a tar header needs 512 bytes).
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, length);
}

/** A decompressed tar stream of an archive file (gzip in-process, bzip2/xz through the tools). */
function openArchive(
  path: string,
  kind: ArchiveCompression,
  stderr: 'inherit' | 'ignore' = 'inherit',
): Readable {
  if (kind === 'bzip2' || kind === 'xz') {
    const child = spawn(kind === 'bzip2' ? 'bzip2' : 'xz', ['-dc', path], {
      stdio: ['ignore', 'pipe', stderr],
    });
    const out = child.stdout;
    // Stopped early (only the head was wanted): the tool goes too.
    out.once('close', () => {
      if (child.exitCode === null) child.kill();
    });
    return out;
  }
  if (kind === 'gzip')
    return pipeline(createReadStream(path), createGunzip({ chunkSize: 256 * 1024 }), () => {
      // Errors reach the consumer through the last stream; pipeline destroys every stage.
    });
  return createReadStream(path);
}

/** Copies a node's xattrs (not for symlinks). */
function copyXattrs(from: string, to: string): void {
  for (const name of listAttributesSync(from)) {
    if (name.startsWith('trusted.overlay.') || name === 'security.selinux') continue;
    const value = getAttributeSync(from, name);
    if (value !== null) setAttributeSync(to, name, value);
  }
}

/**
 * Makes room for a new entry at `path` as fsutil's copier does: a directory merges into an
 * existing directory (`keptDir`); a file, link or device replaces what is there unless that is a
 * directory. Anything else is BuildKit's error: a directory onto a non-directory (a symlink
 * included: below the destination nothing is followed), a file onto a directory.
 */
function clearTarget(path: string, wantDir: boolean, rootfsPath: string): { keptDir: boolean } {
  // No exception for the common case (nothing there): a thrown ENOENT per copied file is costly.
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st === undefined) return { keptDir: false };
  if (wantDir) {
    if (st.isDirectory()) return { keptDir: true };
    throw new CopyError(`cannot copy to non-directory: ${rootfsPath}`);
  }
  if (st.isDirectory()) throw new CopyError(`cannot replace to directory ${rootfsPath} with file`);
  rmSync(path, { force: true });
  return { keptDir: false };
}

/** Everything one COPY writes into the rootfs, with hardlinks kept within the copy. */
class CopyWriter {
  readonly #rootfs: string;
  readonly #ownership: CopyOwnership;
  readonly #keepOwner: boolean;
  /** dev:ino of a multiply-linked source file → the rootfs path it was first copied to. */
  readonly #links = new Map<string, string>();
  /**
   * Rootfs paths known to be real directories (created or checked by this copy) → host paths, so
   * a file inside one is placed without resolving every component of its path again (an lstat
   * each, through overlayfs). Emptied whenever the copy removes a directory.
   */
  readonly #dirs = new Map<string, string>();
  /**
   * Directories this copy created (rootfs paths), and what it has written into them: an entry of
   * a fresh directory not written yet cannot exist, so it needs no lstat to clear its place.
   */
  readonly #fresh = new Set<string>();
  readonly #written = new Set<string>();
  readonly #createdDirOwner: { uid: number; gid: number };
  readonly #now: Date;

  constructor(
    rootfs: string,
    ownership: CopyOwnership,
    options: { keepOwner: boolean; epochSeconds?: number },
  ) {
    this.#rootfs = rootfs;
    this.#ownership = ownership;
    this.#keepOwner = options.keepOwner;
    this.#createdDirOwner = ownership.owner ?? { uid: 0, gid: 0 };
    this.#now = options.epochSeconds !== undefined ? new Date(options.epochSeconds * 1000) : new Date();
  }

  /** The host path for a path in the rootfs; parents resolved inside the root, final component not followed. */
  host(path: string): string {
    const slash = path.lastIndexOf('/');
    const name = path.slice(slash + 1);
    const parent = this.#dirs.get(slash <= 0 ? '/' : path.slice(0, slash));
    if (parent !== undefined && name !== '' && name !== '.' && name !== '..') return `${parent}/${name}`;
    return resolveInRoot(this.#rootfs, path, { followFinal: false });
  }

  /**
   * Hardlinks `target` to the file first copied to rootfs path `first`, resolved again rather than
   * remembered: a later source may have put a symlink where a directory on that path was. False
   * when that file is gone (the caller copies instead).
   */
  #link(first: string, target: string): boolean {
    try {
      linkSync(this.host(first), target);
      return true;
    } catch (error) {
      if (isErrnoException(error, 'ENOENT')) return false;
      throw error;
    }
  }

  /**
   * Removes what is at rootfs path `dest` (host path `target`) for a new entry (see clearTarget),
   * forgetting directories if one goes.
   */
  #clear(dest: string, target: string, wantDir: boolean): boolean {
    const slash = dest.lastIndexOf('/');
    const parent = slash <= 0 ? '/' : dest.slice(0, slash);
    if (this.#fresh.has(parent) && !this.#written.has(dest)) {
      this.#written.add(dest);
      return false; // nothing can be there yet
    }
    this.#written.add(dest);
    return clearTarget(target, wantDir, dest).keptDir;
  }

  /** Forgets every directory checked or made so far: something else has written the rootfs. */
  forget(): void {
    this.#dirs.clear();
    this.#fresh.clear();
    this.#written.clear();
  }

  /**
   * A rootfs path with every symlink on it followed inside the root, the last component too
   * (continuity's fs.RootPath, which fsutil's Copy applies to the destination): a destination
   * that is a symlink is written through, to where it points.
   */
  resolve(path: string): string {
    const host = resolveInRoot(this.#rootfs, path);
    return host === this.#rootfs ? '/' : host.slice(this.#rootfs.length);
  }

  /**
   * fsutil's MkdirAll of a rootfs path after fs.RootPath: symlinks followed inside the root (a
   * dangling one makes its target), each missing directory 0755 and owned by --chown or root.
   * Returns the resolved rootfs path.
   */
  mkdirAll(path: string): string {
    const resolved = this.resolve(path);
    let current = '';
    for (const part of resolved.split('/').filter(Boolean)) {
      current = `${current}/${part}`;
      const known = this.#dirs.get(current);
      if (known !== undefined) continue;
      const host = `${this.#rootfs}${current}`;
      const st = lstatSync(host, { throwIfNoEntry: false });
      if (st?.isDirectory()) {
        this.#dirs.set(current, host);
        continue;
      }
      if (st) throw new CopyError(`cannot copy to ${path}: ${current} is not a directory`);
      mkdirSync(host);
      chmodSync(host, 0o755);
      chownSync(host, this.#createdDirOwner.uid, this.#createdDirOwner.gid);
      utimesSync(host, this.#now, this.#now);
      this.#dirs.set(current, host);
    }
    return resolved;
  }

  /** What is at a (resolved) rootfs path: a directory, something else, or nothing. */
  kind(path: string): 'directory' | 'other' | undefined {
    const st = lstatSync(`${this.#rootfs}${path === '/' ? '' : path}`, { throwIfNoEntry: false });
    return st === undefined ? undefined : st.isDirectory() ? 'directory' : 'other';
  }

  /** Starts a new copy action: hardlinks are kept within one source's match, as fsutil's copier. */
  newAction(): void {
    this.#links.clear();
  }

  #owner(source: Stats): { uid: number; gid: number } {
    if (this.#ownership.owner) return this.#ownership.owner;
    return this.#keepOwner ? { uid: source.uid, gid: source.gid } : { uid: 0, gid: 0 };
  }

  #mode(source: Stats): number {
    const mode = this.#ownership.mode;
    return mode === undefined ? source.mode & 0o7777 : applyChmod(mode, source.mode, source.isDirectory());
  }

  /** Writes one source node at rootfs path `dest` (the parent must exist). */
  write(node: { absPath: string; stats: Stats }, dest: string): void {
    const target = this.host(dest);
    const st = node.stats;
    const owner = this.#owner(st);
    if (st.isDirectory()) {
      if (!this.#clear(dest, target, true)) {
        mkdirSync(target);
        this.#fresh.add(dest);
      }
      chmodSync(target, this.#mode(st));
      chownSync(target, owner.uid, owner.gid);
      copyXattrs(node.absPath, target);
      utimesSync(target, st.atime, st.mtime);
      this.#dirs.set(dest, target);
      return;
    }
    this.#clear(dest, target, false);
    const key = `${st.dev}:${st.ino}`;
    if (st.nlink > 1 && !st.isDirectory()) {
      const first = this.#links.get(key);
      const linked = first !== undefined && this.#link(first, target);
      if (linked) return;
      this.#links.set(key, dest);
    }
    if (st.isSymbolicLink()) {
      symlinkSync(readlinkSync(node.absPath), target);
      lchownSync(target, owner.uid, owner.gid);
      lutimesSync(target, st.atime, st.mtime);
      return;
    }
    if (st.isFile()) {
      const copyFile = nativeCalls()?.copyFile;
      if (copyFile) {
        // Contents, xattrs, owner, mode and times in one call on open files (two path lookups
        // through overlayfs instead of six).
        copyFile(node.absPath, target, owner.uid, owner.gid, this.#mode(st), st.atimeMs, st.mtimeMs);
        return;
      }
      copyFileSync(node.absPath, target, fsConstants.COPYFILE_FICLONE);
    } else if (st.isFIFO()) {
      runSync('mkfifo', [target]);
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      const major = Math.floor(st.rdev / 256);
      const minor = st.rdev % 256;
      runSync('mknod', [target, st.isCharacterDevice() ? 'c' : 'b', String(major), String(minor)]);
    } else {
      throw new CopyError(`cannot copy ${node.absPath}: unsupported file type`);
    }
    chownSync(target, owner.uid, owner.gid);
    // copyFileSync gave the copy the source's mode already (libuv fchmods it); chown then clears
    // only set-id bits, so a plain file's mode needs setting again only under --chmod.
    if (!st.isFile() || this.#ownership.mode !== undefined || (st.mode & 0o6000) !== 0)
      chmodSync(target, this.#mode(st));
    if (st.isFile()) copyXattrs(node.absPath, target);
    utimesSync(target, st.atime, st.mtime);
  }

  /** A new regular file with `content` (heredoc sources, ADD downloads). */
  writeFile(dest: string, content: Uint8Array | string, mode: number): void {
    const target = this.host(dest);
    this.#clear(dest, target, false);
    writeFileSync(target, content);
    const owner = this.#ownership.owner ?? { uid: 0, gid: 0 };
    chownSync(target, owner.uid, owner.gid);
    const chmod = this.#ownership.mode;
    chmodSync(target, chmod === undefined ? mode : applyChmod(chmod, mode, false));
    utimesSync(target, this.#now, this.#now);
  }
}

/**
 * One fsutil `Copy` onto the destination at a time (BuildKit's docopy → copy.Copy and
 * prepareTargetDir, tonistiigi/fsutil copy/copy.go): the destination's directory — or the
 * destination itself when it ends in `/` — is created with its parents; the destination is
 * resolved through symlinks inside the root; a non-directory source goes into it when it is a
 * directory, else replaces it; a directory source's contents merge into it (a missing one is
 * created 0755, owned by --chown or root, as its parents).
 */
class CopyActions {
  readonly #writer: CopyWriter;
  readonly #dest: { path: string; isDir: boolean };

  constructor(writer: CopyWriter, dest: { path: string; isDir: boolean }) {
    this.#writer = writer;
    this.#dest = dest;
  }

  /** The resolved destination, its directory (or itself, for a trailing slash) created first. */
  #prepare(): string {
    const { path, isDir } = this.#dest;
    this.#writer.newAction();
    this.#writer.mkdirAll(isDir ? path : posix.dirname(path));
    return this.#writer.resolve(path);
  }

  /** A file, link or device named `name`: into the destination directory, or as the destination. */
  file(name: string, write: (target: string) => void): void {
    const dest = this.#prepare();
    if (this.#writer.kind(dest) === 'directory') {
      write(posix.join(dest, name));
      return;
    }
    this.#writer.mkdirAll(posix.dirname(dest));
    write(dest);
  }

  /** A directory source: returns the rootfs path its contents go below. */
  directory(): string {
    const dest = this.#prepare();
    const kind = this.#writer.kind(dest);
    if (kind === 'other') throw new CopyError(`cannot copy to non-directory: ${dest}`);
    // A missing destination is made like its parents (0755, --chown's owner or root), not with
    // the source directory's mode and owner: fsutil's prepareTargetDir creates it before copying,
    // and copyDirectory then leaves the existing directory's metadata alone.
    if (kind === undefined) this.#writer.mkdirAll(dest);
    return dest;
  }
}

function runSync(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: 'pipe' });
  if (r.status !== 0) throw new CopyError(`${cmd} ${args.join(' ')} failed: ${r.stderr?.toString().trim()}`);
}

/** What {@link writeCopy} writes, and where. */
export interface WriteCopyOptions {
  /** The root filesystem written into (a prepared snapshot's directory). */
  readonly rootfs: string;
  /** Where the sources are read from: the build context, or another stage's or image's files. */
  readonly view: ContextView;
  readonly step: CopyStep | AddStep;
  /** The destination in the rootfs (see copyDestination). */
  readonly dest: { readonly path: string; readonly isDir: boolean };
  readonly ownership: CopyOwnership;
  /** Keep the sources' owners when no --chown is given (stage and image sources), else root's. */
  readonly keepOwner: boolean;
  /** SOURCE_DATE_EPOCH: the time of the directories and files the copy creates itself. */
  readonly epochSeconds?: number;
  /**
   * The commits ADD's Git sources resolved to when the step's key was computed, by source; a
   * source missing here is resolved again.
   */
  readonly gitRefs?: ReadonlyMap<string, ResolvedGitRef>;
  /** Fetches an ADD URL. */
  readonly fetchUrl?: (url: string, signal?: AbortSignal) => Promise<Readable>;
  readonly signal?: AbortSignal;
}

/**
 * Writes one COPY or ADD into a rootfs as BuildKit does: one copy action per source (a wildcard
 * match each), ADD's URLs and local archives, heredoc sources last. Every path is resolved
 * inside the root: nothing is ever written outside it, whatever symlinks the rootfs or the
 * sources hold.
 */
export async function writeCopy(options: WriteCopyOptions): Promise<void> {
  const { rootfs, view, step, dest } = options;
  const isAdd = step.kind === 'add';
  const writer = new CopyWriter(rootfs, options.ownership, {
    keepOwner: options.keepOwner,
    ...(options.epochSeconds !== undefined ? { epochSeconds: options.epochSeconds } : {}),
  });
  // BuildKit (dispatchCopy) makes one copy action per source, and fsutil's Copy one per
  // wildcard match: each resolves the destination in the rootfs again, following symlinks
  // (so a destination that is a symlink is written through), and decides alone whether
  // it names a directory — `COPY a b /d` leaves /d a file holding b, as docker 20.10 does.
  const actions = new CopyActions(writer, dest);
  /**
   * Copies one source from `from` as BuildKit's copy action does; `unpack`: extract a local
   * archive (ADD, unless --unpack=false in Dockerfile 1.17) instead of copying it.
   */
  async function copySource(from: ContextView, source: string, unpack: boolean): Promise<void> {
    const entries = [
      ...selectSources({
        view: from,
        sources: [source],
        excludes: step.exclude,
        parents: step.kind === 'copy' && step.parents,
      }),
    ];
    // A wildcard that matches nothing copies nothing and creates no destination
    // (AllowEmptyWildcard returns before CreateDestPath).
    for (let i = 0; i < entries.length; ) {
      const root = entries[i]!;
      let end = i + 1;
      while (end < entries.length && !entries[end]!.matchRoot) end++;
      const below = entries.slice(i + 1, end);
      i = end;
      const node: ContextNode = root.node;
      if (unpack && node.type === 'file') {
        const kind = await archiveKind(node.absPath, node.stats.size);
        if (kind !== undefined) {
          // ADD extracts a local archive into the destination directory, its entries
          // written as they are: `.wh.*` names are files here, not whiteouts (archive.Untar).
          const into = writer.mkdirAll(dest.path);
          await applyLayer(openArchive(node.absPath, kind), resolveInRoot(rootfs, into), {
            whiteouts: 'literal',
            ...(options.signal ? { signal: options.signal } : {}),
          });
          // The archive may have put anything anywhere below, symlinks included: what the
          // writer knew about directories no longer holds.
          writer.forget();
          continue;
        }
      }
      if (node.type !== 'directory') {
        const name = root.destPath === '' ? posix.basename(node.path) : posix.basename(root.destPath);
        actions.file(name, (target) => writer.write(node, target));
        continue;
      }
      const target = actions.directory();
      for (const entry of below) writer.write(entry.node, posix.join(target, entry.destPath));
    }
  }

  for (const source of step.sources) {
    if (isAdd && isUrl(source)) {
      if (!options.fetchUrl) throw new CopyError(`ADD ${source}: downloading is not available in this build`);
      const body = await options.fetchUrl(source, options.signal);
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c as Buffer);
      const data = Buffer.concat(chunks);
      if (step.kind === 'add' && step.checksum) {
        const actual = `sha256:${createHash('sha256').update(data).digest('hex')}`;
        if (actual !== step.checksum)
          throw new CopyError(`ADD ${source}: checksum mismatch: expected ${step.checksum}, got ${actual}`);
      }
      // ADD --unpack=true extracts a downloaded archive as it would a local one (BuildKit's
      // AttemptUnpack on the HTTP source's file); by default a download is copied as it is.
      if (
        step.kind === 'add' &&
        step.unpack === true &&
        (await extractDownload(data, rootfs, writer, dest, options.signal))
      )
        continue;
      const name = downloadName(source);
      actions.file(name, (target) => writer.writeFile(target, data, 0o600));
      continue;
    }
    const gitRef = step.kind === 'add' ? addGitRef(step, source) : undefined;
    if (gitRef !== undefined) {
      // BuildKit copies the checkout's root (or subdirectory) into the destination, like a
      // directory from the context: its contents, never unpacked, --exclude, --chown and --chmod
      // applying; the files belong to root unless --chown says otherwise.
      const resolved = options.gitRefs?.get(source) ?? (await resolveGitRef(gitRef, options.signal));
      const checkout = await checkoutGitRef(gitRef, {
        resolved,
        keepGitDir: gitRef.keepGitDir ?? false,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      try {
        await copySource(new ContextView(checkout.dir), '.', false);
      } finally {
        checkout.dispose();
      }
      continue;
    }
    await copySource(view, source, isAdd && (step.kind !== 'add' || step.unpack !== false));
  }
  for (const inline of step.inline) {
    actions.file(inline.name, (target) => writer.writeFile(target, inline.content, 0o644));
  }
}

/**
 * Extracts a downloaded file into the destination directory when it is an archive ADD extracts
 * (the same test as for a local file); false, having written nothing, when it is not.
 */
async function extractDownload(
  data: Buffer,
  rootfs: string,
  writer: CopyWriter,
  dest: { readonly path: string },
  signal?: AbortSignal,
): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-add-'));
  try {
    const file = join(dir, 'download');
    writeFileSync(file, data, { mode: 0o600 });
    const kind = await archiveKind(file, data.length);
    if (kind === undefined) return false;
    const into = writer.mkdirAll(dest.path);
    await applyLayer(openArchive(file, kind), resolveInRoot(rootfs, into), {
      whiteouts: 'literal',
      ...(signal ? { signal } : {}),
    });
    writer.forget();
    return true;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * An ADD source as a Git reference, with the instruction's `--checksum` and `--keep-git-dir`
 * (which the planner has checked agree with the URL's own) taking the place of the URL's.
 */
export function addGitRef(step: AddStep, source: string): GitRef | undefined {
  const ref = parseGitRef(source);
  if (ref === undefined) return undefined;
  const checksum = step.checksum ?? ref.checksum;
  const keepGitDir = step.keepGitDir ?? ref.keepGitDir;
  return {
    ...ref,
    ...(checksum === undefined ? {} : { checksum }),
    ...(keepGitDir === undefined ? {} : { keepGitDir }),
  };
}

/**
 * The file name an ADD download gets, as BuildKit's dispatcher names it (llb.Filename): the last
 * element of the URL's path, percent-decoded as Go's url.Parse decodes it (`a%20b.txt` is
 * `a b.txt`); `__unnamed__` when the path has none or does not decode. A Content-Disposition
 * header is not consulted: the explicit name takes precedence in the HTTP source.
 */
export function downloadName(source: string): string {
  let path: string;
  try {
    path = decodeURIComponent(new URL(source).pathname);
  } catch (error) {
    // A malformed escape: Go's url.Parse fails and the dispatcher keeps its default name.
    if (error instanceof URIError) return '__unnamed__';
    throw error;
  }
  const base = posix.basename(path);
  return base === '' || base === '.' || base === '/' ? '__unnamed__' : base;
}

/** Whether an ADD source is a URL to download (http(s), and no Git repository). */
export function isUrl(source: string): boolean {
  return isHttpSource(source);
}
