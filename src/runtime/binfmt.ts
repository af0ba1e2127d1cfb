import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isErrnoException, nativeCalls, StrataError, type StrataErrorOptions } from '../util/index.ts';
import { ELF_MACHINES, type ElfMachine, elfProgram } from './elf-machines.ts';

const execFileAsync = promisify(execFile);

/** Where the kernel's binfmt_misc filesystem lives (Documentation/admin-guide/binfmt-misc.rst). */
export const BINFMT_MISC_DIR = '/proc/sys/fs/binfmt_misc';

/** Where Debian's qemu-user-static describes its handlers (one file per emulator, binfmt-support's format). */
export const DEBIAN_BINFMTS_DIR = '/usr/share/binfmts';

/** The hint for a machine without Debian's emulators. */
export const QEMU_INSTALL_HINT = 'apt-get install qemu-user-static';

/** One handler registered with binfmt_misc, as its file under /proc/sys/fs/binfmt_misc shows it. */
export interface BinfmtHandler {
  /** The entry's name (`qemu-aarch64`). */
  readonly name: string;
  readonly enabled: boolean;
  readonly interpreter: string;
  /**
   * The flags (binfmt-misc.rst): `F` opens the interpreter when the handler is registered, so it
   * runs in any mount namespace — a container's rootfs need not hold it; `P` keeps argv[0]; `O`
   * passes the program as an open file; `C` takes credentials from the program (set-uid works).
   */
  readonly flags: string;
  /** A magic handler's offset, magic and mask; absent for an extension handler. */
  readonly magic?: { readonly offset: number; readonly bytes: Buffer; readonly mask: Buffer };
  /** An extension handler's file name extension. */
  readonly extension?: string;
}

/** A handler Debian's qemu-user-static ships, from its `/usr/share/binfmts/qemu-<name>` file. */
export interface DebianBinfmtSpec {
  /** The file's name, also the handler's name when registered (`qemu-aarch64`). */
  readonly name: string;
  readonly interpreter: string;
  readonly offset: number;
  readonly magic: Buffer;
  readonly mask: Buffer;
  /** `preserve yes`: the interpreter expects argv[0] kept (Debian's `*-binfmt-P` wrappers do). */
  readonly preserve: boolean;
  /** The OCI architecture whose programs it matches, when it is one strata knows. */
  readonly architecture?: string;
}

/** binfmt_misc cannot be read or changed: not mounted and not mountable, or no permission. */
export class BinfmtError extends StrataError {
  constructor(message: string, options: StrataErrorOptions = {}) {
    super('BINFMT_FAILED', message, options);
  }
}

/** Debian's qemu-user-static is not installed (no `/usr/share/binfmts/qemu-*` or emulator). */
export class QemuNotInstalledError extends StrataError {
  constructor(message: string, options: StrataErrorOptions = {}) {
    super('QEMU_NOT_INSTALLED', message, {
      hint: `install QEMU's user-mode emulators: ${QEMU_INSTALL_HINT}`,
      ...options,
    });
  }
}

/** `\x7f\x45…` or hex (`7f45…`) as bytes; binfmt_misc's and binfmt-support's two spellings. */
function parseEscapedBytes(text: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; ) {
    if (text[i] === '\\' && text[i + 1] === 'x') {
      bytes.push(Number.parseInt(text.slice(i + 2, i + 4), 16));
      i += 4;
    } else if (text[i] === '\\' && text[i + 1] === '\\') {
      bytes.push(0x5c);
      i += 2;
    } else {
      bytes.push(text.charCodeAt(i));
      i += 1;
    }
  }
  return Buffer.from(bytes);
}

/** Parses one handler's file under /proc/sys/fs/binfmt_misc (fs/binfmt_misc.c, entry_status). */
export function parseBinfmtEntry(name: string, text: string): BinfmtHandler {
  let enabled = false;
  let interpreter = '';
  let flags = '';
  let offset = 0;
  let magic: Buffer | undefined;
  let mask: Buffer | undefined;
  let extension: string | undefined;
  for (const line of text.split('\n')) {
    if (line === 'enabled') enabled = true;
    else if (line.startsWith('interpreter ')) interpreter = line.slice('interpreter '.length);
    else if (line.startsWith('flags:')) flags = line.slice('flags:'.length).trim();
    else if (line.startsWith('offset ')) offset = Number(line.slice('offset '.length));
    else if (line.startsWith('magic ')) magic = Buffer.from(line.slice('magic '.length), 'hex');
    else if (line.startsWith('mask ')) mask = Buffer.from(line.slice('mask '.length), 'hex');
    else if (line.startsWith('extension ')) extension = line.slice('extension '.length);
  }
  return {
    name,
    enabled,
    interpreter,
    flags,
    // A magic handler without a mask matches its magic exactly.
    ...(magic ? { magic: { offset, bytes: magic, mask: mask ?? Buffer.alloc(magic.length, 0xff) } } : {}),
    ...(extension !== undefined ? { extension } : {}),
  };
}

