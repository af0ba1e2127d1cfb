import { TarFormatError } from './errors.ts';
import {
  BLOCK_SIZE,
  blockPadding,
  decodeRawHeader,
  isZeroBlock,
  parsePaxRecords,
  type RawHeader,
  type TarEntryType,
  type TarHeader,
} from './tar-header.ts';

/** What a {@link TarParser} calls, synchronously, as it recognises entries. */
export interface TarVisitor {
  /** A new entry starts; for a regular file its content follows through `data`. */
  entry(header: TarHeader): void;
  /** A slice of the current regular file's content (only valid during the call). */
  data(chunk: Buffer): void;
  /** The current entry is complete. */
  entryEnd(): void;
}

/** Options of {@link TarParser}. */
export interface TarParserOptions {
  /** Largest PAX or GNU long-name body accepted, in bytes (default 8 MiB): a hostile size is refused, not buffered. */
  readonly maxMetadataBytes?: number;
}

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '7': 'file', // contiguous file: a regular file everywhere that matters
  '1': 'link',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'directory',
  '6': 'fifo',
};

type State =
  | { kind: 'header' }
  | { kind: 'meta'; typeflag: string; remaining: number; padding: number; parts: Buffer[] }
  | { kind: 'data'; remaining: number; padding: number; emit: boolean }
  | { kind: 'done' };

/**
 * A streaming tar reader: feed it chunks of any size with `write`, and it calls the visitor as
 * entries are recognised. It reads POSIX ustar, PAX extended (`x`) and global (`g`) headers
 * (path, linkpath, size, uid, gid, mtime, `SCHILY.xattr.*`, `LIBARCHIVE.xattr.*`), GNU long names
 * and link names (`L`/`K`) and GNU base-256 numbers. Memory stays bounded by the largest metadata
 * body; file content passes through without being buffered. Everything after the end-of-archive
 * marker is ignored (but still accepted, so the caller can finish hashing the stream).
 */
export class TarParser {
  readonly #visitor: TarVisitor;
  readonly #maxMeta: number;
  #state: State = { kind: 'header' };
  /** A partial header block carried between chunks. */
  #partial: Buffer | undefined;
  readonly #global = new Map<string, Buffer>();
  /** The xattrs of the global records, decoded once (undefined: not yet, or changed since). */
  #globalXattrs: Map<string, Buffer> | undefined;
  #local = new Map<string, Buffer>();
  #longName: string | undefined;
  #longLink: string | undefined;
  #zeroBlocks = 0;

  constructor(visitor: TarVisitor, options: TarParserOptions = {}) {
    this.#visitor = visitor;
    this.#maxMeta = options.maxMetadataBytes ?? 8 * 1024 * 1024;
  }

  /** True once the end-of-archive marker was read. */
  get done(): boolean {
    return this.#state.kind === 'done';
  }

