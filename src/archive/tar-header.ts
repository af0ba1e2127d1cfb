import { TarFormatError } from './errors.ts';

/** The kinds of tar entries a layer holds (POSIX ustar typeflags `0`–`6`). */
export type TarEntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'directory' | 'fifo';

/**
 * One tar entry's metadata, after PAX, GNU long-name and global headers have been folded in.
 * `path` and `linkpath` are as stored (no leading `./` stripping, no trailing `/` for directories).
 */
export interface TarHeader {
  readonly path: string;
  readonly type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky (`& 0o7777`). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Content bytes (regular files only; 0 for every other type). */
  readonly size: number;
  /** Modification time in seconds since the epoch (may be fractional when read from PAX). */
  readonly mtime: number;
  /** Symlink target, or the path of the earlier entry a hardlink points to. */
  readonly linkpath: string;
  readonly devmajor: number;
  readonly devminor: number;
  /** Extended attributes, values byte-exact (PAX `SCHILY.xattr.<name>`). */
  readonly xattrs: ReadonlyMap<string, Buffer>;
}

/** Tar's block size: headers and content are padded to multiples of it. */
export const BLOCK_SIZE = 512;

const TYPE_FLAGS: Record<TarEntryType, number> = {
  file: 0x30,
  link: 0x31,
  symlink: 0x32,
  char: 0x33,
  block: 0x34,
  directory: 0x35,
  fifo: 0x36,
};

/** Padding needed after `size` content bytes to reach a block boundary. */
export function blockPadding(size: number): number {
  const rest = size % BLOCK_SIZE;
  return rest === 0 ? 0 : BLOCK_SIZE - rest;
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * Encodes the header blocks of one entry: a PAX extended header (`x`) when a field does not fit
 * ustar — names and link targets longer than ustar allows, sizes ≥ 8 GiB, ids > 2097151, mtimes out
 * of range, any xattr — followed by the ustar header. Output depends only on `header`, so equal
 * inputs give byte-identical archives.
 *
 * @param scratch a 512-byte buffer to encode into when the entry needs no PAX header (the caller
 *   copies the result out before the next call): ordinary entries then allocate nothing, which
 *   matters for layers of many small files.
 */
export function encodeHeader(header: TarHeader, scratch?: Buffer): Buffer {
  const pax: Array<[string, Buffer]> = [];
  const isDir = header.type === 'directory';
  const nameText = isDir && !header.path.endsWith('/') ? `${header.path}/` : header.path;
  let name: string | Buffer = nameText;
  let prefix: Buffer | undefined;
  if (Buffer.byteLength(nameText) > 100) {
    const nameBytes = Buffer.from(nameText);
    const split = splitUstarName(nameBytes);
    if (split) [prefix, name] = split;
    else {
      pax.push(['path', nameBytes]);
      name = nameBytes.subarray(nameBytes.length - 100); // informative only; PAX readers use `path`
    }
  }
  let link: string | Buffer = header.linkpath;
  if (Buffer.byteLength(link) > 100) {
    const linkBytes = Buffer.from(link);
    pax.push(['linkpath', linkBytes]);
    link = linkBytes.subarray(0, 100);
  }
  if (header.size > OCTAL_MAX[12]!) pax.push(['size', Buffer.from(String(header.size))]);
  if (header.uid > OCTAL_MAX[8]!) pax.push(['uid', Buffer.from(String(header.uid))]);
  if (header.gid > OCTAL_MAX[8]!) pax.push(['gid', Buffer.from(String(header.gid))]);
  const mtime = Math.floor(header.mtime);
  if (mtime < 0 || mtime > OCTAL_MAX[12]!) pax.push(['mtime', Buffer.from(String(mtime))]);
  // Sorted so the PAX record order is deterministic whatever order listxattr returned.
  for (const key of [...header.xattrs.keys()].sort())
    pax.push([`SCHILY.xattr.${key}`, header.xattrs.get(key)!]);

  const ustar =
    scratch !== undefined && pax.length === 0 ? scratch.fill(0, 0, BLOCK_SIZE) : Buffer.alloc(BLOCK_SIZE);
  writeField(ustar, 0, name);
  writeNumber(ustar, 100, 8, header.mode & 0o7777);
  writeNumber(ustar, 108, 8, header.uid);
  writeNumber(ustar, 116, 8, header.gid);
  writeNumber(ustar, 124, 12, header.size);
  writeNumber(ustar, 136, 12, Math.max(0, mtime));
  ustar[156] = TYPE_FLAGS[header.type];
  writeField(ustar, 157, link);
  ustar.write('ustar\u000000', 257, 'latin1');
  // uname/gname stay empty: ownership is numeric only, so the host's passwd never leaks in.
  if (header.type === 'char' || header.type === 'block') {
    writeNumber(ustar, 329, 8, header.devmajor);
    writeNumber(ustar, 337, 8, header.devminor);
  }
  if (prefix) prefix.copy(ustar, 345);
  writeChecksum(ustar);
  if (pax.length === 0) return ustar;

  const body = encodePaxRecords(pax);
  const paxHeader = Buffer.alloc(BLOCK_SIZE);
  // A fixed name keeps archives deterministic (GNU tar puts its pid here).
  const paxName = Buffer.from(`PaxHeaders/${lastComponent(header.path)}`).subarray(0, 100);
  paxName.copy(paxHeader, 0);
  writeNumber(paxHeader, 100, 8, 0o644);
  writeNumber(paxHeader, 108, 8, 0);
  writeNumber(paxHeader, 116, 8, 0);
  writeNumber(paxHeader, 124, 12, body.length);
  writeNumber(paxHeader, 136, 12, Math.max(0, Math.min(mtime, OCTAL_MAX[12]!)));
  paxHeader[156] = 0x78; // 'x'
  paxHeader.write('ustar\u000000', 257, 'latin1');
  writeChecksum(paxHeader);
  return Buffer.concat([paxHeader, body, Buffer.alloc(blockPadding(body.length)), ustar]);
}

/** Writes a name or link field (at most 100 bytes, already checked). */
function writeField(block: Buffer, offset: number, value: string | Buffer): void {
  if (typeof value === 'string') block.write(value, offset, 100, 'utf8');
  else value.copy(block, offset, 0, Math.min(value.length, 100));
}

/** Largest value an octal field of the given width (digits + NUL) holds. */
const OCTAL_MAX: Record<number, number> = { 8: 0o7777777, 12: 0o77777777777 };

/** Splits a long name into ustar `prefix` (≤155 bytes) and `name` (≤100 bytes) at a slash. */
function splitUstarName(bytes: Buffer): [Buffer, Buffer] | undefined {
  if (bytes.length > 256) return undefined;
  // The leftmost slash that leaves a short enough name; deterministic for a given path.
  for (let i = Math.max(0, bytes.length - 101); i < bytes.length - 1 && i <= 155; i++) {
    if (bytes[i] === 0x2f && bytes.length - i - 1 <= 100 && i > 0)
      return [bytes.subarray(0, i), bytes.subarray(i + 1)];
  }
  return undefined;
}

function lastComponent(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1) || 'root';
}