/** True when `handler` would run `program` (the kernel's check: `(byte & mask) == magic` at offset). */
export function handlerMatches(handler: BinfmtHandler, program: Uint8Array): boolean {
  const m = handler.magic;
  if (!m || m.offset + m.bytes.length > program.length) return false;
  for (let i = 0; i < m.bytes.length; i++)
    if (((program[m.offset + i] ?? 0) & (m.mask[i] ?? 0xff)) !== ((m.bytes[i] ?? 0) & (m.mask[i] ?? 0xff)))
      return false;
  return true;
}

/**
 * The architecture a magic is for: the one of {@link ELF_MACHINES} whose programs it runs, when
 * exactly one (a magic that matches several — a bare `\x7fELF` — is for none in particular).
 */
function architectureOf(matches: (program: Uint8Array) => boolean): ElfMachine | undefined {
  const found = ELF_MACHINES.filter((m) => matches(elfProgram(m)));
  return found.length === 1 ? found[0] : undefined;
}

/** True when binfmt_misc is mounted at `dir` (its `status` file is there). */
export function binfmtMounted(dir = BINFMT_MISC_DIR): boolean {
  return existsSync(join(dir, 'status'));
}

/**
 * Mounts binfmt_misc at `dir` when it is not mounted (as systemd's proc-sys-fs-binfmt_misc
 * automount would), and leaves it mounted: it is the system's own place for it, and handlers
 * registered there stay registered whether it is mounted or not. Needs root (CAP_SYS_ADMIN).
 */
export async function ensureBinfmtMounted(dir = BINFMT_MISC_DIR): Promise<void> {
  if (binfmtMounted(dir)) return;
  try {
    const native = nativeCalls();
    if (native) native.mount('binfmt_misc', dir, 'binfmt_misc', 0, null);
    else await execFileAsync('mount', ['-t', 'binfmt_misc', 'binfmt_misc', dir]);
  } catch (error) {
    throw new BinfmtError(`cannot mount binfmt_misc at ${dir}`, {
      cause: error,
      hint: `run as root, or mount it: mount -t binfmt_misc binfmt_misc ${dir}`,
    });
  }
}

/**
 * The registered handlers, by name, and whether binfmt_misc as a whole is enabled. Mounts
 * binfmt_misc first when `mount` is set and it is not mounted (`'try'`: if it can be mounted);
 * otherwise an unmounted binfmt_misc reads as `undefined` (its handlers cannot be seen, though
 * they may be registered).
 */
export async function readBinfmtHandlers(
  options: { readonly dir?: string; readonly mount?: boolean | 'try' } = {},
): Promise<{ readonly enabled: boolean; readonly handlers: readonly BinfmtHandler[] } | undefined> {
  const dir = options.dir ?? BINFMT_MISC_DIR;
  if (!binfmtMounted(dir)) {
    if (!options.mount) return undefined;
    try {
      await ensureBinfmtMounted(dir);
    } catch (error) {
      // `try`: where it cannot be mounted (root without CAP_SYS_ADMIN, as in an unprivileged
      // container), binfmt_misc reads as not mounted, as it would for a user.
      if (options.mount === 'try' && error instanceof BinfmtError) return undefined;
      throw error;
    }
  }
  const enabled = (await readFile(join(dir, 'status'), 'utf8')).trim() === 'enabled';
  const handlers: BinfmtHandler[] = [];
  for (const name of (await readdir(dir)).sort()) {
    if (name === 'register' || name === 'status') continue;
    try {
      handlers.push(parseBinfmtEntry(name, await readFile(join(dir, name), 'utf8')));
    } catch (error) {
      // A handler removed between readdir and readFile is simply gone.
      if (!isErrnoException(error, 'ENOENT')) throw error;
    }
  }
  return { enabled, handlers };
}

/** The OCI architecture of a registered handler, when it is an ELF handler for one strata knows. */
export function handlerArchitecture(handler: BinfmtHandler): string | undefined {
  return architectureOf((program) => handlerMatches(handler, program))?.architecture;
}

