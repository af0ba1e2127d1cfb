import { normalizePlatform, type Platform } from '../oci/index.ts';

/**
 * What the kernel sees of a program for one OCI architecture: its ELF class, byte order and
 * `e_machine` (the ELF gABI's numbers), and the name QEMU and Debian's qemu-user-static give the
 * emulator (`qemu-<qemu>-static`, `/usr/share/binfmts/qemu-<qemu>`).
 */
export interface ElfMachine {
  /** The OCI architecture (`arm64`), as containerd's platforms package names it. */
  readonly architecture: string;
  /** QEMU's name for it (`aarch64`). */
  readonly qemu: string;
  readonly elfClass: 32 | 64;
  readonly littleEndian: boolean;
  /** `e_machine`. */
  readonly machine: number;
  /** `e_flags` of a program built for it (ARM's EABI version 5; 0 elsewhere). */
  readonly flags: number;
  /**
   * Machine code that calls exit(42), for the probe program ({@link probeProgram}); absent for
   * architectures strata has no probe for (their handlers are checked, not run).
   */
  readonly exit42?: readonly number[];
}

/** 32-bit little-endian words as bytes (ARM and RISC-V instructions). */
function words(...instructions: number[]): number[] {
  return instructions.flatMap((w) => [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, (w >>> 24) & 0xff]);
}

/**
 * The architectures strata can tell apart, keyed by OCI name: the ones Docker's `tonistiigi/binfmt`
 * registers (cmd/binfmt/config.go) plus the two x86 ones. The magic and mask a handler registers
 * come from Debian's `/usr/share/binfmts/qemu-*`, not from here: this table only says what a
 * program of each architecture looks like, to match against any registered handler.
 */
export const ELF_MACHINES: readonly ElfMachine[] = [
  {
    architecture: 'amd64',
    qemu: 'x86_64',
    elfClass: 64,
    littleEndian: true,
    machine: 62,
    flags: 0,
    // mov edi, 42; mov eax, 60 (exit); syscall
    exit42: [0xbf, 42, 0, 0, 0, 0xb8, 60, 0, 0, 0, 0x0f, 0x05],
  },
  {
    architecture: '386',
    qemu: 'i386',
    elfClass: 32,
    littleEndian: true,
    machine: 3,
    flags: 0,
    // mov ebx, 42; mov eax, 1 (exit); int 0x80
    exit42: [0xbb, 42, 0, 0, 0, 0xb8, 1, 0, 0, 0, 0xcd, 0x80],
  },
  {
    architecture: 'arm64',
    qemu: 'aarch64',
    elfClass: 64,
    littleEndian: true,
    machine: 183,
    flags: 0,
    // movz x0, #42; movz x8, #93 (exit); svc #0
    exit42: words(0xd2800540, 0xd2800ba8, 0xd4000001),
  },
  {
    architecture: 'arm',
    qemu: 'arm',
    elfClass: 32,
    littleEndian: true,
    machine: 40,
    flags: 0x05000000,
    // mov r0, #42; mov r7, #1 (exit); svc #0
    exit42: words(0xe3a0002a, 0xe3a07001, 0xef000000),
  },
  {
    architecture: 'riscv64',
    qemu: 'riscv64',
    elfClass: 64,
    littleEndian: true,
    machine: 243,
    flags: 0,
    // li a0, 42; li a7, 93 (exit); ecall
    exit42: words(0x02a00513, 0x05d00893, 0x00000073),
  },
  { architecture: 'ppc64le', qemu: 'ppc64le', elfClass: 64, littleEndian: true, machine: 21, flags: 0 },
  { architecture: 's390x', qemu: 's390x', elfClass: 64, littleEndian: false, machine: 22, flags: 0 },
  { architecture: 'mips64le', qemu: 'mips64el', elfClass: 64, littleEndian: true, machine: 8, flags: 0 },
  { architecture: 'mips64', qemu: 'mips64', elfClass: 64, littleEndian: false, machine: 8, flags: 0 },
  { architecture: 'loong64', qemu: 'loongarch64', elfClass: 64, littleEndian: true, machine: 258, flags: 0 },
];

/** The ELF machine of a platform's architecture, or undefined for one strata does not know. */
export function elfMachineFor(platform: Platform): ElfMachine | undefined {
  const { architecture } = normalizePlatform(platform);
  return ELF_MACHINES.find((m) => m.architecture === architecture);
}

/** Where the probe program's code starts in memory. */
const LOAD_ADDRESS = 0x400000;

/**
 * A complete static executable for `machine` (one PT_LOAD segment, no sections) whose first bytes
 * are what every program of that architecture starts with: the bytes binfmt_misc matches a
 * handler's magic against. With `exit42` code it is a program that exits with status 42 — the
 * probe that proves this machine really runs the architecture (what BuildKit's archutil does with
 * its small per-architecture binaries).
 */
export function elfProgram(machine: ElfMachine): Buffer {
  const code = Buffer.from(machine.exit42 ?? []);
  const is64 = machine.elfClass === 64;
  const headerSize = is64 ? 64 : 52;
  const phSize = is64 ? 56 : 32;
  const total = headerSize + phSize + code.length;
  const out = Buffer.alloc(total);
  const u16 = (offset: number, v: number) =>
    machine.littleEndian ? out.writeUInt16LE(v, offset) : out.writeUInt16BE(v, offset);
  const u32 = (offset: number, v: number) =>
    machine.littleEndian ? out.writeUInt32LE(v, offset) : out.writeUInt32BE(v, offset);
  const u64 = (offset: number, v: number) =>
    machine.littleEndian ? out.writeBigUInt64LE(BigInt(v), offset) : out.writeBigUInt64BE(BigInt(v), offset);
  const addr = is64 ? u64 : u32;
  // e_ident: magic, class, data, version 1, System V ABI, padding.
  out.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, machine.littleEndian ? 1 : 2, 1], 0);
  u16(16, 2); // e_type: ET_EXEC
  u16(18, machine.machine);
  u32(20, 1); // e_version
  addr(24, LOAD_ADDRESS + headerSize + phSize); // e_entry
  const after = is64 ? 32 : 28;
  addr(after, headerSize); // e_phoff
  addr(after + (is64 ? 8 : 4), 0); // e_shoff
  const rest = after + (is64 ? 16 : 8);
  u32(rest, machine.flags);
  u16(rest + 4, headerSize); // e_ehsize
  u16(rest + 6, phSize); // e_phentsize
  u16(rest + 8, 1); // e_phnum
  u16(rest + 10, is64 ? 64 : 40); // e_shentsize
  // The program header: PT_LOAD of the whole file, readable and executable.
  const ph = headerSize;
  if (is64) {
    u32(ph, 1);
    u32(ph + 4, 5);
    u64(ph + 8, 0);
    u64(ph + 16, LOAD_ADDRESS);
    u64(ph + 24, LOAD_ADDRESS);
    u64(ph + 32, total);
    u64(ph + 40, total);
    u64(ph + 48, 0x1000);
  } else {
    u32(ph, 1);
    u32(ph + 4, 0);
    u32(ph + 8, LOAD_ADDRESS);
    u32(ph + 12, LOAD_ADDRESS);
    u32(ph + 16, total);
    u32(ph + 20, total);
    u32(ph + 24, 5);
    u32(ph + 28, 0x1000);
  }
  code.copy(out, headerSize + phSize);
  return out;
}
