import { DEFAULT_PATH } from '../oci/index.ts';
import { currentUserNamespace, InvalidInputError, type UserNamespace } from '../util/index.ts';
import type { ResolvedUser } from './resolve-user.ts';
import { defaultSeccomp, type OciSeccomp } from './seccomp-profile.ts';

/**
 * The subset of an OCI runtime spec 1.0.2 `config.json` strata writes
 * (https://github.com/opencontainers/runtime-spec/blob/v1.0.2/config.md and config-linux.md).
 */
export interface RuntimeSpec {
  readonly ociVersion: '1.0.2';
  readonly process: {
    readonly terminal: boolean;
    readonly user: {
      readonly uid: number;
      readonly gid: number;
      readonly additionalGids?: readonly number[];
    };
    readonly args: readonly string[];
    readonly env: readonly string[];
    readonly cwd: string;
    readonly capabilities: {
      readonly bounding: readonly string[];
      readonly effective: readonly string[];
      readonly permitted: readonly string[];
    };
    readonly rlimits: readonly { readonly type: string; readonly hard: number; readonly soft: number }[];
    readonly noNewPrivileges: false;
  };
  readonly root: { readonly path: string; readonly readonly: false };
  readonly hostname: string;
  readonly mounts: readonly OciMount[];
  readonly linux: {
    readonly namespaces: readonly { readonly type: string; readonly path?: string }[];
    readonly devices: readonly OciDevice[];
    /** Left out rootless (no cgroup of the step's own). */
    readonly resources?: { readonly devices: readonly OciDeviceRule[] };
    readonly maskedPaths: readonly string[];
    readonly readonlyPaths: readonly string[];
    readonly seccomp?: OciSeccomp;
  };
}

/** One entry of a runtime spec's `mounts` (config.md#mounts). */
export interface OciMount {
  readonly destination: string;
  readonly type: string;
  readonly source: string;
  readonly options: readonly string[];
}

/** A device node the runtime creates in the container's /dev (config-linux.md#devices). */
export interface OciDevice {
  readonly path: string;
  readonly type: 'c' | 'b';
  readonly major: number;
  readonly minor: number;
  readonly fileMode: number;
  readonly uid: number;
  readonly gid: number;
}

/** A device cgroup rule (config-linux.md#allowed-device-list). */
export interface OciDeviceRule {
  readonly allow: boolean;
  readonly type?: 'c' | 'b' | 'a';
  readonly major?: number;
  readonly minor?: number;
  readonly access: string;
}

/** What {@link generateSpec} needs; everything has already been resolved and created on disk. */
export interface SpecOptions {
  readonly rootfs: string;
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  readonly user: ResolvedUser;
  readonly hostname: string;
  readonly network: 'sandbox' | 'host' | 'none';
  /** Give the process a pseudo-terminal (`strata run -t`); default false, as for build steps. */
  readonly terminal?: boolean;
  /** For `sandbox`: the network namespace (a file under /run/netns) the step joins. */
  readonly networkNamespace?: string;
  /** Host files bind-mounted read-only at /etc/hosts and /etc/resolv.conf. */
  readonly hostsPath: string;
  readonly resolvConfPath: string;
  /** The step's own mounts in spec form, applied after the standard ones. */
  readonly mounts?: readonly OciMount[];
  /** RLIMIT_NOFILE soft and hard value; defaults to {@link DEFAULT_NOFILE}. */
  readonly nofile?: number;
  /** `--ulimit`s: each replaces the limit of its type (RLIMIT_NOFILE's `nofile` too). */
  readonly ulimits?: readonly { readonly type: string; readonly soft: number; readonly hard: number }[];
  /**
   * `sandbox` (the default): Docker's capabilities, seccomp profile, masked paths, read-only /sys.
   * `insecure` (`RUN --security=insecure`): BuildKit's privileged step — `privilegedCapabilities`, no
   * seccomp profile, nothing masked, /sys and the cgroup filesystem writable, every device allowed.
   */
  readonly security?: 'sandbox' | 'insecure';
  /** The capabilities of an `insecure` step: the host's bounding set (`hostCapabilities`). */
  readonly privilegedCapabilities?: readonly string[];
  /**
   * The user namespace strata runs in (rootless; `currentUserNamespace()`): the spec then leaves
   * out what its root cannot do ({@link rootlessMounts}) and the device cgroup.
   */
  readonly userNamespace?: UserNamespace;
}

/**
 * The open-files limit: what a Docker or BuildKit daemon started by systemd (LimitNOFILE=infinity,
 * i.e. the kernel's default nr_open) passes on to its containers.
 */
