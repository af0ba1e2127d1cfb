// Test helpers for the archive suite: raw tar crafting (independent of src/archive's encoder),
// tree snapshots for exact comparison, and a seeded random tree generator.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after } from 'node:test';
import { getAttributeSync, listAttributesSync, setAttributeSync } from '@napi-rs/xattr';

// ---------------------------------------------------------------------------------------------
// Crafting raw tar archives by hand

/** One hand-made tar entry. `type` is the raw typeflag character. */
export interface RawEntry {
  name: string;
  type?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  linkname?: string;
  content?: Buffer | string;
  /** Size field override (a lie about the content length). */
  size?: number;
  devmajor?: number;
  devminor?: number;
  mtime?: number;
  /** Corrupt the checksum. */
  badChecksum?: boolean;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** A 512-byte ustar header block written field by field. */
export function rawHeader(entry: RawEntry): Buffer {
  const b = Buffer.alloc(512);
  const content = entry.content === undefined ? Buffer.alloc(0) : Buffer.from(entry.content);
  Buffer.from(entry.name).copy(b, 0, 0, 100);
  b.write(octal(entry.mode ?? 0o644, 8), 100, 'latin1');
  b.write(octal(entry.uid ?? 0, 8), 108, 'latin1');
  b.write(octal(entry.gid ?? 0, 8), 116, 'latin1');
  b.write(octal(entry.size ?? content.length, 12), 124, 'latin1');
  b.write(octal(entry.mtime ?? 1_600_000_000, 12), 136, 'latin1');
  b.write(entry.type ?? '0', 156, 'latin1');
  Buffer.from(entry.linkname ?? '').copy(b, 157, 0, 100);
  b.write('ustar\u000000', 257, 'latin1');
  b.write(octal(entry.devmajor ?? 0, 8), 329, 'latin1');
  b.write(octal(entry.devminor ?? 0, 8), 337, 'latin1');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  if (entry.badChecksum) sum += 1;
  b.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return b;
}

function pad(data: Buffer): Buffer {
  const rest = data.length % 512;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(512 - rest)]);
}

/** A PAX record `"<len> key=value\n"`, computed independently of src/archive. */
export function paxRecord(key: string, value: Buffer | string): Buffer {
  const v = Buffer.from(value);
  const base = Buffer.byteLength(key) + v.length + 3;
  let len = base + String(base).length;
  if (String(len).length > String(base).length) len = base + String(len).length;
  return Buffer.concat([Buffer.from(`${len} ${key}=`), v, Buffer.from('\n')]);
}