/**
 * Parses one of Debian's binfmt-support files (`package`, `interpreter`, `magic`, `offset`, `mask`,
 * `credentials`, `fix_binary`, `preserve` lines; binfmt-support's update-binfmts(8) format).
 */
export function parseDebianBinfmt(name: string, text: string): DebianBinfmtSpec {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const space = line.indexOf(' ');
    if (space > 0) fields.set(line.slice(0, space), line.slice(space + 1).trim());
  }
  const interpreter = fields.get('interpreter');
  const magicText = fields.get('magic');
  if (!interpreter || !magicText)
    throw new BinfmtError(`${join(DEBIAN_BINFMTS_DIR, name)}: no interpreter or magic line`);
  const magic = parseEscapedBytes(magicText);
  const maskText = fields.get('mask');
  const mask = maskText ? parseEscapedBytes(maskText) : Buffer.alloc(magic.length, 0xff);
  const offset = Number(fields.get('offset') ?? '0');
  const spec = { name, interpreter, offset, magic, mask, preserve: fields.get('preserve') === 'yes' };
  const machine = architectureOf((program) =>
    handlerMatches(
      { name, enabled: true, interpreter, flags: '', magic: { offset, bytes: magic, mask } },
      program,
    ),
  );
  return machine ? { ...spec, architecture: machine.architecture } : spec;
}

/** The handlers Debian's qemu-user-static ships here (`/usr/share/binfmts/qemu-*`), by file name. */
export async function debianQemuBinfmts(dir = DEBIAN_BINFMTS_DIR): Promise<DebianBinfmtSpec[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.startsWith('qemu-')).sort();
  } catch (error) {
    if (isErrnoException(error, 'ENOENT')) return [];
    throw error;
  }
  return Promise.all(names.map(async (n) => parseDebianBinfmt(n, await readFile(join(dir, n), 'utf8'))));
}

/**
 * The flags strata registers a handler with: `F` always (the emulator is opened now, so it runs
 * inside a container whose rootfs has no QEMU — the reason it works for RUN steps at all), `C`
 * (implies `O`) as `tonistiigi/binfmt` does, so a set-uid program in an emulated image gets its
 * owner's credentials as it would natively, and `P` when Debian's interpreter expects argv[0]
 * preserved (its `*-binfmt-P` wrappers).
 */
export function registrationFlags(spec: DebianBinfmtSpec): string {
  return `${spec.preserve ? 'P' : ''}OCF`;
}

/** The line written to binfmt_misc's `register` file for `spec` (`:name:M:offset:magic:mask:interpreter:flags`). */
export function registrationLine(spec: DebianBinfmtSpec): string {
  // Every byte escaped: a raw ':' or '\n' in a magic would end the field.
  const escaped = (bytes: Buffer) => [...bytes].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
  return `:${spec.name}:M:${spec.offset}:${escaped(spec.magic)}:${escaped(spec.mask)}:${spec.interpreter}:${registrationFlags(spec)}`;
}

/** Registers `spec` with binfmt_misc (mounted at `dir`). Fails if a handler of its name exists. */
export async function registerBinfmt(spec: DebianBinfmtSpec, dir = BINFMT_MISC_DIR): Promise<void> {
  if (!existsSync(spec.interpreter))
    throw new QemuNotInstalledError(`the emulator ${spec.interpreter} (${spec.name}) is missing`);
  await writeControl(join(dir, 'register'), registrationLine(spec), `register ${spec.name}`);
}

/** Removes the handler `name` from binfmt_misc (writes `-1` to its file). */
export async function unregisterBinfmt(name: string, dir = BINFMT_MISC_DIR): Promise<void> {
  await writeControl(join(dir, name), '-1', `remove ${name}`);
}

/** One write(2) to a binfmt_misc control file, with the kernel's errno explained. */
async function writeControl(path: string, text: string, what: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'w');
    await handle.write(text);
  } catch (error) {
    const hint =
      isErrnoException(error, 'EACCES') || isErrnoException(error, 'EPERM')
        ? 'binfmt_misc is changed by root only: run it as root'
        : isErrnoException(error, 'EEXIST')
          ? 'a handler of that name is registered already'
          : undefined;
    throw new BinfmtError(`cannot ${what} in binfmt_misc (${path})`, { cause: error, hint });
  } finally {
    await handle?.close();
  }
}
