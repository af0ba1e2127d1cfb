import { formatPlatform, type Platform } from '../oci/index.ts';
import type { Variable } from './build-graph.ts';

/**
 * The proxy variables BuildKit accepts as build arguments without an ARG declaration. Their values
 * reach RUN but stay out of history and cache keys (reference.md, "Predefined ARGs").
 */
export const PROXY_ARGS: readonly string[] = [
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
];

/** Build arguments BuildKit itself reads; passing them never earns an "unused" warning. */
const BUILTIN_ARGS = [
  'SOURCE_DATE_EPOCH',
  'BUILDKIT_SYNTAX',
  'BUILDKIT_INLINE_CACHE',
  'BUILDKIT_MULTI_PLATFORM',
  'BUILDKIT_CACHE_MOUNT_NS',
  'BUILDKIT_CONTEXT_KEEP_GIT_DIR',
  'BUILDKIT_SBOM_SCAN_CONTEXT',
  'BUILDKIT_SBOM_SCAN_STAGE',
];

/**
 * The automatic platform ARGs and TARGETSTAGE, in BuildKit's order (dockerfile2llb/platform.go,
 * `defaultArgs`), each replaced by a `--build-arg` of the same name when given. They live in the
 * global scope: a stage sees them only after `ARG TARGETPLATFORM` (or the like) inside it.
 */
export function predefinedArgs(options: {
  readonly buildPlatform: Platform;
  readonly targetPlatform: Platform;
  readonly targetStage: string;
  readonly overrides: ReadonlyMap<string, string>;
}): Variable[] {
  const b = options.buildPlatform;
  const t = options.targetPlatform;
  const pairs: [string, string][] = [
    ['BUILDPLATFORM', formatPlatform(b)],
    ['BUILDOS', b.os],
    ['BUILDOSVERSION', b['os.version'] ?? ''],
    ['BUILDARCH', b.architecture],
    ['BUILDVARIANT', b.variant ?? ''],
    ['TARGETPLATFORM', formatPlatform(t)],
    ['TARGETOS', t.os],
    ['TARGETOSVERSION', t['os.version'] ?? ''],
    ['TARGETARCH', t.architecture],
    ['TARGETVARIANT', t.variant ?? ''],
    ['TARGETSTAGE', options.targetStage === '' ? 'default' : options.targetStage],
  ];
  return pairs.map(([name, value]) => ({ name, value: options.overrides.get(name) ?? value }));
}

/** Whether a build argument is one BuildKit knows without an ARG declaration. */
export function isPredefinedArg(name: string): boolean {
  return (
    PROXY_ARGS.includes(name) ||
    BUILTIN_ARGS.includes(name) ||
    /^(BUILD|TARGET)(PLATFORM|OS|OSVERSION|ARCH|VARIANT)$/.test(name) ||
    name === 'TARGETSTAGE'
  );
}

/** The `--build-arg` proxy values, in sorted key order as BuildKit reads them. */
export function proxyEnvFrom(buildArgs: ReadonlyMap<string, string>): Variable[] {
  return [...buildArgs.keys()]
    .sort()
    .filter((name) => PROXY_ARGS.some((proxy) => proxy.toLowerCase() === name.toLowerCase()))
    .map((name) => ({ name, value: buildArgs.get(name)! }));
}