export const DEFAULT_NOFILE = 1048576;

/** Docker's default capability set (moby oci/caps/defaults.go, containerd's `defaultUnixCaps`). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Paths hidden from the process (containerd's default spec, which BuildKit uses). */
export const MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

/** Paths the process sees read-only (containerd's default spec). */
export const READONLY_PATHS: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

const DEVICE_MODE = 0o666;

/** The standard device nodes every container gets (runc creates them even when unlisted). */
const DEVICES: readonly OciDevice[] = [
  { path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: DEVICE_MODE, uid: 0, gid: 0 },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5, fileMode: DEVICE_MODE, uid: 0, gid: 0 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7, fileMode: DEVICE_MODE, uid: 0, gid: 0 },
  { path: '/dev/random', type: 'c', major: 1, minor: 8, fileMode: DEVICE_MODE, uid: 0, gid: 0 },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9, fileMode: DEVICE_MODE, uid: 0, gid: 0 },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0, fileMode: DEVICE_MODE, uid: 0, gid: 0 },
];

/**
 * The device cgroup: deny everything, then allow the standard nodes, ptys and mknod of any node
 * (Docker's default). With CAP_MKNOD in the default set, this is what stops a step from making
 * and opening a host disk's node; runtimes running without a cgroup (crun's hybrid-mode fallback)
 * cannot enforce it, which the probe records.
 */
const DEVICE_RULES: readonly OciDeviceRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  ...DEVICES.map((d) => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access: 'rwm' })),
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' }, // /dev/console
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // /dev/ptmx
  { allow: true, type: 'c', major: 136, access: 'rwm' }, // /dev/pts/*
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' }, // /dev/net/tun
];

/**
 * Builds a step's runtime spec: the container BuildKit's runc executor makes (executor/oci/spec.go
 * over containerd's default spec) with Docker's default seccomp profile ({@link defaultSeccomp}) and
 * no AppArmor profile.
 *
 * - Namespaces: mount, pid, ipc, uts; network: a fresh one for `none`, the given path for `sandbox`
 *   (made by `openStepNetwork`), the host's for `host`. No user namespace: strata runs as root.
 * - Mounts: /proc, /dev (tmpfs), /dev/pts, /dev/shm, /dev/mqueue, /sys read-only, /sys/fs/cgroup
 *   read-only; no /run tmpfs, because a RUN step's writes to /run belong in the layer (moby/buildkit#429);
 *   /etc/hosts and /etc/resolv.conf bind-mounted read-only from per-run host files; then the step's mounts,
 *   parents before children.
 * - Process: no terminal, Docker's default capabilities, no-new-privileges off, RLIMIT_NOFILE
 *   1048576, PATH defaulted to BuildKit's and HOME to the user's passwd home when the env lacks them.
 */
export function generateSpec(options: SpecOptions): RuntimeSpec {
  const namespaces: { type: string; path?: string }[] = [
    { type: 'pid' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
  ];
  if (options.network === 'none') namespaces.push({ type: 'network' });
  if (options.network === 'sandbox') {
    if (options.networkNamespace === undefined)
      throw new InvalidInputError('a sandbox network needs the network namespace to join');
    namespaces.push({ type: 'network', path: options.networkNamespace });
  }
  const nofile = options.nofile ?? DEFAULT_NOFILE;
  const user = options.user;
  const insecure = options.security === 'insecure';
  const capabilities = insecure
    ? (options.privilegedCapabilities ?? DEFAULT_CAPABILITIES)
    : DEFAULT_CAPABILITIES;
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: options.terminal === true,
      user: {
        uid: user.uid,
        gid: user.gid,
        ...(user.additionalGids.length > 0 ? { additionalGids: user.additionalGids } : {}),
      },
      args: options.args,
      env: withDefaultEnv(options.env, user.home),
      cwd: options.cwd,
      capabilities: {
        bounding: capabilities,
        effective: capabilities,
        permitted: capabilities,
      },
      rlimits: [
        ...(options.ulimits?.some((u) => u.type === 'RLIMIT_NOFILE')
          ? []
          : [{ type: 'RLIMIT_NOFILE', hard: nofile, soft: nofile }]),
        ...(options.ulimits ?? []).map((u) => ({ type: u.type, hard: u.hard, soft: u.soft })),
      ],
      noNewPrivileges: false,
    },
    root: { path: options.rootfs, readonly: false },
    hostname: options.hostname,
    mounts: dedupMounts([
      ...(options.userNamespace
        ? rootlessMounts(standardMounts(insecure ? 'rw' : 'ro'), options.userNamespace, options.network)
        : standardMounts(insecure ? 'rw' : 'ro')),
      bindReadonly(options.resolvConfPath, '/etc/resolv.conf'),
      bindReadonly(options.hostsPath, '/etc/hosts'),
      ...sortByDepth(options.mounts ?? []),
    ]),
    linux: {
      namespaces,
      devices: DEVICES,
      // Rootless: no cgroup of the step's own to write device rules to (runc's rootless cgroup
      // manager, crun without one); the namespace's root cannot open a host device node anyway.
      ...(options.userNamespace
        ? {}
        : { resources: { devices: insecure ? [{ allow: true, access: 'rwm' }] : DEVICE_RULES } }),
      maskedPaths: insecure ? [] : MASKED_PATHS,
      readonlyPaths: insecure ? [] : READONLY_PATHS,
      // BuildKit's insecure mode: oci.WithPrivileged and seccomp/AppArmor unconfined.
      ...(insecure ? {} : { seccomp: defaultSeccomp({ capabilities }) }),
    },
  };
}

