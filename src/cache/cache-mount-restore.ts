import { createHash, randomBytes } from 'node:crypto';
import {
  chmod,
  chown,
  copyFile,
  lchown,
  lutimes,
  mkdir,
  open,
  rename,
  rm,
  symlink,
  utimes,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { sha256Digest } from '../oci/index.ts';
import { InvalidInputError, isErrnoException, processStartTime } from '../util/index.ts';
import type { CacheMountEntry, CacheMountManifest } from './cache-mount-manifest.ts';

type FileEntry = Extract<CacheMountEntry, { type: 'file' }>;

/**
 * Restores a mount manifest into `dir`, which must not exist: everything is written into a new
 * directory beside it and renamed into place at the end, so a step never sees half a mount, and
 * when `dir` appeared meanwhile (another build used or restored the mount first) that one is kept
 * and this copy is dropped. Returns whether this restore put `dir` in place. `openPiece` gives a
 * piece's blob (already verified against its digest); each piece's uncompressed content is checked
 * against the manifest's `contentDigest` too. Paths were validated when the manifest was parsed;
 * symlinks are created last and nothing is ever written through one.
 */
export async function restoreCacheMount(
  manifest: CacheMountManifest,
  dir: string,
  openPiece: (index: number) => Promise<Readable>,
  signal?: AbortSignal,
): Promise<boolean> {
  // Named after this process, so `strata prune` can remove what a killed restore left.
  const temp = `${dir}.restore-${process.pid}-${processStartTime(process.pid) ?? '0'}-${randomBytes(4).toString('hex')}`;
  await mkdir(dirname(dir), { recursive: true });
  await mkdir(temp, { mode: 0o700 });
  try {
    const at = (path: string) => join(temp, path);
    for (const e of manifest.entries) if (e.type === 'dir') await mkdir(at(e.path), { mode: 0o700 });
    const byPiece = new Map<number, FileEntry[]>();
    for (const e of manifest.entries) {
      if (e.type !== 'file') continue;
      const list = byPiece.get(e.piece) ?? [];
      list.push(e);
      byPiece.set(e.piece, list);
    }
    for (const [piece, files] of byPiece) {
      signal?.throwIfAborted();
      await extractPiece(manifest, piece, files, at, await openPiece(piece));
    }
    for (const e of manifest.entries) if (e.type === 'symlink') await symlink(e.target, at(e.path));
    // Owners, modes and times last, deepest first, so writing a child does not bump its directory.
    for (const e of [...manifest.entries].reverse()) {
      const path = at(e.path);
      if (e.type === 'symlink') {
        await lchown(path, e.uid, e.gid).catch(ignoreUnmapped);
        await lutimes(path, e.used / 1000, e.mtime / 1000);
        continue;
      }
      await chown(path, e.uid, e.gid).catch(ignoreUnmapped);
      await chmod(path, e.mode);
      await utimes(path, e.used / 1000, e.mtime / 1000);
    }
    await chown(temp, manifest.uid, manifest.gid).catch(ignoreUnmapped);
    await chmod(temp, manifest.mode);
    try {
      await rename(temp, dir);
      return true;
    } catch (error) {
      if (isErrnoException(error, 'EEXIST') || isErrnoException(error, 'ENOTEMPTY')) {
        await rm(temp, { recursive: true, force: true });
        return false; // the mount appeared meanwhile: it stays, as a local mount always does
      }
      throw error;
    }
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
}

/** Without the privilege to give a file away (rootless, an unmapped id), it keeps our owner. */
function ignoreUnmapped(error: unknown): void {
  if (isErrnoException(error, 'EPERM') || isErrnoException(error, 'EINVAL')) return;
  throw error;
}

/**
 * Streams one piece, gunzipped, into the files it holds (in offset order). Files listed with the
 * same range (equal content packed once) are copies of the first.
 */
async function extractPiece(
  manifest: CacheMountManifest,
  index: number,
  files: FileEntry[],
  at: (path: string) => string,
  blob: Readable,
): Promise<void> {
  const piece = manifest.pieces[index]!;
  files.sort((a, b) => a.offset - b.offset || a.size - b.size);
  const writes: FileEntry[] = [];
  const copies: Array<{ from: FileEntry; to: FileEntry }> = [];
  for (const f of files) {
    const last = writes[writes.length - 1];
    if (last && last.offset === f.offset && last.size === f.size) copies.push({ from: last, to: f });
    else if (last && f.offset < last.offset + last.size)
      throw new InvalidInputError(`cache mount manifest: ${f.path} overlaps ${last.path}`);
    else writes.push(f);
  }
  const hash = createHash('sha256');
  let position = 0;
  let next = 0;
  let current:
    | { entry: FileEntry; handle: import('node:fs/promises').FileHandle; written: number }
    | undefined;
  const openNext = async () => {
    while (next < writes.length && current === undefined) {
      const entry = writes[next++]!;
      const handle = await open(at(entry.path), 'wx', 0o600);
      if (entry.size === 0) await handle.close();
      else current = { entry, handle, written: 0 };
    }
  };
  try {
    await openNext();
    for await (const chunk of blob.pipe(createGunzip()) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      let offset = 0;
      while (offset < chunk.length) {
        if (current === undefined) {
          offset = chunk.length;
          break;
        }
        const start = current.entry.offset + current.written;
        if (position + offset < start) {
          offset = Math.min(chunk.length, start - position);
          continue;
        }
        const take = Math.min(chunk.length - offset, current.entry.size - current.written);
        await current.handle.write(chunk, offset, take);
        current.written += take;
        offset += take;
        if (current.written === current.entry.size) {
          await current.handle.close();
          current = undefined;
          await openNext();
        }
      }
      position += chunk.length;
    }
  } finally {
    await current?.handle.close();
  }
  if (position !== piece.contentSize || sha256Digest(hash.digest('hex')) !== piece.contentDigest)
    throw new InvalidInputError(
      `cache mount ${manifest.id}: piece ${piece.digest} does not hold the content listed`,
    );
  if (current !== undefined || next < writes.length)
    throw new InvalidInputError(
      `cache mount ${manifest.id}: piece ${piece.digest} is shorter than its files`,
    );
  for (const { from, to } of copies) await copyFile(at(from.path), at(to.path));
}