/** A whole archive: each item is an entry or raw bytes (already block-aligned). */
export function craftTar(items: Array<RawEntry | Buffer>, options: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const item of items) {
    if (Buffer.isBuffer(item)) {
      parts.push(item);
      continue;
    }
    parts.push(rawHeader(item));
    if (item.content !== undefined) parts.push(pad(Buffer.from(item.content)));
  }
  if (options.end !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** A PAX extended header entry carrying `records` (applies to the next entry). */
export function paxEntry(records: Buffer[], type = 'x'): Buffer {
  const body = Buffer.concat(records);
  return Buffer.concat([rawHeader({ name: 'PaxHeader/x', type, content: body }), pad(body)]);
}

// ---------------------------------------------------------------------------------------------
// Tree snapshots

/** Everything a layer must reproduce about one path. */
export interface NodeInfo {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime?: number;
  size?: number;
  sha256?: string;
  link?: string;
  rdev?: number;
  xattrs: Record<string, string>;
  /** The first path (in sorted order) sharing this inode, for hardlinked files. */
  hardlinkGroup?: string;
}

/** A map path → {@link NodeInfo} for every path below `root` (the root itself excluded). */
export function snapshotTree(
  root: string,
  options: { mtimes?: boolean; dirMtimes?: boolean } = {},
): Map<string, NodeInfo> {
  const out = new Map<string, NodeInfo>();
  const inodes = new Map<string, string>();
  const walk = (dir: string, rel: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const abs = `${dir}/${name}`;
      const path = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(abs);
      const type = st.isFile()
        ? 'file'
        : st.isDirectory()
          ? 'dir'
          : st.isSymbolicLink()
            ? 'symlink'
            : st.isFIFO()
              ? 'fifo'
              : st.isCharacterDevice()
                ? 'char'
                : st.isBlockDevice()
                  ? 'block'
                  : 'other';
      const xattrs: Record<string, string> = {};
      for (const key of listAttributesSync(abs).sort())
        xattrs[key] = getAttributeSync(abs, key)?.toString('hex') ?? '';
      const info: NodeInfo = { type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, xattrs };
      if (type === 'symlink') info.mode = 0; // symlink modes are meaningless on Linux
      if (options.mtimes !== false && (type !== 'dir' || options.dirMtimes !== false))
        info.mtime = Math.floor(st.mtimeMs / 1000);
      if (type === 'file') {
        info.size = st.size;
        info.sha256 = createHash('sha256').update(readFileSync(abs)).digest('hex');
        if (st.nlink > 1) {
          const key = `${st.dev}:${st.ino}`;
          if (!inodes.has(key)) inodes.set(key, path);
          info.hardlinkGroup = inodes.get(key)!;
        }
      }
      if (type === 'symlink') info.link = readlinkSync(abs);
      if (type === 'char' || type === 'block') info.rdev = st.rdev;
      out.set(path, info);
      if (type === 'dir') walk(abs, path);
    }
  };
  walk(root, '');
  return out;
}

