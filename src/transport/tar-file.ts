import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { InvalidInputError } from '../util/index.ts';

/** One member of a tar file: where its data starts and how long it is. */
export interface TarMember {
  readonly name: string;
  /** `0` regular file, `5` directory, `2` symlink … (ustar typeflag). */
  readonly type: string;
  readonly offset: number;
  readonly size: number;
  /** What a symlink (`2`) or hardlink (`1`) member points to. */
  readonly linkName?: string;
}

function parseOctal(field: Buffer): number {
  if ((field[0]! & 0x80) !== 0) {
    // GNU base-256 for large sizes.
    let value = 0;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    return value;
  }
  const text = field.toString('latin1').replace(/\0.*$/, '').trim();
  return text ? Number.parseInt(text, 8) : 0;
}

function cString(field: Buffer): string {
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? field.length : end).toString('utf8');
}

/**
 * Lists the members of a tar file without reading their data (ustar, GNU long names, PAX `path`
 * and `size`), for random access into `docker save` archives.
 */
export async function listTarMembers(path: string): Promise<TarMember[]> {
  const handle = await open(path, 'r');
  try {
    const members: TarMember[] = [];
    const { size: fileSize } = await handle.stat();
    const header = Buffer.alloc(512);
    let position = 0;
    let longName: string | undefined;
    let longLink: string | undefined;
    let pax: Record<string, string> = {};
    while (position + 512 <= fileSize) {
      await handle.read(header, 0, 512, position);
      if (header.every((b) => b === 0)) break;
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
      if (sum !== parseOctal(header.subarray(148, 156)))
        throw new InvalidInputError(`${path}: not a tar archive (bad header checksum at byte ${position})`);
      const type = String.fromCharCode(header[156]!) || '0';
      let size = parseOctal(header.subarray(124, 136));
      const dataOffset = position + 512;
      if (type === 'L' || type === 'K' || type === 'x') {
        const data = Buffer.alloc(size);
        await handle.read(data, 0, size, dataOffset);
        if (type === 'L') longName = cString(data);
        else if (type === 'K') longLink = cString(data);
        else pax = parsePax(data);
      } else if (type !== 'g') {
        const prefix = cString(header.subarray(345, 500));
        const base = cString(header.subarray(0, 100));
        let name = pax.path ?? longName ?? (prefix ? `${prefix}/${base}` : base);
        if (pax.size) size = Number(pax.size);
        name = name.replace(/^\.\//, '');
        const linkName = pax.linkpath ?? longLink ?? cString(header.subarray(157, 257));
        members.push({
          name,
          type: type === '\0' ? '0' : type,
          offset: dataOffset,
          size,
          ...(type === '1' || type === '2' ? { linkName } : {}),
        });
        longLink = undefined;
        longName = undefined;
        pax = {};
      }
      position = dataOffset + Math.ceil(size / 512) * 512;
    }
    return members;
  } finally {
    await handle.close();
  }
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    if (space === -1) break;
    const length = Number(data.subarray(i, space).toString('latin1'));
    if (!Number.isFinite(length) || length <= 0) break;
    const record = data.subarray(space + 1, i + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    i += length;
  }
  return out;
}

/**
 * The regular file a member name stands for, following symlink and hardlink members (`docker
 * save` stores a layer equal to an earlier one as `<id>/layer.tar -> ../<other>/layer.tar`).
 * Links resolve inside the archive only; a loop, or a link to nothing or to a non-file, is
 * undefined.
 */
export function resolveTarMember(
  byName: ReadonlyMap<string, TarMember>,
  name: string,
): TarMember | undefined {
  let current = normalize(name);
  for (let hops = 0; hops < 16; hops++) {
    const found = byName.get(current);
    if (!found || found.linkName === undefined) return found?.type === '0' ? found : undefined;
    const target = found.linkName;
    current = normalize(
      found.type === '2' && !target.startsWith('/') ? `${posix.dirname(current)}/${target}` : target,
    );
  }
  return undefined;
}

/** An archive path as listed: no leading `./` or `/`, no `.`/`..` segments (none above the top). */
function normalize(name: string): string {
  const clean = posix.normalize(`/${name}`).replace(/^\/+/, '');
  return clean === '.' ? '' : clean;
}

/** Reads a member's bytes (from `offset` within it). */
export function openTarMember(path: string, member: TarMember, offset = 0, signal?: AbortSignal): Readable {
  return createReadStream(path, {
    start: member.offset + offset,
    end: member.offset + member.size - 1,
    highWaterMark: 1 << 20,
    ...(signal ? { signal } : {}),
  });
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** A ustar header for a regular file (names up to 100 bytes; ours are digests). */
function fileHeader(name: string, size: number, mtime: number): Buffer {
  if (Buffer.byteLength(name) > 100) throw new InvalidInputError(`tar member name too long: ${name}`);
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write(octal(0o644, 8), 100);
  header.write(octal(0, 8), 108);
  header.write(octal(0, 8), 116);
  header.write(octal(size, 12), 124);
  header.write(octal(mtime, 12), 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return header;
}

/** Writes a tar file member by member (regular files only), streaming file contents. */
export class TarFileWriter {
  readonly #out: ReturnType<typeof createWriteStream>;

  constructor(path: string) {
    this.#out = createWriteStream(path, { mode: 0o644 });
  }

  async #write(data: Buffer): Promise<void> {
    if (!this.#out.write(data)) await once(this.#out, 'drain');
  }

  /** Adds a member with `data` (bytes) or the contents of file `fromPath` (`size` bytes). */
  async add(name: string, source: { data: Uint8Array } | { fromPath: string; size: number }): Promise<void> {
    const size = 'data' in source ? source.data.length : source.size;
    await this.#write(fileHeader(name, size, 0));
    if ('data' in source) await this.#write(Buffer.from(source.data));
    else
      for await (const chunk of createReadStream(source.fromPath, { highWaterMark: 1 << 20 }))
        await this.#write(chunk as Buffer);
    const pad = (512 - (size % 512)) % 512;
    if (pad > 0) await this.#write(Buffer.alloc(pad));
  }

  /** Writes the end-of-archive blocks and closes the file (fsynced). */
  async finish(): Promise<void> {
    await this.#write(Buffer.alloc(1024));
    await new Promise<void>((resolve, reject) =>
      this.#out.end((error?: Error | null) => (error ? reject(error) : resolve())),
    );
  }

  /** Abandons the file (the caller removes it). */
  destroy(): void {
    this.#out.destroy();
  }
}
