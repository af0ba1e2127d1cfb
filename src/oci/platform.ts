import { InvalidInputError } from '../util/index.ts';

/** A platform as the OCI image index describes one (image-index.md, "platform"). */
export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
  readonly 'os.version'?: string;
  readonly 'os.features'?: readonly string[];
}

const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  x86: '386',
  i386: '386',
  i686: '386',
  aarch64: 'arm64',
  armhf: 'arm',
  armel: 'arm',
};

/**
 * Normalises a platform the way containerd's `platforms.Normalize` (and so Docker and BuildKit)
 * do: architecture aliases (`x86_64` → `amd64`, `aarch64` → `arm64`), `arm64` drops the default
 * variant `v8`, `arm` defaults to `v7`, `amd64` drops `v1`, and the OS is lowercased.
 */
export function normalizePlatform(platform: Platform): Platform {
  const os = platform.os.toLowerCase();
  let architecture = platform.architecture.toLowerCase();
  let variant = platform.variant?.toLowerCase();
  architecture = ARCH_ALIASES[architecture] ?? architecture;
  if (platform.architecture.toLowerCase() === 'armhf') variant ??= 'v7';
  if (platform.architecture.toLowerCase() === 'armel') variant ??= 'v6';
  if (architecture === 'arm64' && (variant === 'v8' || variant === '8')) variant = undefined;
  if (architecture === 'arm') {
    if (variant === undefined || variant === '7') variant = 'v7';
    else if (/^\d$/.test(variant)) variant = `v${variant}`;
  }
  if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  const out: { -readonly [K in keyof Platform]: Platform[K] } = { os, architecture };
  if (variant) out.variant = variant;
  if (platform['os.version']) out['os.version'] = platform['os.version'];
  if (platform['os.features']) out['os.features'] = platform['os.features'];
  return out;
}

/**
 * Parses `os[/arch[/variant]]` or `arch[/variant]` (the `--platform` flag). A lone architecture
 * means linux; `local` means the host.
 */
export function parsePlatform(text: string): Platform {
  const trimmed = text.trim();
  if (trimmed === 'local') return hostPlatform();
  const parts = trimmed.split('/');
  if (parts.length > 3 || parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p))) {
    throw new InvalidInputError(`invalid platform ${JSON.stringify(text)}`, {
      hint: 'expected os/arch[/variant], e.g. linux/amd64 or linux/arm/v7',
    });
  }
  const known = new Set([
    'linux',
    'windows',
    'darwin',
    'freebsd',
    'netbsd',
    'openbsd',
    'solaris',
    'illumos',
    'aix',
    'plan9',
    'wasip1',
    'js',
  ]);
  if (parts.length === 1) {
    const only = parts[0]!.toLowerCase();
    return known.has(only)
      ? normalizePlatform({ os: only, architecture: hostPlatform().architecture })
      : normalizePlatform({ os: 'linux', architecture: only });
  }
  if (parts.length === 2 && !known.has(parts[0]!.toLowerCase())) {
    return normalizePlatform({ os: 'linux', architecture: parts[0]!, variant: parts[1]! });
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return normalizePlatform(variant ? { os, architecture, variant } : { os, architecture });
}

/** `os/arch[/variant]` for a platform. */
export function formatPlatform(platform: Platform): string {
  const p = normalizePlatform(platform);
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

/** The platform this process runs on, normalised (`linux/amd64` here). */
export function hostPlatform(): Platform {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch === 'ia32' ? '386' : process.arch;
  const variant =
    arch === 'arm'
      ? `v${(process.config.variables as { arm_version?: string }).arm_version ?? '7'}`
      : undefined;
  return normalizePlatform(
    variant
      ? { os: process.platform, architecture: arch, variant }
      : { os: process.platform, architecture: arch },
  );
}

/**
 * True when an image for `candidate` runs on `wanted`, after normalisation. An unset variant on the
 * candidate matches any variant (as containerd's matcher does for images that omit it).
 */
export function platformMatches(wanted: Platform, candidate: Platform): boolean {
  const w = normalizePlatform(wanted);
  const c = normalizePlatform(candidate);
  if (w.os !== c.os || w.architecture !== c.architecture) return false;
  if (w.variant === c.variant) return true;
  return c.variant === undefined && w.architecture !== 'arm';
}
