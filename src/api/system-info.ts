import { join } from 'node:path';
import { formatPlatform, hostPlatform } from '../oci/index.ts';
import {
  type CheckedPlatformSupport,
  cgroupLayout,
  chooseIsolation,
  chrootUnavailableReason,
  findRuntime,
  type IsolationMode,
  processIsolationFacts,
  type StepIsolation,
  stepIsolation,
  supportedPlatforms,
} from '../runtime/index.ts';
import { openSnapshotter, overlaySupported } from '../snapshot/index.ts';
import type { Store } from '../store/index.ts';
import { formatErrorChain, nativeCallsStatus, type PrivilegeMode, privilegeMode } from '../util/index.ts';
import { processSettings, type StrataSettings } from './settings.ts';

/** What `strata info` reports. */
export interface SystemInfo {
  readonly version: string;
  readonly node: string;
  readonly platform: string;
  readonly root: string;
  /** Root, rootless (and how ids are mapped), or neither and why rootless mode is unavailable. */
  readonly privileges: PrivilegeMode;
  readonly snapshotter: { readonly kind: 'overlay' | 'native'; readonly reason: string };
  /** How mounts are made: mount(2) through strata's addon, or the mount programs (and why). */
  readonly mounts: string;
  readonly runtime:
    | { readonly name: string; readonly path: string; readonly version: string; readonly mode: string }
    | { readonly error: string };
  readonly cgroups: string;
  /** What a RUN step is isolated from here: its network (probed), seccomp, namespaces, capabilities. */
  readonly isolation: StepIsolation;
  /**
   * The isolation mode `strata build` uses here by default (`--isolation`, runtime/isolation-mode.ts),
   * why when it is not `oci`, and whether `--isolation=chroot` can run here (undefined: it can).
   */
  readonly isolationMode: {
    readonly mode: IsolationMode;
    readonly reason?: string;
    readonly chrootUnavailable?: string;
  };
  /**
   * Every platform strata knows and how this machine runs it: natively, emulated through a
   * binfmt_misc handler (its interpreter and flags), or not (why, and the fix). Each is probed
   * with a small test program.
   */
  readonly platforms: readonly CheckedPlatformSupport[];
}

/**
 * `strata info`: the store, the snapshotter in use and why (overlay when an overlay mount works,
 * native otherwise, or what STRATA_SNAPSHOTTER forces), the OCI runtime the builds use and its
 * mode, the cgroup layout, the host platform, and the isolation RUN steps get (the default
 * network is probed by making one), and the platforms RUN steps can run here (natively or through
 * QEMU's binfmt_misc handlers).
 */
export async function systemInfo(
  store: Store,
  version: string,
  settings: StrataSettings = processSettings(),
): Promise<SystemInfo> {
  const forced = settings.snapshotter;
  const snapshotter = openSnapshotter(store.root, forced);
  const reason =
    forced && forced !== 'auto'
      ? `forced by STRATA_SNAPSHOTTER=${forced}`
      : overlaySupported(join(store.root, 'snapshots'))
        ? 'overlay mounts work here'
        : 'overlay mounts are not possible here (no privileges or no overlayfs): copying instead';
  let runtime: SystemInfo['runtime'];
  try {
    const info = await findRuntime({
      stateDir: join(store.root, 'runtime'),
      ...(settings.runtime ? { runtime: settings.runtime } : {}),
    });
    runtime = { name: info.flavour, path: info.path, version: info.version, mode: info.mode };
  } catch (error) {
    runtime = { error: formatErrorChain(error) };
  }
  return {
    version,
    node: process.version,
    platform: formatPlatform(hostPlatform()),
    root: store.root,
    privileges: privilegeMode(),
    snapshotter: { kind: snapshotter.kind, reason },
    mounts: nativeCallsStatus().startsWith('native addon ')
      ? `system calls through ${nativeCallsStatus()}`
      : `mount(8) and umount(8): ${nativeCallsStatus()}`,
    runtime,
    cgroups: (await cgroupLayout()).layout,
    isolation: await stepIsolation(),
    isolationMode: await isolationMode(),
    // As root, binfmt_misc is mounted to be read when it is not (as systemd's automount would).
    platforms: await supportedPlatforms({ probe: true, mount: process.getuid?.() === 0 }),
  };
}

async function isolationMode(): Promise<SystemInfo['isolationMode']> {
  const choice = chooseIsolation('default', await processIsolationFacts());
  const chrootUnavailable = await chrootUnavailableReason();
  return {
    mode: choice.mode,
    ...(choice.reason ? { reason: choice.reason } : {}),
    ...(chrootUnavailable ? { chrootUnavailable } : {}),
  };
}
