import { readFile } from 'node:fs/promises';
import { formatErrorChain } from '../util/index.ts';
import { execCollect } from './oci-runtime.ts';
import { DEFAULT_CAPABILITIES, MASKED_PATHS, READONLY_PATHS } from './runtime-spec.ts';
import { defaultSeccomp } from './seccomp-profile.ts';
import {
  NETNS_PREFIX,
  namespaceMaker,
  openStepNetwork,
  type StepNetworkOptions,
  slirp4netnsPath,
} from './step-network.ts';

/** How a RUN step's default network comes about here, found by making one. */
export type StepNetworkStatus =
  | {
      /** Each RUN gets a private network namespace; outbound through slirp4netns. */
      readonly available: true;
      readonly mode: 'sandbox';
      readonly slirp4netns: { readonly path: string; readonly version: string };
      /** Who makes the namespace: strata's addon in-process, or `ip netns add`. */
      readonly namespace: 'addon' | 'ip netns';
    }
  | {
      /** The default network cannot be made here: RUN steps without `--network` fail. */
      readonly available: false;
      readonly mode: 'sandbox';
      readonly error: string;
    };

/** What a RUN step is isolated from, as it is here (docs/security.md explains each line). */
export interface StepIsolation {
  readonly network: StepNetworkStatus;
  readonly seccomp:
    | {
        readonly enabled: true;
        readonly profile: string;
        /** Syscalls the profile allows (some only with certain arguments); the rest fail with EPERM. */
        readonly allowedSyscalls: number;
      }
    | { readonly enabled: false; readonly reason: string };
  /** The namespaces each step gets (user: none — a step's root is the host's root, as under rootful BuildKit). */
  readonly namespaces: readonly string[];
  readonly userNamespace: false;
  readonly capabilities: readonly string[];
  readonly maskedPaths: readonly string[];
  readonly readonlyPaths: readonly string[];
}

/**
 * The isolation of a RUN step on this machine (for `strata info`): the default network, found by
 * making one and taking it down again, seccomp (on unless the kernel lacks it), and the spec's
 * fixed parts. What `RUN --security=insecure` and `--network=host` lift is in docs/security.md.
 */
export async function stepIsolation(options: StepNetworkOptions = {}): Promise<StepIsolation> {
  const allowed = new Set(
    defaultSeccomp({ capabilities: DEFAULT_CAPABILITIES })
      .syscalls.filter((rule) => rule.action === 'SCMP_ACT_ALLOW')
      .flatMap((rule) => rule.names),
  );
  return {
    network: await stepNetworkStatus(options),
    seccomp: (await kernelHasSeccomp())
      ? {
          enabled: true,
          profile: "Docker's default profile, built into strata",
          allowedSyscalls: allowed.size,
        }
      : { enabled: false, reason: 'the kernel has no seccomp (no Seccomp line in /proc/self/status)' },
    namespaces: ['mount', 'pid', 'ipc', 'uts', 'network'],
    userNamespace: false,
    capabilities: DEFAULT_CAPABILITIES,
    maskedPaths: MASKED_PATHS,
    readonlyPaths: READONLY_PATHS,
  };
}

async function stepNetworkStatus(options: StepNetworkOptions): Promise<StepNetworkStatus> {
  let path: string;
  try {
    path = options.slirp4netns ?? (await slirp4netnsPath());
    const network = await openStepNetwork(`${NETNS_PREFIX}net-${process.pid}-info`, options);
    await network.release();
  } catch (error) {
    return { available: false, mode: 'sandbox', error: formatErrorChain(error) };
  }
  const versionRun = await execCollect(path, ['--version']);
  const version = /version\s+(\S+)/.exec(versionRun.stdout)?.[1] ?? 'unknown version';
  return { available: true, mode: 'sandbox', slirp4netns: { path, version }, namespace: namespaceMaker() };
}

async function kernelHasSeccomp(): Promise<boolean> {
  return /^Seccomp:/m.test(await readFile('/proc/self/status', 'utf8'));
}
