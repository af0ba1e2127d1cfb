import { open } from 'node:fs/promises';

/**
 * What the dynamic loader needs to know about an ELF file, read from its program headers and
 * dynamic section (ELF gABI, "Program Header" and "Dynamic Section"): whether it is linked
 * statically, its interpreter (`PT_INTERP`, e.g. `/lib64/ld-linux-x86-64.so.2`) and the libraries
 * it names (`DT_NEEDED`) with its search paths (`DT_RPATH`, `DT_RUNPATH`).
 */
export interface ElfInfo {
  readonly class: 32 | 64;
  /** `e_machine` (62 x86-64, 183 AArch64, …). */
  readonly machine: number;
  /** `ET_EXEC` (2), `ET_DYN` (3: shared objects and PIE executables). */
  readonly type: number;
  readonly interpreter?: string;
  readonly needed: readonly string[];
  readonly rpath: readonly string[];
  readonly runpath: readonly string[];
  readonly soname?: string;
  /** No interpreter and no needed libraries: the kernel runs it as it is (static or static-pie). */
  readonly isStatic: boolean;
  /** A Go binary (it has a `.go.buildinfo` section or Go's build ID note). */
  readonly isGo: boolean;
  /** It carries a symbol table or DWARF debug information (what `strip` removes). */
  readonly hasSymbols: boolean;
  /**
   * For a Go binary with a symbol table: the packages with cgo calls (`net._C2func_getaddrinfo` →
   * `net`). Undefined when it has no symbol table to tell.
   */
  readonly cgoPackages?: readonly string[];
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_SONAME = 14;
const DT_RPATH = 15;
const DT_RUNPATH = 29;

/** Whether the first bytes are ELF's magic number. */
export function isElfMagic(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
}

/**
 * Reads the ELF facts of the file at `path` (a path on this machine, already resolved inside the
 * image's root), or `undefined` when it is not an ELF file. Reads only the headers, the dynamic
 * section and the string table, never the whole file.
 */
export async function readElf(path: string): Promise<ElfInfo | undefined> {
  const file = await open(path, 'r');
  try {
    const read = async (offset: number, length: number): Promise<Buffer> => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await file.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    };
    const ident = await read(0, 64);
    if (!isElfMagic(ident) || ident.length < 52) return undefined;
    const is64 = ident[4] === 2;
    const little = ident[5] === 1;
    const u16 = (b: Buffer, o: number) => (little ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number) => (little ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const word = (b: Buffer, o: number) =>
      is64 ? Number(little ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(b, o);
    const type = u16(ident, 16);
    const machine = u16(ident, 18);
    const phoff = word(ident, is64 ? 32 : 28);
    const shoff = word(ident, is64 ? 40 : 32);
    const phentsize = u16(ident, is64 ? 54 : 42);
    const phnum = u16(ident, is64 ? 56 : 44);
    const shentsize = u16(ident, is64 ? 58 : 46);
    const shnum = u16(ident, is64 ? 60 : 48);
    const shstrndx = u16(ident, is64 ? 62 : 50);
    const headers = await read(phoff, phentsize * phnum);
    const loads: { vaddr: number; offset: number; filesz: number }[] = [];
    let interpreter: string | undefined;
    let dynamic: { offset: number; size: number } | undefined;
    for (let i = 0; i < phnum; i++) {
      const h = i * phentsize;
      if (h + phentsize > headers.length) break;
      const pType = u32(headers, h);
      const offset = is64 ? word(headers, h + 8) : u32(headers, h + 4);
      const vaddr = is64 ? word(headers, h + 16) : u32(headers, h + 8);
      const filesz = is64 ? word(headers, h + 32) : u32(headers, h + 16);
      if (pType === PT_LOAD) loads.push({ vaddr, offset, filesz });
      else if (pType === PT_INTERP)
        interpreter = (await read(offset, filesz)).toString('latin1').replace(/\0.*$/s, '');
      else if (pType === PT_DYNAMIC) dynamic = { offset, size: filesz };
    }
    const needed: string[] = [];
    const rpath: string[] = [];
    const runpath: string[] = [];
    let soname: string | undefined;
    if (dynamic) {
      const entries = await read(dynamic.offset, dynamic.size);
      const size = is64 ? 16 : 8;
      const tags: { tag: number; value: number }[] = [];
      for (let o = 0; o + size <= entries.length; o += size) {
        const tag = is64 ? word(entries, o) : u32(entries, o);
        if (tag === 0) break;
        tags.push({ tag, value: is64 ? word(entries, o + 8) : u32(entries, o + 4) });
      }
      const strtabAddress = tags.find((t) => t.tag === DT_STRTAB)?.value;
      const segment = loads.find(
        (l) => strtabAddress !== undefined && strtabAddress >= l.vaddr && strtabAddress < l.vaddr + l.filesz,
      );
      if (strtabAddress !== undefined && segment) {
        const strtab = segment.offset + (strtabAddress - segment.vaddr);
        const string = async (at: number) => {
          const bytes = await read(strtab + at, 4096);
          const end = bytes.indexOf(0);
          return bytes.subarray(0, end < 0 ? bytes.length : end).toString('utf8');
        };
        for (const t of tags) {
          if (t.tag === DT_NEEDED) needed.push(await string(t.value));
          else if (t.tag === DT_RPATH) rpath.push(...(await string(t.value)).split(':').filter(Boolean));
          else if (t.tag === DT_RUNPATH) runpath.push(...(await string(t.value)).split(':').filter(Boolean));
          else if (t.tag === DT_SONAME) soname = await string(t.value);
        }
      }
    }
    let isGo = false;
    let hasSymbols = false;
    let strtabSection: { offset: number; size: number } | undefined;
    if (shoff > 0 && shnum > 0 && shstrndx < shnum) {
      const sections = await read(shoff, shentsize * shnum);
      const nameOffset = (i: number) => u32(sections, i * shentsize);
      const strHeader = shstrndx * shentsize;
      const namesAt = is64 ? word(sections, strHeader + 24) : u32(sections, strHeader + 16);
      const namesSize = is64 ? word(sections, strHeader + 32) : u32(sections, strHeader + 20);
      const names = await read(namesAt, Math.min(namesSize, 1 << 16));
      for (let i = 0; i < shnum && (i + 1) * shentsize <= sections.length; i++) {
        const at = nameOffset(i);
        const end = names.indexOf(0, at);
        const name = names.subarray(at, end < 0 ? names.length : end).toString('latin1');
        if (name === '.strtab') {
          strtabSection = {
            offset: is64 ? word(sections, i * shentsize + 24) : u32(sections, i * shentsize + 16),
            size: is64 ? word(sections, i * shentsize + 32) : u32(sections, i * shentsize + 20),
          };
        }
        if (name === '.go.buildinfo' || name === '.note.go.buildid' || name === '.gopclntab') isGo = true;
        if (name === '.symtab' || name.startsWith('.debug_') || name.startsWith('.zdebug_'))
          hasSymbols = true;
      }
    }
    let cgoPackages: string[] | undefined;
    if (isGo && strtabSection && strtabSection.size < 64 << 20) {
      const text = (await read(strtabSection.offset, strtabSection.size)).toString('latin1');
      const packages = new Set<string>();
      for (const m of text.matchAll(/([\w./-]+)\._C2?func_/g)) packages.add(m[1]!);
      cgoPackages = [...packages].sort();
    }
    return {
      class: is64 ? 64 : 32,
      machine,
      type,
      ...(interpreter ? { interpreter } : {}),
      needed,
      rpath,
      runpath,
      ...(soname ? { soname } : {}),
      isStatic: interpreter === undefined && needed.length === 0,
      isGo,
      hasSymbols,
      ...(cgoPackages ? { cgoPackages } : {}),
    };
  } finally {
    await file.close();
  }
}
