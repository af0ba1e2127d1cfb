import { createHash } from 'node:crypto';
import { constants, mkdirSync, readFileSync } from 'node:fs';
import { type FileHandle, lstat, open, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGzip, gzip } from 'node:zlib';
import {
  canonicalJsonBytes,
  type Descriptor,
  type Digest,
  parseDescriptorObject,
  sha256Digest,
} from '../oci/index.ts';
import type { Store } from '../store/index.ts';
import { isErrnoException, writeFileAtomicSync } from '../util/index.ts';
import {
  CACHE_MOUNT_MANIFEST_MEDIA_TYPE,
  CACHE_MOUNT_PIECE_MEDIA_TYPE,
  type CacheMountEntry,
  type CacheMountIdentity,
  type CacheMountManifest,
  type CacheMountPiece,
  type CacheMountRef,
} from './cache-mount-manifest.ts';

const gzipAsync = promisify(gzip);

/** A file this size or larger is a piece of its own; smaller ones are packed together. */
export const LARGE_FILE_BYTES = 1 << 20;
/** The size a pack averages: a file of `n` bytes ends its pack with probability n / this… */
const PACK_TARGET_BYTES = 256 << 10;
/** …once the pack holds this much… */
const PACK_MIN_BYTES = 64 << 10;
/** …and a pack ends once it holds this much. */
const PACK_MAX_BYTES = 4 << 20;
/** gzip level of pieces: a fixed level keeps a piece's bytes, and so its digest, stable. */
const PIECE_GZIP_LEVEL = 6;

/**
 * The local piece index: the blob that holds a piece's content, by the content's sha256
 * (`$STRATA_ROOT/cache/mount-pieces/<hex>.json`). Filled by exports and restores, so an export
 * compresses only content it has not seen, and a piece it already has — or restored — gets the
 * same blob digest, which the destination then already holds (a HEAD, no upload). An entry whose
 * blob is gone from the store (pruned) is a miss.
 */
export class CacheMountPieceIndex {
  readonly #dir: string;
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
    this.#dir = join(store.root, 'cache', 'mount-pieces');
    mkdirSync(this.#dir, { recursive: true });
  }

