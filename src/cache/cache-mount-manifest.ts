import { posix } from 'node:path';
import { type Descriptor, type Digest, parseDescriptorObject, parseDigest } from '../oci/index.ts';
import { InvalidInputError } from '../util/index.ts';

/** The media type of a cache mount manifest (gzip-compressed canonical JSON). Documented in docs/cache.md. */
export const CACHE_MOUNT_MANIFEST_MEDIA_TYPE = 'application/vnd.strata.cachemount.manifest.v1+json+gzip';
/** The media type of a piece of a cache mount: file contents laid end to end, gzip-compressed. */
export const CACHE_MOUNT_PIECE_MEDIA_TYPE = 'application/vnd.strata.cachemount.piece.v1+gzip';

/**
 * What keeps exported cache mounts apart: the mount's id (`id=`, or its target when it has none)
 * and what a RUN's view of the directory depends on — the platform of the stage that used it and
 * the uid/gid/mode the directory was created with. BuildKit keys a local cache mount by id alone
 * (and strata's local `cache-mounts/` store does too); across machines a restored mount must not
 * hand arm64 objects to an amd64 build, or files owned by 0 to a step running as 1000.
 */
export interface CacheMountIdentity {
  readonly id: string;
  /** `os/arch[/variant]` of the stage that used the mount. */
  readonly platform: string;
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
}

/** True when two identities name the same exported mount. */
export function sameCacheMount(a: CacheMountIdentity, b: CacheMountIdentity): boolean {
  return (
    a.id === b.id && a.platform === b.platform && a.uid === b.uid && a.gid === b.gid && a.mode === b.mode
  );
}

/** A stable text for an identity (map keys, messages). */
export function cacheMountName(m: CacheMountIdentity): string {
  return `${m.id} (${m.platform}, uid=${m.uid}, gid=${m.gid}, mode=${m.mode.toString(8).padStart(4, '0')})`;
}

/** The cache config's entry for one exported mount: its identity and its manifest. */
export interface CacheMountRef extends CacheMountIdentity {
  /** The mount manifest blob ({@link CACHE_MOUNT_MANIFEST_MEDIA_TYPE}). */
  readonly manifest: Descriptor;
  /** Bytes of file content it holds, and how many files. */
  readonly size: number;
  readonly files: number;
}

/** One content-addressed piece of a mount. */
export interface CacheMountPiece {
  /** The blob: gzip of the content. */
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  /** sha256 and length of the uncompressed content (what the local piece index is keyed by). */
  readonly contentDigest: Digest;
  readonly contentSize: number;
}

/** One entry of a mount: paths are relative to the mount's root, `/`-separated, clean. */
export type CacheMountEntry =
  | (CacheMountEntryBase & { readonly type: 'dir' })
  | (CacheMountEntryBase & {
      readonly type: 'file';
      /** Index into `pieces`, and where in the piece's uncompressed content the file's bytes are. */
      readonly piece: number;
      readonly offset: number;
      readonly size: number;
    })
  | (CacheMountEntryBase & { readonly type: 'symlink'; readonly target: string });

interface CacheMountEntryBase {
  readonly path: string;
  /** Permission bits with setuid/setgid/sticky (`st_mode & 0o7777`). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Modification time, ms since the epoch. */
  readonly mtime: number;
  /** Last use: the later of access and modification time, ms (what `max-size=` trims by). */
  readonly used: number;
}

/** A mount manifest: every entry and the pieces holding the files' bytes. */
export interface CacheMountManifest extends CacheMountIdentity {
  readonly version: 1;
  readonly pieces: readonly CacheMountPiece[];
  readonly entries: readonly CacheMountEntry[];
}

function int(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw new InvalidInputError(`cache mount manifest: ${what} is not a non-negative integer`);
  return value;
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new InvalidInputError(`cache mount manifest: ${what} is not a string`);
  return value;
}