/** Human-readable differences between two snapshots (empty when equal). */
export function diffSnapshots(want: Map<string, NodeInfo>, got: Map<string, NodeInfo>): string[] {
  const problems: string[] = [];
  for (const [path, info] of want) {
    const other = got.get(path);
    if (!other) problems.push(`missing ${path}`);
    else if (JSON.stringify(info) !== JSON.stringify(other))
      problems.push(`differs ${path}: want ${JSON.stringify(info)} got ${JSON.stringify(other)}`);
  }
  for (const path of got.keys()) if (!want.has(path)) problems.push(`unexpected ${path}`);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Random trees

/** A small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** security.capability for cap_net_raw+ep (VFS_CAP_REVISION_2): NULs and a byte ≥ 0x80 included. */
export const CAP_NET_RAW = Buffer.from('0100000200200000000000000000000000000000', 'hex');
export const CAP_SETUID_BIND = Buffer.from('01000002c0240000000000000000000000000000', 'hex');

/** Runs a command, throwing with its stderr when it fails. */
export function run(command: string, args: string[], options: { cwd?: string; input?: Buffer } = {}): string {
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    input: options.input,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0)
    throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr?.toString()}`);
  return result.stdout.toString();
}

/** Sets owner, mode, xattrs and mtime in the order that keeps setuid and capabilities. */
export function finishNode(
  path: string,
  meta: { uid: number; gid: number; mode?: number; mtime: number; xattrs?: Record<string, Buffer> },
  kind: 'symlink' | 'other' = 'other',
): void {
  if (kind === 'symlink') {
    lchownSync(path, meta.uid, meta.gid);
    lutimesSync(path, meta.mtime, meta.mtime);
    return;
  }
  chownSync(path, meta.uid, meta.gid);
  if (meta.mode !== undefined) chmodSync(path, meta.mode);
  for (const [k, v] of Object.entries(meta.xattrs ?? {})) setAttributeSync(path, k, v);
  utimesSync(path, meta.mtime, meta.mtime);
}

/**
 * Fills `root` with a random tree: nested dirs, files of random sizes (some empty), hardlinks,
 * relative/absolute/dangling symlinks, fifos, char devices, setuid/setgid/sticky modes, big ids,
 * user.* and security.capability xattrs, long and non-ASCII names. Deterministic for a seed.
 */
export function makeRandomTree(root: string, seed: number, options: { files?: number } = {}): void {
  const rand = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const dirs: string[] = [''];
  const files: string[] = [];
  const dirMeta: Array<[string, { uid: number; gid: number; mode: number; mtime: number }]> = [];
  mkdirSync(root, { recursive: true });
  let counter = 0;
  const name = (): string => {
    counter++;
    const r = rand();
    if (r < 0.05) return `${'long-name-'.repeat(12)}${counter}`; // > 100 bytes
    if (r < 0.1) return `ünï-☃-🙂-${counter}`;
    if (r < 0.12) return `.hidden-${counter}`;
    return `n${counter}`;
  };
  const ids = (): { uid: number; gid: number } =>
    rand() < 0.1
      ? { uid: 3_000_000 + counter, gid: 2_500_000 }
      : { uid: pick([0, 0, 1000, 65534]), gid: pick([0, 100]) };
  const mtime = (): number => 1_500_000_000 + Math.floor(rand() * 100_000_000);
  const total = options.files ?? 60;
  for (let i = 0; i < total; i++) {
    const parent = pick(dirs);
    const path = parent === '' ? name() : `${parent}/${name()}`;
    const abs = `${root}/${path}`;
    const r = rand();
    if (r < 0.2) {
      mkdirSync(abs);
      dirs.push(path);
      dirMeta.push([abs, { ...ids(), mode: pick([0o755, 0o700, 0o1777, 0o2775, 0o555]), mtime: mtime() }]);
    } else if (r < 0.65) {
      const size = pick([0, 1, 511, 512, 513, 4096, 70_000, Math.floor(rand() * 20_000)]);
      const content = Buffer.alloc(size);
      for (let j = 0; j < size; j += 97) content[j] = Math.floor(rand() * 256);
      writeFileSync(abs, content);
      const xattrs: Record<string, Buffer> = {};
      if (rand() < 0.15) xattrs['user.note'] = Buffer.from([0, 1, 0x80, 0xff, 0x0a, 0x3d]);
      if (rand() < 0.1) xattrs['security.capability'] = pick([CAP_NET_RAW, CAP_SETUID_BIND]);
      finishNode(abs, {
        ...ids(),
        mode: pick([0o644, 0o600, 0o755, 0o4755, 0o2755, 0o444, 0o6711]),
        mtime: mtime(),
        xattrs,
      });
      files.push(path);
    } else if (r < 0.75 && files.length > 0) {
      linkSync(`${root}/${pick(files)}`, abs);
    } else if (r < 0.9) {
      const target = pick(['/etc/passwd', '../../x', 'n1', `${'t'.repeat(150)}`, '/', 'dangling/target']);
      symlinkSync(target, abs);
      finishNode(abs, { ...ids(), mtime: mtime() }, 'symlink');
    } else if (r < 0.95) {
      run('mknod', ['-m', '0640', abs, 'p']);
      finishNode(abs, { ...ids(), mode: 0o640, mtime: mtime() });
    } else {
      run('mknod', ['-m', '0666', abs, 'c', '1', String(3 + (counter % 5))]);
      finishNode(abs, { ...ids(), mode: 0o666, mtime: mtime() });
    }
  }
  // Directory metadata last: creating children changes a directory's mtime.
  for (const [abs, meta] of dirMeta.reverse()) finishNode(abs, meta);
}

/**
 * A scratch directory for one test file, removed after the file's tests; `fresh(label)` makes a
 * new empty subdirectory in it each call.
 */
export function scratchDirs(prefix: string): (label: string) => string {
  const root = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  return (label) => {
    const dir = join(root, `${label}-${n++}`);
    mkdirSync(dir);
    return dir;
  };
}

/** Reads a whole stream into one buffer. */
export async function collect(stream: Readable | AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(parts);
}
