import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatPlatform, hostPlatform, normalizePlatform, type Platform } from '../oci/index.ts';
import { StrataError } from '../util/index.ts';
import {
  type DebianBinfmtSpec,
  debianQemuBinfmts,
  handlerMatches,
  QEMU_INSTALL_HINT,
  readBinfmtHandlers,
} from './binfmt.ts';
import { ELF_MACHINES, type ElfMachine, elfMachineFor, elfProgram } from './elf-machines.ts';

/** How this machine runs programs of one platform, and why. */
export type PlatformSupport =
  | {
      readonly platform: string;
      readonly how: 'native';
      /** Why: the host's architecture, or the kernel's compat mode (a probe program ran). */
      readonly reason: string;
    }
  | {
      readonly platform: string;
      readonly how: 'emulated';
      readonly reason: string;
      /** The binfmt_misc handler that runs them (absent when binfmt_misc could not be read). */
      readonly handler?: {
        readonly name: string;
        readonly interpreter: string;
        readonly flags: string;
      };
    }
  | {
      readonly platform: string;
      readonly how: 'unavailable';
      readonly reason: string;
      /** What makes it available. */
      readonly hint: string;
    };

/** What {@link platformSupport} may do to find out. */
export interface PlatformSupportOptions {
  /**
   * Run a probe program of the platform (a static exit(42), {@link elfProgram}) to prove it runs,
   * as BuildKit's archutil does; `verified` in the result says it did. Without it a registered
   * handler with the F flag is trusted, and only the kernel's compat modes (386 on amd64, arm on
   * arm64) are probed.
   */
  readonly probe?: boolean;
  /** Mount binfmt_misc to read it when it is not mounted (root only). */
  readonly mount?: boolean;
  /** The binfmt_misc directory (tests). */
  readonly binfmtDir?: string;
}

/** The answer, with whether a probe program really ran. */
export type CheckedPlatformSupport = PlatformSupport & { readonly verified?: boolean };

/** A RUN step's platform cannot run here, said before the step starts (not as ENOEXEC from runc). */
export class PlatformNotRunnableError extends StrataError {
  readonly platform: string;
  constructor(support: Extract<PlatformSupport, { how: 'unavailable' }>) {
    super(
      'PLATFORM_NOT_RUNNABLE',
      `cannot run ${support.platform} programs on this ${formatPlatform(hostPlatform())} machine: ${support.reason}`,
      { hint: support.hint },
    );
    this.platform = support.platform;
  }
}

/** The kernel's own compat modes: the architectures a host runs without an emulator, if built so. */
const COMPAT: Readonly<Record<string, string>> = { amd64: '386', arm64: 'arm' };

