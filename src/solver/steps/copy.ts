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
  openSync,
  readlinkSync,
  readSync,
  rmSync,
  type Stats,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { applyLayer, openDecompressed } from '../../archive/index.ts';
import {
  type ContextNode,
  ContextView,
  checksumSources,
  type SelectedEntry,
  selectSources,
} from '../../context/index.ts';
import type { AddStep, CopyStep, FileSource } from '../../plan/index.ts';
import { resolveUser } from '../../runtime/index.ts';
import { releaseViews, type SnapshotView } from '../../snapshot/index.ts';
import {
  getAttributeSync,
  isErrnoException,
  listAttributesSync,
  nativeCalls,
  resolveInRoot,
  setAttributeSync,
} from '../../util/index.ts';
import { commitLayer } from '../commit-layer.ts';
import { CopyError } from '../errors.ts';
import { openSourceRoot } from '../source-root.ts';
import type { LayerStepPlan, StepContext } from '../step-context.ts';

/** Who copied files belong to, and their permission override. */
interface CopyOwnership {
  /** undefined: keep the source's owner (stage/image sources) or root (context sources). */
  readonly owner?: { uid: number; gid: number };
  /** `--chmod`: replaces the permission bits of every copied file and directory. */
  readonly mode?: number;
}

/** The destination as BuildKit's pathRelativeToWorkingDir makes it (a trailing slash is kept). */
export function copyDestination(workdir: string | undefined, dest: string): { path: string; isDir: boolean } {
  const raw = dest === '.' || dest === '' ? './' : dest;
  const isDir = raw.endsWith('/') || raw.endsWith('/.') || raw === '.';
  const joined = posix.isAbsolute(raw) ? raw : posix.join(workdir || '/', raw);
  return { path: posix.normalize(joined).replace(/(.)\/$/, '$1'), isDir };
}

/** `--chown` resolved in the target rootfs: names through /etc/passwd and /etc/group; no group means gid = uid (Docker's rule). */
export async function resolveChown(rootfs: string, chown: string): Promise<{ uid: number; gid: number }> {
  const [userPart = '', groupPart] = chown.split(':');
  const user = await resolveUser(rootfs, userPart);
  if (groupPart === undefined || groupPart === '') return { uid: user.uid, gid: user.uid };
  const group = await resolveUser(rootfs, `${user.uid}:${groupPart}`);
  return { uid: user.uid, gid: group.gid };
}

/** `--chmod=0755`: octal permission bits (BuildKit refuses other forms with this message). */
export function parseChmod(text: string): number {
  if (!/^[0-7]{1,4}$/.test(text)) {
    throw new CopyError(
      `invalid chmod parameter: '${text}'. it should be octal string and between 0 and 07777`,
    );
  }
  return Number.parseInt(text, 8);
}

const ARCHIVE_MAGIC: Array<{ kind: 'gzip' | 'bzip2' | 'xz' | 'zstd'; bytes: number[] }> = [
  { kind: 'gzip', bytes: [0x1f, 0x8b] },
  { kind: 'bzip2', bytes: [0x42, 0x5a, 0x68] },
  { kind: 'xz', bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] },
  { kind: 'zstd', bytes: [0x28, 0xb5, 0x2f, 0xfd] },
];

