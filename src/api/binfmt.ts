import { hostPlatform, parsePlatform } from '../oci/index.ts';
import {
  BINFMT_MISC_DIR,
  BinfmtError,
  type BinfmtHandler,
  type CheckedPlatformSupport,
  DEBIAN_BINFMTS_DIR,
  type DebianBinfmtSpec,
  debianQemuBinfmts,
  ELF_MACHINES,
  elfMachineFor,
  elfProgram,
  ensureBinfmtMounted,
  handlerArchitecture,
  handlerMatches,
  QemuNotInstalledError,
  readBinfmtHandlers,
  registerBinfmt,
  registrationFlags,
  supportedPlatforms,
  unregisterBinfmt,
} from '../runtime/index.ts';
import { InvalidInputError } from '../util/index.ts';

/** A registered handler as `strata binfmt` reports it. */
export interface BinfmtHandlerInfo {
  readonly name: string;
  readonly enabled: boolean;
  readonly interpreter: string;
  readonly flags: string;
  /** The OCI architecture whose programs it runs, when it is an ELF handler for one strata knows. */
  readonly architecture?: string;
}

/** What `strata binfmt` (no flags) reports. */
export interface BinfmtStatus {
  /** Whether binfmt_misc is mounted (after strata mounted it, as root) and enabled. */
  readonly binfmtMisc: { readonly mounted: boolean; readonly enabled: boolean; readonly dir: string };
  readonly handlers: readonly BinfmtHandlerInfo[];
  /** The architectures Debian's qemu-user-static can register here (empty: not installed). */
  readonly installable: readonly string[];
  /** Every platform strata knows, and how (or whether) this machine runs it; probed. */
  readonly platforms: readonly CheckedPlatformSupport[];
}

/** What `--install` or `--uninstall` did for one architecture. */
export interface BinfmtChange {
  readonly architecture: string;
  readonly handler: string;
  readonly action: 'installed' | 'replaced' | 'unchanged' | 'removed' | 'absent';
  /** For `replaced` and `unchanged`: the flags it had; for `installed`: the flags it has now. */
  readonly flags?: string;
}

function handlerInfo(h: BinfmtHandler): BinfmtHandlerInfo {
  const architecture = handlerArchitecture(h);
  return {
    name: h.name,
    enabled: h.enabled,
    interpreter: h.interpreter,
    flags: h.flags,
    ...(architecture ? { architecture } : {}),
  };
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * `strata binfmt`: the binfmt_misc handlers registered here, what Debian's qemu-user-static could
 * register, and every platform this machine can run (a probe program of each is run). As root,
 * binfmt_misc is mounted when it is not.
 */
export async function binfmtStatus(): Promise<BinfmtStatus> {
  const binfmt = await readBinfmtHandlers(isRoot() ? { mount: 'try' } : {});
  const host = hostPlatform().architecture;
  return {
    binfmtMisc: { mounted: binfmt !== undefined, enabled: binfmt?.enabled ?? false, dir: BINFMT_MISC_DIR },
    handlers: (binfmt?.handlers ?? []).map(handlerInfo),
    installable: (await debianQemuBinfmts())
      .flatMap((s) => (s.architecture && s.architecture !== host ? [s.architecture] : []))
      .sort(),
    platforms: await supportedPlatforms({ probe: true }),
  };
}

/**
 * The OCI architectures a `--install`/`--uninstall` list names: `arm64`, `linux/arm64`, `aarch64`
 * (containerd's aliases), comma-separated; `all` is `all`.
 */
export function parseArchitectures(list: string): string[] | 'all' {
  const items = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0)
    throw new InvalidInputError('no architecture named', {
      hint: 'e.g. --install arm64,riscv64 or --install all',
    });
  if (items.includes('all')) return 'all';
  return [
    ...new Set(
      items.map((item) => {
        const { architecture } = parsePlatform(item);
        if (!elfMachineFor({ os: 'linux', architecture }))
          throw new InvalidInputError(`unknown architecture ${JSON.stringify(item)}`, {
            hint: `known architectures: ${ELF_MACHINES.map((m) => m.architecture).join(', ')}, or all`,
          });
        return architecture;
      }),
    ),
  ];
}

function requireRootFor(what: string): void {
  if (!isRoot())
    throw new BinfmtError(`strata binfmt ${what} changes the kernel's binfmt_misc handlers and needs root`, {
      hint: `run it as root, e.g. sudo strata binfmt ${what} …`,
    });
}