  /** Feeds the next bytes of the archive. */
  write(chunk: Buffer): void {
    let pos = 0;
    if (this.#partial) {
      const need = BLOCK_SIZE - this.#partial.length;
      if (chunk.length < need) {
        this.#partial = Buffer.concat([this.#partial, chunk]);
        return;
      }
      const block = Buffer.concat([this.#partial, chunk.subarray(0, need)]);
      this.#partial = undefined;
      pos = need;
      this.#header(block, 0);
    }
    while (pos < chunk.length) {
      const state = this.#state;
      switch (state.kind) {
        case 'done':
          return;
        case 'header': {
          if (chunk.length - pos < BLOCK_SIZE) {
            this.#partial = Buffer.from(chunk.subarray(pos));
            return;
          }
          this.#header(chunk, pos);
          pos += BLOCK_SIZE;
          break;
        }
        case 'data': {
          if (state.remaining > 0) {
            const n = Math.min(state.remaining, chunk.length - pos);
            if (state.emit) this.#visitor.data(chunk.subarray(pos, pos + n));
            state.remaining -= n;
            pos += n;
          }
          if (state.remaining === 0) {
            const n = Math.min(state.padding, chunk.length - pos);
            state.padding -= n;
            pos += n;
            if (state.padding === 0) {
              this.#state = { kind: 'header' };
              this.#visitor.entryEnd();
            }
          }
          break;
        }
        case 'meta': {
          if (state.remaining > 0) {
            const n = Math.min(state.remaining, chunk.length - pos);
            state.parts.push(Buffer.from(chunk.subarray(pos, pos + n)));
            state.remaining -= n;
            pos += n;
          }
          if (state.remaining === 0) {
            const n = Math.min(state.padding, chunk.length - pos);
            state.padding -= n;
            pos += n;
            if (state.padding === 0) {
              this.#state = { kind: 'header' };
              this.#meta(state.typeflag, Buffer.concat(state.parts));
            }
          }
          break;
        }
      }
    }
  }

  /** Signals the end of input; throws when the archive stopped inside an entry. */
  end(): void {
    if (this.#state.kind === 'done') return;
    if (
      this.#partial ||
      this.#state.kind !== 'header' ||
      this.#local.size > 0 ||
      this.#longName !== undefined
    )
      throw new TarFormatError('unexpected end of tar archive (truncated entry)');
    // A missing end-of-archive marker is tolerated, as GNU tar does: every entry was complete.
    this.#state = { kind: 'done' };
  }

  #header(block: Buffer, offset: number): void {
    if (isZeroBlock(block, offset)) {
      if (++this.#zeroBlocks === 2) this.#state = { kind: 'done' };
      return;
    }
    if (this.#zeroBlocks > 0)
      throw new TarFormatError('tar header found after an end-of-archive block (a lone zero block)');
    const raw = decodeRawHeader(block, offset);
    const t = raw.typeflag;
    if (t === 'x' || t === 'g' || t === 'L' || t === 'K') {
      if (raw.size > this.#maxMeta)
        throw new TarFormatError(
          `tar metadata entry of ${raw.size} bytes exceeds the ${this.#maxMeta}-byte limit`,
        );
      this.#state = {
        kind: 'meta',
        typeflag: t,
        remaining: raw.size,
        padding: blockPadding(raw.size),
        parts: [],
      };
      if (raw.size === 0) {
        this.#state = { kind: 'header' };
        this.#meta(t, Buffer.alloc(0));
      }
      return;
    }
    // Non-file entries with a payload (rare, but legal) have it skipped.
    const { header, payload: size } = this.#resolve(raw);
    this.#state = {
      kind: 'data',
      remaining: size,
      padding: blockPadding(size),
      emit: header.type === 'file',
    };
    this.#visitor.entry(header);
    if (size === 0) {
      this.#state = { kind: 'header' };
      this.#visitor.entryEnd();
    }
  }

  #meta(typeflag: string, body: Buffer): void {
    if (typeflag === 'x') parsePaxRecords(body, this.#local);
    else if (typeflag === 'g') {
      parsePaxRecords(body, this.#global);
      this.#globalXattrs = undefined;
    } else {
      const end = body.indexOf(0);
      const text = body.toString('utf8', 0, end < 0 ? body.length : end);
      if (typeflag === 'L') this.#longName = text;
      else this.#longLink = text;
    }
  }

  /** Folds global PAX, local PAX and GNU long names into the raw header. */
  #resolve(raw: RawHeader): { header: TarHeader; payload: number } {
    const type = TYPES[raw.typeflag];
    if (type === undefined)
      throw new TarFormatError(`unsupported tar entry type ${JSON.stringify(raw.typeflag)} for ${raw.name}`);
    // Local records override global ones. The two maps are read, never merged: an archive whose
    // global header holds many records would otherwise cost that many steps for every entry.
    const local = this.#local;
    const global = this.#global;
    const get = (key: string): Buffer | undefined => local.get(key) ?? global.get(key);
    const text = (key: string): string | undefined => {
      const v = get(key);
      return v === undefined || v.length === 0 ? undefined : v.toString('utf8');
    };
    const num = (key: string, fallback: number): number => {
      const v = text(key);
      if (v === undefined) return fallback;
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0 || n > Number.MAX_SAFE_INTEGER)
        throw new TarFormatError(`invalid PAX ${key} ${JSON.stringify(v)} for ${raw.name}`);
      return n;
    };
    if (get('GNU.sparse.major') !== undefined || get('GNU.sparse.size') !== undefined)
      throw new TarFormatError(`sparse tar entries are not supported (${raw.name})`);
    const xattrs = new Map<string, Buffer>();
    if (global.size > 0) {
      this.#globalXattrs ??= xattrsOf(global, raw.name);
      for (const [name, value] of this.#globalXattrs) xattrs.set(name, value);
    }
    for (const [name, value] of xattrsOf(local, raw.name)) xattrs.set(name, value);
    let path = text('path') ?? this.#longName ?? raw.name;
    let linkpath = text('linkpath') ?? this.#longLink ?? raw.linkname;
    if (type === 'directory') path = path.replace(/\/+$/, '') || (path.startsWith('/') ? '/' : '.');
    if (type !== 'link' && type !== 'symlink') linkpath = '';
    const payload = Math.floor(num('size', raw.size));
    this.#local = new Map();
    this.#longName = undefined;
    this.#longLink = undefined;
    const header: TarHeader = {
      path,
      type,
      mode: raw.mode & 0o7777,
      uid: Math.floor(num('uid', raw.uid)),
      gid: Math.floor(num('gid', raw.gid)),
      size: type === 'file' ? payload : 0,
      mtime: num('mtime', raw.mtime),
      linkpath,
      devmajor: raw.devmajor,
      devminor: raw.devminor,
      xattrs,
    };
    return { header, payload };
  }
}

/** The extended attributes PAX records carry: `SCHILY.xattr.<name>`, `LIBARCHIVE.xattr.<%-encoded name>` (base64 value). */
function xattrsOf(records: ReadonlyMap<string, Buffer>, entry: string): Map<string, Buffer> {
  const xattrs = new Map<string, Buffer>();
  for (const [key, value] of records) {
    if (key.startsWith('SCHILY.xattr.')) xattrs.set(key.slice(13), value);
    else if (key.startsWith('LIBARCHIVE.xattr.')) {
      let name: string;
      try {
        name = decodeURIComponent(key.slice(17));
      } catch (error) {
        throw new TarFormatError(`invalid PAX record ${JSON.stringify(key)} for ${entry}: bad %-escape`, {
          cause: error,
        });
      }
      xattrs.set(name, Buffer.from(value.toString('latin1'), 'base64'));
    }
  }
  return xattrs;
}