/**
 * `env` plus BuildKit's default PATH when it has none and HOME when it has none (what runc and
 * crun would set from the rootfs's passwd; set here so both runtimes agree).
 */
export function withDefaultEnv(env: readonly string[], home: string): string[] {
  const has = (name: string) => env.some((entry) => entry.startsWith(`${name}=`));
  const result = [...env];
  if (!has('PATH')) result.push(`PATH=${DEFAULT_PATH}`);
  if (!has('HOME')) result.push(`HOME=${home}`);
  return result;
}

/** The kernel filesystems every container gets (containerd's `populateDefaultUnixSpec`, minus /run). */
function standardMounts(sys: 'ro' | 'rw'): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', sys] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: [sys, 'nosuid', 'noexec', 'nodev'],
    },
  ];
}

/** `{ userNamespace }` when strata runs rootless, else nothing: spread into {@link SpecOptions}. */
export function withUserNamespace(): { userNamespace?: UserNamespace } {
  const userNamespace = currentUserNamespace();
  return userNamespace ? { userNamespace } : {};
}

/**
 * The standard mounts as the root of a user namespace can make them (what runc's
 * `specconv.ToRootless` and rootless BuildKit change):
 * - sysfs can be mounted only in a network namespace the user namespace owns: with the host's
 *   network, /sys is a read-only recursive bind of the host's /sys instead;
 * - the cgroup filesystem cannot be mounted without a cgroup namespace of the user namespace's
 *   own, and the step has no cgroup of its own: no /sys/fs/cgroup mount (with a fresh sysfs it is
 *   an empty directory, as on a host without cgroups);
 * - devpts's `gid=5` (tty) needs gid 5 mapped: left out with a single-id mapping, so ptys get the
 *   creating process's group.
 */
function rootlessMounts(
  mounts: readonly OciMount[],
  userNamespace: UserNamespace,
  network: SpecOptions['network'],
): OciMount[] {
  const result: OciMount[] = [];
  for (const mount of mounts) {
    if (mount.type === 'cgroup') continue;
    if (mount.type === 'sysfs' && network === 'host') {
      result.push({
        destination: '/sys',
        type: 'bind',
        source: '/sys',
        options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'],
      });
    } else if (mount.type === 'devpts' && userNamespace.mapping.kind === 'single-id') {
      result.push({
        ...mount,
        options: (mount.options ?? []).filter((option) => !option.startsWith('gid=')),
      });
    } else result.push(mount);
  }
  return result;
}

/** A read-only bind of a generated host file (BuildKit's `withROBind`). */
function bindReadonly(source: string, destination: string): OciMount {
  return { destination, type: 'bind', source, options: ['nosuid', 'noexec', 'nodev', 'rbind', 'ro'] };
}

/** A later mount on the same destination replaces an earlier one in its place (BuildKit's `dedupMounts`). */
function dedupMounts(mounts: readonly OciMount[]): OciMount[] {
  const result: OciMount[] = [];
  const index = new Map<string, number>();
  for (const mount of mounts) {
    const at = index.get(mount.destination);
    if (at === undefined) {
      index.set(mount.destination, result.length);
      result.push(mount);
    } else {
      result[at] = mount;
    }
  }
  return result;
}

/** Mounts with fewer path components first (stable), so a mount inside another is made after it. */
function sortByDepth(mounts: readonly OciMount[]): OciMount[] {
  const depth = (m: OciMount) => m.destination.split('/').filter((p) => p !== '').length;
  return mounts
    .map((mount, index) => ({ mount, index }))
    .sort((a, b) => depth(a.mount) - depth(b.mount) || a.index - b.index)
    .map((entry) => entry.mount);
}