/**
 * `strata binfmt --install`: registers Debian's qemu-user-static emulators for `architectures`
 * with binfmt_misc (mounted first when it is not), with the flags {@link registrationFlags} gives
 * — `F` above all, so RUN steps of those platforms run inside containers. The magic and mask are
 * Debian's (`/usr/share/binfmts/qemu-*`, QEMU's qemu-binfmt-conf.sh values, the same as
 * `tonistiigi/binfmt`'s). A handler of the same name that lacks `F` (or runs another interpreter)
 * is replaced; one that is right is left alone. `all`: every architecture Debian's package has
 * here but the host's.
 */
export async function installBinfmt(
  architectures: readonly string[] | 'all',
  options: { readonly dir?: string; readonly binfmtsDir?: string } = {},
): Promise<BinfmtChange[]> {
  requireRootFor('--install');
  const dir = options.dir ?? BINFMT_MISC_DIR;
  const specs = await debianQemuBinfmts(options.binfmtsDir ?? DEBIAN_BINFMTS_DIR);
  if (specs.length === 0)
    throw new QemuNotInstalledError(
      `Debian's qemu-user-static is not installed: no emulator descriptions in ${options.binfmtsDir ?? DEBIAN_BINFMTS_DIR}`,
    );
  const host = hostPlatform().architecture;
  const wanted =
    architectures === 'all'
      ? [
          ...new Set(
            specs.flatMap((s) => (s.architecture && s.architecture !== host ? [s.architecture] : [])),
          ),
        ]
      : architectures;
  const chosen: DebianBinfmtSpec[] = [];
  for (const architecture of wanted) {
    if (architecture === host)
      throw new InvalidInputError(`${architecture} is this machine's own architecture: it needs no emulator`);
    const spec = specs.find((s) => s.architecture === architecture);
    if (!spec)
      throw new QemuNotInstalledError(
        `Debian's qemu-user-static has no emulator for ${architecture} on this ${host} machine`,
        {
          hint:
            architecture === '386' && host === 'amd64'
              ? 'Debian ships no i386 handler on amd64: a kernel with IA32 emulation runs 386 programs itself'
              : `architectures it has here: ${specs.flatMap((s) => s.architecture ?? []).join(', ')}`,
        },
      );
    chosen.push(spec);
  }
  await ensureBinfmtMounted(dir);
  const changes: BinfmtChange[] = [];
  for (const spec of chosen) {
    const current = (await readBinfmtHandlers({ dir }))?.handlers.find((h) => h.name === spec.name);
    const flags = registrationFlags(spec);
    if (current?.enabled && current.flags.includes('F') && current.interpreter === spec.interpreter) {
      changes.push({
        architecture: spec.architecture!,
        handler: spec.name,
        action: 'unchanged',
        flags: current.flags,
      });
      continue;
    }
    if (current) await unregisterBinfmt(spec.name, dir);
    await registerBinfmt(spec, dir);
    changes.push(
      current
        ? { architecture: spec.architecture!, handler: spec.name, action: 'replaced', flags: current.flags }
        : { architecture: spec.architecture!, handler: spec.name, action: 'installed', flags },
    );
  }
  return changes;
}

/**
 * `strata binfmt --uninstall`: removes every handler that runs `architectures`' programs (whoever
 * registered it, under any name); `all`: every handler for an architecture strata knows.
 */
export async function uninstallBinfmt(
  architectures: readonly string[] | 'all',
  options: { readonly dir?: string } = {},
): Promise<BinfmtChange[]> {
  requireRootFor('--uninstall');
  const dir = options.dir ?? BINFMT_MISC_DIR;
  const binfmt = await readBinfmtHandlers({ dir, mount: true });
  const handlers = binfmt?.handlers ?? [];
  const changes: BinfmtChange[] = [];
  const removed = new Set<string>();
  const wanted = architectures === 'all' ? ELF_MACHINES.map((m) => m.architecture) : architectures;
  for (const architecture of wanted) {
    const machine = elfMachineFor({ os: 'linux', architecture });
    if (!machine) continue;
    const program = elfProgram(machine);
    const matching = handlers.filter((h) => handlerMatches(h, program));
    for (const h of matching) {
      // A handler whose magic runs two architectures' programs is removed once.
      if (removed.has(h.name)) continue;
      removed.add(h.name);
      await unregisterBinfmt(h.name, dir);
      changes.push({ architecture, handler: h.name, action: 'removed', flags: h.flags });
    }
    if (matching.length === 0 && architectures !== 'all')
      changes.push({ architecture, handler: `qemu-${machine.qemu}`, action: 'absent' });
  }
  return changes;
}