  /** The blob holding content `contentDigest`, if the store still has it. */
  get(contentDigest: Digest): Descriptor | undefined {
    let descriptor: Descriptor;
    try {
      descriptor = parseDescriptorObject(
        JSON.parse(readFileSync(this.#path(contentDigest), 'utf8')),
        'cache mount piece index',
      );
    } catch (error) {
      if (isErrnoException(error, 'ENOENT')) return undefined;
      return undefined; // damaged: a miss, rewritten by the next export
    }
    return this.#store.blobs.sizeSync(descriptor.digest) === descriptor.size ? descriptor : undefined;
  }

  /** Records that `descriptor`'s blob holds content `contentDigest`. */
  put(contentDigest: Digest, descriptor: Descriptor): void {
    writeFileAtomicSync(this.#path(contentDigest), JSON.stringify(descriptor), { durable: false });
  }

  #path(contentDigest: Digest): string {
    return join(this.#dir, `${contentDigest.slice('sha256:'.length)}.json`);
  }
}

/** A file, directory or symlink found in a mount, before its content is placed in a piece. */
interface Found {
  readonly path: string;
  readonly abs: string;
  readonly type: 'dir' | 'file' | 'symlink';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime: number;
  readonly used: number;
  readonly size: number;
  readonly target?: string;
}

/**
 * Lists a mount directory without following symlinks, sorted by path. Sockets, FIFOs and device
 * nodes are left out (a cache holds none that a later build could use); hard links become copies.
 */
async function walk(root: string): Promise<Found[]> {
  const out: Found[] = [];
  const visit = async (dir: string, prefix: string): Promise<void> => {
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      const abs = join(dir, name);
      const path = prefix === '' ? name : `${prefix}/${name}`;
      const st = await lstat(abs);
      const base = {
        path,
        abs,
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        mtime: Math.floor(st.mtimeMs),
        used: Math.floor(Math.max(st.atimeMs, st.mtimeMs)),
      };
      if (st.isDirectory()) {
        out.push({ ...base, type: 'dir', size: 0 });
        await visit(abs, path);
      } else if (st.isFile()) out.push({ ...base, type: 'file', size: st.size });
      else if (st.isSymbolicLink())
        out.push({ ...base, type: 'symlink', size: 0, target: await readlink(abs) });
    }
  };
  await visit(root, '');
  return out;
}

/**
 * `max-size=`: drops the least recently used files (by the later of their access and modify
 * times; ties by path) until the files left hold at most `maxSize` bytes. Directories and
 * symlinks stay.
 */
function trimToSize(found: Found[], maxSize: number): Found[] {
  let total = 0;
  for (const f of found) total += f.size;
  if (total <= maxSize) return found;
  const dropped = new Set<string>();
  const byAge = found
    .filter((f) => f.type === 'file')
    .sort((a, b) => a.used - b.used || (a.path < b.path ? -1 : 1));
  for (const f of byAge) {
    if (total <= maxSize) break;
    dropped.add(f.path);
    total -= f.size;
  }
  return found.filter((f) => !dropped.has(f.path));
}

/**
 * Opens a file for reading without changing its access time (O_NOATIME, which the owner and root
 * may use): an export reads every file, and must not make them all look just used to the next
 * export's `max-size=` trimming.
 */
async function openQuietly(path: string): Promise<FileHandle> {
  try {
    return await open(path, constants.O_RDONLY | constants.O_NOATIME);
  } catch (error) {
    if (!isErrnoException(error, 'EPERM')) throw error;
    return open(path, 'r');
  }
}

async function readQuietly(path: string): Promise<Buffer> {
  const handle = await openQuietly(path);
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

async function fileDigest(path: string, signal?: AbortSignal): Promise<Digest> {
  const hash = createHash('sha256');
  const handle = await openQuietly(path);
  await pipeline(handle.createReadStream({ highWaterMark: 1 << 20 }), hash, signal ? { signal } : {});
  return sha256Digest(hash.digest('hex'));
}

/** What {@link packCacheMount} made: the config entry and every blob it names. */
export interface PackedCacheMount {
  readonly ref: CacheMountRef;
  /** The pieces' blobs (the manifest's is `ref.manifest`). */
  readonly pieces: readonly Descriptor[];
  /** Pieces that had to be compressed now (content this store had not packed or restored before). */
  readonly newPieces: number;
}

/**
 * Packs a cache mount directory into content-addressed pieces in the store: each file of
 * {@link LARGE_FILE_BYTES} or more is a piece of its own; smaller files are laid end to end in
 * packs, in path order, a pack ending after a file whose path hash picks it (a chance of its size
 * over 256 KiB, once the pack holds 64 KiB) or at 4 MiB. Where a pack ends depends on the files
 * around it only, so changing, adding or removing a file changes its own pack (and rarely the
 * next), and every other piece keeps its digest. Then writes the mount manifest (paths, modes, ownership, times, piece ranges).
 */
export async function packCacheMount(
  store: Store,
  dir: string,
  identity: CacheMountIdentity,
  options: { readonly maxSize?: number | undefined; readonly signal?: AbortSignal | undefined } = {},
): Promise<PackedCacheMount> {
  const { signal } = options;
  const index = new CacheMountPieceIndex(store);
  let found = await walk(dir);
  if (options.maxSize !== undefined) found = trimToSize(found, options.maxSize);
  const pieces: CacheMountPiece[] = [];
  const pieceByContent = new Map<Digest, number>();
  let newPieces = 0;
  /**
   * The piece for some content: from this export, the index, or compressed now. What `compress`
   * read is what the piece holds: its own hash of the content wins over `contentDigest` (a file
   * that changed between hashing and compressing is recorded as it was compressed).
   */
  const pieceFor = async (
    contentDigest: Digest,
    contentSize: number,
    compress: () => Promise<{ blob: Descriptor; contentDigest: Digest; contentSize: number }>,
  ): Promise<{ piece: number; contentSize: number }> => {
    const known = pieceByContent.get(contentDigest);
    if (known !== undefined) return { piece: known, contentSize };
    let blob = index.get(contentDigest);
    if (!blob) {
      const made = await compress();
      blob = made.blob;
      contentDigest = made.contentDigest;
      contentSize = made.contentSize;
      index.put(contentDigest, blob);
      newPieces++;
    }
    await store.lease.add(blob.digest);
    pieces.push({
      mediaType: blob.mediaType,
      digest: blob.digest,
      size: blob.size,
      contentDigest,
      contentSize,
    });
    pieceByContent.set(contentDigest, pieces.length - 1);
    return { piece: pieces.length - 1, contentSize };
  };
  const entries: CacheMountEntry[] = [];
  let pack: { files: Array<{ found: Found; data: Buffer }>; bytes: number } = { files: [], bytes: 0 };
  const closePack = async () => {
    if (pack.files.length === 0) return;
    const data = Buffer.concat(pack.files.map((f) => f.data));
    const contentDigest = sha256Digest(createHash('sha256').update(data).digest('hex'));
    const { piece } = await pieceFor(contentDigest, data.length, async () => {
      const stored = await store.blobs.writeBytes(await gzipAsync(data, { level: PIECE_GZIP_LEVEL }));
      return {
        blob: { mediaType: CACHE_MOUNT_PIECE_MEDIA_TYPE, digest: stored.digest, size: stored.size },
        contentDigest,
        contentSize: data.length,
      };
    });
    let offset = 0;
    for (const f of pack.files) {
      entries.push({ ...entryBase(f.found), type: 'file', piece, offset, size: f.data.length });
      offset += f.data.length;
    }
    pack = { files: [], bytes: 0 };
  };
  let files = 0;
  let size = 0;
  for (const f of found) {
    signal?.throwIfAborted();
    if (f.type === 'dir') entries.push({ ...entryBase(f), type: 'dir' });
    else if (f.type === 'symlink') entries.push({ ...entryBase(f), type: 'symlink', target: f.target! });
    else if (f.size >= LARGE_FILE_BYTES) {
      const contentDigest = await fileDigest(f.abs, signal);
      const { piece, contentSize } = await pieceFor(contentDigest, f.size, async () => {
        const handle = await openQuietly(f.abs);
        const hash = createHash('sha256');
        let read = 0;
        const counted = handle
          .createReadStream({ highWaterMark: 1 << 20 })
          .on('data', (chunk: string | Buffer) => {
            hash.update(chunk);
            read += Buffer.byteLength(chunk);
          });
        const stored = await store.blobs.ingest(
          counted.pipe(createGzip({ level: PIECE_GZIP_LEVEL })),
          {},
          signal,
        );
        return {
          blob: { mediaType: CACHE_MOUNT_PIECE_MEDIA_TYPE, digest: stored.digest, size: stored.size },
          contentDigest: sha256Digest(hash.digest('hex')),
          contentSize: read,
        };
      });
      entries.push({ ...entryBase(f), type: 'file', piece, offset: 0, size: contentSize });
      files++;
      size += contentSize;
    } else {
      // The size read now, not the one listed: a file may change while a build is not using it.
      const data = await readQuietly(f.abs);
      pack.files.push({ found: f, data });
      pack.bytes += data.length;
      files++;
      size += data.length;
      // Content-defined boundaries over files: whether a file ends its pack depends on its path
      // and size only, with a chance proportional to its size, so packs average the target
      // whatever the files' sizes, and a boundary stays where it is when other files change.
      const draw = createHash('sha256').update(f.path).digest().readUInt32BE(0) / 2 ** 32;
      const picked = draw < data.length / PACK_TARGET_BYTES;
      if (pack.bytes >= PACK_MAX_BYTES || (pack.bytes >= PACK_MIN_BYTES && picked)) await closePack();
    }
  }
  await closePack();
  // Entries in path order whatever piece they landed in, so equal mounts give equal manifests.
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const manifest: CacheMountManifest = { version: 1, ...identityOf(identity), pieces, entries };
  const raw = await gzipAsync(canonicalJsonBytes(manifest), { level: PIECE_GZIP_LEVEL });
  const stored = await store.blobs.writeBytes(raw);
  await store.lease.add(stored.digest);
  return {
    ref: {
      ...identityOf(identity),
      manifest: { mediaType: CACHE_MOUNT_MANIFEST_MEDIA_TYPE, digest: stored.digest, size: stored.size },
      size,
      files,
    },
    pieces: pieces.map((p) => ({ mediaType: p.mediaType, digest: p.digest, size: p.size })),
    newPieces,
  };
}

function identityOf(m: CacheMountIdentity): CacheMountIdentity {
  return { id: m.id, platform: m.platform, uid: m.uid, gid: m.gid, mode: m.mode };
}

function entryBase(f: Found) {
  return { path: f.path, mode: f.mode, uid: f.uid, gid: f.gid, mtime: f.mtime, used: f.used };
}