/** Whether a local file is a (possibly compressed) tar archive ADD extracts, and its compression. */
function archiveKind(path: string, size: number): 'tar' | 'gzip' | 'bzip2' | 'xz' | 'zstd' | undefined {
  if (size < 4) return undefined;
  const head = Buffer.alloc(512);
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
  for (const m of ARCHIVE_MAGIC) if (m.bytes.every((b, i) => head[i] === b)) return m.kind;
  if (read >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
  return undefined;
}

/** A decompressed tar stream of an archive file (gzip/zstd in-process, bzip2/xz through the tools). */
function openArchive(path: string, kind: 'tar' | 'gzip' | 'bzip2' | 'xz' | 'zstd'): Readable {
  if (kind === 'bzip2' || kind === 'xz') {
    const child = spawn(kind === 'bzip2' ? 'bzip2' : 'xz', ['-dc', path], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    return child.stdout;
  }
  return openDecompressed(createReadStream(path));
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
 * Removes whatever is at `path` unless it is a directory and `wantDir` (merging into it). Says
 * whether a directory is there to merge into, and whether one was removed.
 */
function clearTarget(path: string, wantDir: boolean): { keptDir: boolean; removedDir: boolean } {
  // No exception for the common case (nothing there): a thrown ENOENT per copied file is costly.
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st === undefined) return { keptDir: false, removedDir: false };
  if (wantDir && st.isDirectory()) return { keptDir: true, removedDir: false };
  rmSync(path, { recursive: true, force: true });
  return { keptDir: false, removedDir: st.isDirectory() };
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
    const { keptDir, removedDir } = clearTarget(target, wantDir);
    if (removedDir) this.forget();
    return keptDir;
  }

  /** Forgets every directory checked or made so far: something else has written the rootfs. */
  forget(): void {
    this.#dirs.clear();
    this.#fresh.clear();
    this.#written.clear();
  }

  /** mkdir -p of the destination's parents (CreateDestPath), owned by --chown or root. */
  mkdirParents(path: string): void {
    let current = '/';
    for (const part of path.split('/').filter(Boolean)) {
      current = posix.join(current, part);
      const host = resolveInRoot(this.#rootfs, current);
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
  }

  #owner(source: Stats): { uid: number; gid: number } {
    if (this.#ownership.owner) return this.#ownership.owner;
    return this.#keepOwner ? { uid: source.uid, gid: source.gid } : { uid: 0, gid: 0 };
  }

  #mode(source: Stats): number {
    const perm = this.#ownership.mode ?? source.mode & 0o7777;
    return perm;
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
    chmodSync(target, this.#ownership.mode ?? mode);
    utimesSync(target, this.#now, this.#now);
  }
}

function runSync(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: 'pipe' });
  if (r.status !== 0) throw new CopyError(`${cmd} ${args.join(' ')} failed: ${r.stderr?.toString().trim()}`);
}

/**
 * COPY and ADD with BuildKit's semantics: sources from the context (seen through .dockerignore),
 * a stage, or an image; wildcards; a directory copies its contents; a trailing slash or several
 * sources make the destination a directory; missing parents are created; `--chown` resolved in
 * the target rootfs; `--chmod`; symlinks copied as symlinks; hardlinks kept; ADD extracts local
 * tar archives (gzip, bzip2, xz, zstd) and downloads URLs (checked against `--checksum`).
 */
export async function planCopy(ctx: StepContext, step: CopyStep | AddStep): Promise<LayerStepPlan> {
  const { image, options, deps } = ctx;
  const dest = copyDestination(image.config.WorkingDir, step.dest);
  const isAdd = step.kind === 'add';
  // A stage's or image's files are opened once (a read-only view: an overlay mount) for both the
  // content key and the copy, and released when the step is done (dispose).
  const sourceViews: SnapshotView[] = [];
  let sourceRoot: Promise<string | undefined> | undefined;
  const openSource = (from: FileSource) => {
    sourceRoot ??= openSourceRoot(ctx, from, sourceViews);
    return sourceRoot;
  };
  return {
    createdBy: copyHistory(step),
    inputs: await copyKeyInputs(ctx, step, dest),
    ...(step.kind === 'copy' && step.from.kind === 'stage'
      ? {
          contentInputs: async () =>
            stageContentInputs(step, dest, (await openSource(step.from))!, ctx.signal),
        }
      : {}),
    dispose: async () => {
      await releaseViews(sourceViews);
    },
    execute: async () => {
      const active = await deps.snapshotter.prepare(await ctx.snapshot(), ctx.signal);
      try {
        // From another stage or an image, files keep their owners; from the context they become root's.
        const fromFilesystem =
          step.kind === 'copy' && (step.from.kind === 'stage' || step.from.kind === 'image');
        const view =
          step.kind === 'copy' && fromFilesystem
            ? new ContextView((await openSource(step.from))!)
            : options.context.view;
        const keepOwner = fromFilesystem;
        const ownership: CopyOwnership = {
          ...(step.chown ? { owner: await resolveChown(active.rootfs, step.chown) } : {}),
          ...(step.chmod ? { mode: parseChmod(step.chmod) } : {}),
        };
        const writer = new CopyWriter(active.rootfs, ownership, {
          keepOwner,
          ...(options.layers.sourceDateEpoch !== undefined
            ? { epochSeconds: options.layers.sourceDateEpoch }
            : {}),
        });

        const urls = isAdd ? step.sources.filter(isUrl) : [];
        const paths = step.sources.filter((s) => !urls.includes(s));
        const entries: SelectedEntry[] = [
          ...selectSources({
            view,
            sources: paths,
            excludes: step.exclude,
            parents: step.kind === 'copy' && step.parents,
          }),
        ];
        const roots = entries.filter((e) => e.matchRoot).length + step.inline.length + urls.length;
        const intoDir =
          dest.isDir ||
          roots > 1 ||
          step.sources.length + step.inline.length > 1 ||
          isExistingDir(writer, dest.path);
        if (intoDir) writer.mkdirParents(dest.path);
        else writer.mkdirParents(posix.dirname(dest.path));

        for (const entry of entries) {
          const node: ContextNode = entry.node;
          if (entry.matchRoot && node.type !== 'directory') {
            const target = intoDir ? posix.join(dest.path, entry.destPath) : dest.path;
            if (isAdd && node.type === 'file') {
              const kind = archiveKind(node.absPath, node.stats.size);
              if (kind) {
                // ADD extracts local archives into the destination directory.
                writer.mkdirParents(dest.path);
                await applyLayer(openArchive(node.absPath, kind), resolveInRoot(active.rootfs, dest.path), {
                  whiteouts: 'apply',
                  ...(ctx.signal ? { signal: ctx.signal } : {}),
                });
                // The archive may have put anything anywhere below, symlinks included: what the
                // writer knew about directories no longer holds.
                writer.forget();
                continue;
              }
            }
            writer.write(node, target);
            continue;
          }
          if (entry.matchRoot) {
            // A directory source stands for the destination directory: its contents go into it.
            if (!intoDir) writer.mkdirParents(dest.path);
            continue;
          }
          writer.write(node, posix.join(dest.path, entry.destPath));
        }
        for (const inline of step.inline) {
          writer.writeFile(intoDir ? posix.join(dest.path, inline.name) : dest.path, inline.content, 0o644);
        }
        for (const url of urls) {
          if (!options.fetchUrl)
            throw new CopyError(`ADD ${url}: downloading is not available in this build`);
          const body = await options.fetchUrl(url, ctx.signal);
          const chunks: Buffer[] = [];
          for await (const c of body) chunks.push(c as Buffer);
          const data = Buffer.concat(chunks);
          if (step.kind === 'add' && step.checksum) {
            const actual = `sha256:${createHash('sha256').update(data).digest('hex')}`;
            if (actual !== step.checksum)
              throw new CopyError(`ADD ${url}: checksum mismatch: expected ${step.checksum}, got ${actual}`);
          }
          const name = posix.basename(new URL(url).pathname) || '__unnamed__';
          writer.writeFile(intoDir ? posix.join(dest.path, name) : dest.path, data, 0o600);
        }

        return await commitLayer(active, deps.store, options.layers, ctx.signal);
      } catch (error) {
        await active.discard();
        throw error;
      }
    },
  };
}

/**
 * What decides a COPY/ADD's output: the destination, ownership and mode options, and the content
 * of exactly the files selected (content, mode, ownership after --chown/--chmod, never mtimes) —
 * for a stage source, the stage's cache key; for an image, its digest; for a URL, the content.
 */
async function copyKeyInputs(
  ctx: StepContext,
  step: CopyStep | AddStep,
  dest: { path: string; isDir: boolean },
): Promise<unknown> {
  const base = copyOptionInputs(step, dest);
  if (step.kind === 'copy' && step.from.kind === 'stage')
    return { ...base, stage: (await ctx.stageResult(step.from.stage)).cacheKey };
  if (step.kind === 'copy' && step.from.kind === 'image') {
    return {
      ...base,
      image: (await ctx.deps.resolveImage(step.from.ref, ctx.stage.platform, ctx.signal)).digest,
    };
  }
  const urls = step.kind === 'add' ? step.sources.filter(isUrl) : [];
  const paths = step.sources.filter((s) => !urls.includes(s));
  const sum = await checksumSources({
    view: ctx.options.context.view,
    sources: paths,
    excludes: step.exclude,
    parents: step.kind === 'copy' && step.parents,
    ...(step.chmod ? { chmod: parseChmod(step.chmod) } : {}),
    ...(ctx.options.cache?.checksums ? { cache: ctx.options.cache.checksums } : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  const urlSums: string[] = [];
  for (const url of urls) {
    if (step.kind === 'add' && step.checksum) {
      urlSums.push(step.checksum);
      continue;
    }
    // Without --checksum the download decides: fetch and hash it (BuildKit checks the content too).
    if (!ctx.options.fetchUrl) throw new CopyError(`ADD ${url}: downloading is not available in this build`);
    const hash = createHash('sha256');
    for await (const chunk of await ctx.options.fetchUrl(url, ctx.signal)) hash.update(chunk as Buffer);
    urlSums.push(`sha256:${hash.digest('hex')}`);
  }
  return { ...base, context: sum.digest, urls: urlSums };
}

/** The key inputs every COPY/ADD has: destination and options, not yet what it copies. */
function copyOptionInputs(step: CopyStep | AddStep, dest: { path: string; isDir: boolean }) {
  return {
    kind: step.kind,
    dest,
    chown: step.chown ?? null,
    chmod: step.chmod ?? null,
    link: step.link,
    exclude: step.exclude,
    sources: step.sources,
    inline: step.inline,
    ...(step.kind === 'copy' ? { parents: step.parents } : { checksum: step.checksum ?? null }),
  };
}

/**
 * A COPY --from=<stage>'s content inputs: the checksum of exactly the files it selects from the
 * stage's filesystem — path, type, permission bits, owner (kept from the stage), link target,
 * xattrs and content, never mtimes — as BuildKit keys a copy by the content it reads.
 */
async function stageContentInputs(
  step: CopyStep,
  dest: { path: string; isDir: boolean },
  stageRoot: string,
  signal?: AbortSignal,
): Promise<unknown> {
  const sum = await checksumSources({
    view: new ContextView(stageRoot),
    sources: step.sources,
    excludes: step.exclude,
    parents: step.parents,
    keepOwnership: true,
    ...(step.chmod ? { chmod: parseChmod(step.chmod) } : {}),
    ...(signal ? { signal } : {}),
  });
  return { ...copyOptionInputs(step, dest), content: sum.digest };
}

function isExistingDir(writer: CopyWriter, path: string): boolean {
  try {
    return lstatSync(resolveInRoot(writer.host('/'), path)).isDirectory();
  } catch {
    return false; // missing: created as needed
  }
}

function isUrl(source: string): boolean {
  return /^https?:\/\//.test(source);
}

/** BuildKit's history text for COPY/ADD: `COPY [--parents] [--chown=…] [--chmod=…] src… [<<doc…] dest`. */
export function copyHistory(step: CopyStep | AddStep): string {
  const parts = [step.kind === 'add' ? 'ADD' : 'COPY'];
  if (step.kind === 'copy' && step.parents) parts.push('--parents');
  if (step.chown) parts.push(`--chown=${step.chown}`);
  if (step.chmod) parts.push(`--chmod=${step.chmod}`);
  parts.push(...step.sources);
  for (const inline of step.inline) parts.push(`<<${inline.name}`);
  parts.push(step.dest);
  return parts.join(' ');
}