/**
 * Writes `value` in an octal field (zero-padded digits + NUL); values too large for octal go in
 * GNU base-256 form (high bit set), which GNU tar and Go read — a PAX record carries them too.
 */
function writeNumber(block: Buffer, offset: number, width: number, value: number): void {
  if (value <= (width === 8 ? OCTAL_MAX[8]! : OCTAL_MAX[12]!)) {
    block.write(value.toString(8).padStart(width - 1, '0'), offset, width - 1, 'latin1');
    block[offset + width - 1] = 0;
    return;
  }
  let rest = BigInt(value);
  for (let i = offset + width - 1; i > offset; i--) {
    block[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  block[offset] = 0x80;
}

function writeChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) sum += block[i]!;
  block.write(sum.toString(8).padStart(6, '0'), 148, 6, 'latin1');
  block[154] = 0;
  block[155] = 0x20;
}

/**
 * Encodes PAX records `"<len> <key>=<value>\n"`; values are raw bytes, so binary xattrs survive
 * (tar-stream encodes them as UTF-8 and corrupts them, ../shared/research/libraries.md §1).
 */
export function encodePaxRecords(records: ReadonlyArray<readonly [string, Uint8Array]>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of records) {
    const keyBytes = Buffer.from(key);
    const rest = keyBytes.length + value.length + 3; // space, '=', newline
    let length = rest + String(rest).length;
    if (String(length).length !== String(rest).length) length = rest + String(length).length;
    parts.push(Buffer.from(`${length} `), keyBytes, Buffer.from('='), Buffer.from(value), Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// Reading

/** The raw fields of one 512-byte header block. */
export interface RawHeader {
  readonly name: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime: number;
  readonly typeflag: string;
  readonly linkname: string;
  readonly devmajor: number;
  readonly devminor: number;
}

/** True when the block is all zeros (the end-of-archive marker is two of them). */
export function isZeroBlock(block: Buffer, offset = 0): boolean {
  for (let i = offset; i < offset + BLOCK_SIZE; i++) if (block[i] !== 0) return false;
  return true;
}

/** Decodes one header block, checking its checksum (unsigned, or signed as old tars wrote it). */
export function decodeRawHeader(block: Buffer, offset = 0): RawHeader {
  const b = block.subarray(offset, offset + BLOCK_SIZE);
  const stored = parseNumber(b, 148, 8, 'chksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : b[i]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  if (stored !== unsigned && stored !== signed)
    throw new TarFormatError(`tar header checksum mismatch (stored ${stored}, computed ${unsigned})`);
  const magic = b.toString('latin1', 257, 263);
  let name = readString(b, 0, 100);
  if (magic === 'ustar\u0000') {
    // POSIX ustar: a non-empty prefix field is joined with a slash. GNU's "ustar  " uses these
    // bytes for other fields and never has a prefix.
    const prefix = readString(b, 345, 155);
    if (prefix !== '') name = `${prefix}/${name}`;
  }
  return {
    name,
    mode: parseNumber(b, 100, 8, 'mode'),
    uid: parseNumber(b, 108, 8, 'uid'),
    gid: parseNumber(b, 116, 8, 'gid'),
    size: parseNumber(b, 124, 12, 'size'),
    mtime: parseNumber(b, 136, 12, 'mtime'),
    typeflag: b[156] === 0 ? '0' : String.fromCharCode(b[156]!),
    linkname: readString(b, 157, 100),
    devmajor: parseNumber(b, 329, 8, 'devmajor'),
    devminor: parseNumber(b, 337, 8, 'devminor'),
  };
}

function readString(b: Buffer, offset: number, width: number): string {
  let end = offset;
  const limit = offset + width;
  while (end < limit && b[end] !== 0) end++;
  return b.toString('utf8', offset, end);
}

/** Parses an octal field (spaces/NULs around the digits allowed) or a GNU base-256 field. */
function parseNumber(b: Buffer, offset: number, width: number, field: string): number {
  const first = b[offset]!;
  if (first & 0x80) {
    if (first === 0xff) throw new TarFormatError(`negative base-256 ${field} in tar header`);
    let value = BigInt(first & 0x7f);
    for (let i = offset + 1; i < offset + width; i++) value = (value << 8n) | BigInt(b[i]!);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new TarFormatError(`${field} too large in tar header`);
    return Number(value);
  }
  let value = 0;
  let seen = false;
  for (let i = offset; i < offset + width; i++) {
    const c = b[i]!;
    if (c >= 0x30 && c <= 0x37) {
      value = value * 8 + (c - 0x30);
      seen = true;
    } else if (c === 0 || c === 0x20) {
      if (seen) break;
    } else throw new TarFormatError(`invalid octal ${field} in tar header`);
  }
  return value;
}

/** Parses a PAX extended header body into key → raw value (values may hold any bytes). */
export function parsePaxRecords(body: Buffer, into: Map<string, Buffer>): void {
  let pos = 0;
  while (pos < body.length) {
    if (body[pos] === 0) break; // NUL padding after the last record
    const space = body.indexOf(0x20, pos);
    if (space < 0) throw new TarFormatError('malformed PAX record (no length)');
    const length = Number(body.toString('latin1', pos, space));
    if (!Number.isSafeInteger(length) || length <= space - pos + 1 || pos + length > body.length)
      throw new TarFormatError('malformed PAX record length');
    const record = body.subarray(space + 1, pos + length - 1);
    if (body[pos + length - 1] !== 0x0a) throw new TarFormatError('malformed PAX record (no newline)');
    const eq = record.indexOf(0x3d);
    if (eq < 0) throw new TarFormatError('malformed PAX record (no "=")');
    into.set(record.toString('utf8', 0, eq), Buffer.from(record.subarray(eq + 1)));
    pos += length;
  }
}