/** Runs the probe program of `machine`; true when it exited 42 (it really ran). */
async function runProbe(machine: ElfMachine): Promise<boolean> {
  if (!machine.exit42) return false;
  const dir = await mkdtemp(join(tmpdir(), 'strata-probe-'));
  try {
    const file = join(dir, `probe-${machine.architecture}`);
    await writeFile(file, elfProgram(machine));
    await chmod(file, 0o755);
    const code = await new Promise<number | null>((resolve) => {
      // Any failure (ENOEXEC, which execvp turns into /bin/sh's error, a crash) is "does not run".
      execFile(file, [], { timeout: 10_000 }, (error) => {
        resolve(error ? (typeof error.code === 'number' ? error.code : null) : 0);
      });
    });
    return code === 42;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function installHint(architecture: string, emulators: readonly DebianBinfmtSpec[]): string {
  const register = `strata binfmt --install ${architecture}`;
  if (emulators.some((s) => s.architecture === architecture))
    return `register QEMU's emulator for it (as root): ${register}`;
  if (emulators.length === 0)
    return `install QEMU's emulators and register the one for it (as root): ${QEMU_INSTALL_HINT} && ${register}`;
  return architecture === '386' && hostPlatform().architecture === 'amd64'
    ? "a kernel built with IA32 emulation (CONFIG_IA32_EMULATION) runs them; Debian's qemu-user-static has no i386 handler on amd64"
    : `Debian's qemu-user-static has no emulator for ${architecture} on this machine`;
}

/**
 * How this machine runs programs of `platform`: natively (the host's architecture, or a compat
 * mode the kernel has — 386 on amd64 only with IA32 emulation, which a probe decides), emulated
 * through a binfmt_misc handler (registered with the `F` flag, so it works inside a container),
 * or not at all, with the reason and the fix.
 */
export async function platformSupport(
  platform: Platform,
  options: PlatformSupportOptions = {},
): Promise<CheckedPlatformSupport> {
  const p = normalizePlatform(platform);
  const name = formatPlatform(p);
  const host = hostPlatform();
  if (p.os !== 'linux')
    return {
      platform: name,
      how: 'unavailable',
      reason: 'strata runs Linux containers only',
      hint: 'build for a linux/* platform',
    };
  if (p.architecture === host.architecture)
    return { platform: name, how: 'native', reason: "the host's own architecture" };
  const machine = elfMachineFor(p);
  if (!machine)
    return {
      platform: name,
      how: 'unavailable',
      reason: `strata knows no ELF machine for the architecture ${p.architecture}`,
      hint: `known architectures: ${ELF_MACHINES.map((m) => m.architecture).join(', ')}`,
    };
  const probe = elfProgram(machine);
  const binfmt = await readBinfmtHandlers({
    ...(options.binfmtDir ? { dir: options.binfmtDir } : {}),
    // Reading what this machine can run must not fail where binfmt_misc cannot be mounted.
    ...(options.mount ? { mount: 'try' as const } : {}),
  });
  const matching = binfmt?.enabled
    ? binfmt.handlers.filter((h) => h.enabled && handlerMatches(h, probe))
    : [];
  const fixed = matching.find((h) => h.flags.includes('F'));
  if (fixed) {
    const support = {
      platform: name,
      how: 'emulated' as const,
      reason: `binfmt_misc handler ${fixed.name} runs ${fixed.interpreter} (flags ${fixed.flags})`,
      handler: { name: fixed.name, interpreter: fixed.interpreter, flags: fixed.flags },
    };
    if (!options.probe || !machine.exit42) return support;
    if (await runProbe(machine)) return { ...support, verified: true };
    return {
      platform: name,
      how: 'unavailable',
      reason: `binfmt_misc handler ${fixed.name} is registered but a ${p.architecture} test program did not run through ${fixed.interpreter}`,
      hint: `check the emulator; re-register it: strata binfmt --uninstall ${p.architecture} && strata binfmt --install ${p.architecture}`,
      verified: true,
    };
  }
  const unfixed = matching[0];
  if (unfixed)
    return {
      platform: name,
      how: 'unavailable',
      reason:
        `binfmt_misc handler ${unfixed.name} has no F flag (flags ${unfixed.flags || 'none'}), so the kernel ` +
        `looks for ${unfixed.interpreter} inside each image's root filesystem, where it is not`,
      hint: `re-register it with the F flag (as root): strata binfmt --install ${p.architecture}`,
    };
  // No handler seen: the kernel's compat mode, or a handler in a binfmt_misc strata cannot read.
  if (COMPAT[host.architecture] === p.architecture || binfmt === undefined) {
    if (await runProbe(machine)) {
      return COMPAT[host.architecture] === p.architecture && binfmt !== undefined
        ? {
            platform: name,
            how: 'native',
            reason: `the kernel runs ${p.architecture} programs itself`,
            verified: true,
          }
        : {
            platform: name,
            how: 'emulated',
            reason: `a ${p.architecture} test program ran (binfmt_misc is not mounted, so its handler is not shown)`,
            verified: true,
          };
    }
  }
  const why =
    binfmt === undefined
      ? `binfmt_misc is not mounted at /proc/sys/fs/binfmt_misc and a ${p.architecture} test program did not run`
      : !binfmt.enabled
        ? 'binfmt_misc is disabled (its status file says so)'
        : `no binfmt_misc handler for ${p.architecture} programs is registered` +
          (COMPAT[host.architecture] === p.architecture ? ' and the kernel does not run them itself' : '');
  return {
    platform: name,
    how: 'unavailable',
    reason: why,
    hint: installHint(p.architecture, await debianQemuBinfmts()),
  };
}

/**
 * The platforms strata lists (`strata info`, `strata binfmt`): the host's, then every architecture
 * strata knows, arm as v7 (BuildKit lists arm/v6 with it; the same emulator runs both).
 */
export function knownPlatforms(): Platform[] {
  const host = hostPlatform();
  const others = ELF_MACHINES.filter((m) => m.architecture !== host.architecture).map((m) =>
    normalizePlatform({ os: 'linux', architecture: m.architecture }),
  );
  return [host, ...others];
}

/** {@link platformSupport} for every platform in {@link knownPlatforms}, probing each. */
export async function supportedPlatforms(
  options: PlatformSupportOptions = { probe: true },
): Promise<CheckedPlatformSupport[]> {
  const out: CheckedPlatformSupport[] = [];
  for (const p of knownPlatforms()) out.push(await platformSupport(p, options));
  return out;
}

/** Answers already found in this process, by platform. */
const checked = new Map<string, Promise<PlatformSupport>>();

/**
 * Fails with {@link PlatformNotRunnableError} unless this machine can run `platform`'s programs:
 * the check a RUN step makes before it starts. The host's own architecture costs nothing; another
 * is looked up once per process (binfmt_misc is mounted to read it when strata may).
 */
export async function requirePlatformRunnable(platform: Platform): Promise<PlatformSupport> {
  const p = normalizePlatform(platform);
  if (p.os === 'linux' && p.architecture === hostPlatform().architecture)
    return { platform: formatPlatform(p), how: 'native', reason: "the host's own architecture" };
  const key = formatPlatform(p);
  let answer = checked.get(key);
  if (!answer) {
    answer = platformSupport(p, { mount: process.getuid?.() === 0 });
    checked.set(key, answer);
    // A failed look-up is asked again next time.
    answer.catch(() => checked.delete(key));
  }
  const support = await answer;
  if (support.how === 'unavailable') {
    checked.delete(key);
    throw new PlatformNotRunnableError(support);
  }
  return support;
}