/** A relative, clean path with no `..` and no empty component: anything else is refused. */
function checkPath(path: string): string {
  if (
    path === '' ||
    path.startsWith('/') ||
    path.includes('\0') ||
    posix.normalize(path) !== path ||
    path === '.' ||
    path.split('/').some((part) => part === '..' || part === '.' || part === '')
  )
    throw new InvalidInputError(`cache mount manifest: bad path ${JSON.stringify(path)}`);
  return path;
}

/** Parses an identity out of untrusted JSON (the cache config, a mount manifest). */
export function parseCacheMountIdentity(value: Record<string, unknown>): CacheMountIdentity {
  return {
    id: text(value.id, 'id'),
    platform: text(value.platform, 'platform'),
    uid: int(value.uid, 'uid'),
    gid: int(value.gid, 'gid'),
    mode: int(value.mode, 'mode') & 0o7777,
  };
}

/** Parses a cache config's `mounts` entry. */
export function parseCacheMountRef(value: unknown): CacheMountRef {
  if (typeof value !== 'object' || value === null)
    throw new InvalidInputError('cache config: bad mounts entry');
  const v = value as Record<string, unknown>;
  return {
    ...parseCacheMountIdentity(v),
    manifest: parseDescriptorObject(v.manifest, 'cache mount manifest'),
    size: int(v.size, 'size'),
    files: int(v.files, 'files'),
  };
}

/**
 * Validates a mount manifest read from a cache (untrusted): clean relative paths, each once; file
 * ranges inside their piece; no entry below a symlink (restoring never follows one).
 */
export function parseCacheMountManifest(value: unknown): CacheMountManifest {
  if (typeof value !== 'object' || value === null)
    throw new InvalidInputError('cache mount manifest: not an object');
  const v = value as Record<string, unknown>;
  if (v.version !== 1)
    throw new InvalidInputError(`cache mount manifest: unknown version ${String(v.version)}`);
  if (!Array.isArray(v.pieces) || !Array.isArray(v.entries))
    throw new InvalidInputError('cache mount manifest: pieces and entries must be lists');
  const pieces: CacheMountPiece[] = v.pieces.map((p: Record<string, unknown>, i) => {
    const d = parseDescriptorObject(p, `cache mount piece ${i}`);
    return {
      mediaType: d.mediaType,
      digest: d.digest,
      size: d.size,
      contentDigest: parseDigest(text(p.contentDigest, 'contentDigest')),
      contentSize: int(p.contentSize, 'contentSize'),
    };
  });
  const seen = new Set<string>();
  const links = new Set<string>();
  const entries: CacheMountEntry[] = v.entries.map((raw: Record<string, unknown>) => {
    const path = checkPath(text(raw.path, 'path'));
    if (seen.has(path)) throw new InvalidInputError(`cache mount manifest: ${path} listed twice`);
    seen.add(path);
    const base = {
      path,
      mode: int(raw.mode, 'mode') & 0o7777,
      uid: int(raw.uid, 'uid'),
      gid: int(raw.gid, 'gid'),
      mtime: int(raw.mtime, 'mtime'),
      used: int(raw.used, 'used'),
    };
    switch (raw.type) {
      case 'dir':
        return { ...base, type: 'dir' as const };
      case 'symlink':
        links.add(path);
        return { ...base, type: 'symlink' as const, target: text(raw.target, 'target') };
      case 'file': {
        const piece = int(raw.piece, 'piece');
        const offset = int(raw.offset, 'offset');
        const size = int(raw.size, 'size');
        const holder = pieces[piece];
        if (!holder || offset + size > holder.contentSize)
          throw new InvalidInputError(`cache mount manifest: ${path} is outside its piece`);
        return { ...base, type: 'file' as const, piece, offset, size };
      }
      default:
        throw new InvalidInputError(`cache mount manifest: ${path} has unknown type ${String(raw.type)}`);
    }
  });
  for (const e of entries) {
    for (let at = e.path.indexOf('/'); at !== -1; at = e.path.indexOf('/', at + 1))
      if (links.has(e.path.slice(0, at)))
        throw new InvalidInputError(`cache mount manifest: ${e.path} is below a symlink`);
  }
  return { version: 1, ...parseCacheMountIdentity(v), pieces, entries };
}
