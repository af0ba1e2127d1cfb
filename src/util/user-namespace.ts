/**
 * Rootless operation: which user namespace strata runs in, and how a non-root user gets one.
 *
 * A non-root user's `strata build` runs in a user namespace where the user is root (uid 0) and,
 * when /etc/subuid and /etc/subgid give the user subordinate ids, ids 1…n map to that range, as
 * rootlesskit, `podman unshare`, `buildah unshare` and rootless BuildKit set it up. Inside, the
 * namespace's root may mount overlayfs (kernel ≥ 5.11), chown files to any mapped id and start runc.
 * The launcher (src/cli/launch-main.ts) enters it with util-linux's `unshare`, which has
 * `newuidmap`/`newgidmap` (Debian's `uidmap`) write the maps, and hands the CLI a description in
 * `STRATA_USERNS`; {@link currentUserNamespace} reads it back and checks it against the kernel's
 * `/proc/self/uid_map`, so a stray variable never makes real root think it is rootless.
 *
 * This file imports only Node: the launcher bundle includes it.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { delimiter, join } from 'node:path';

/** A range of ids: `start` outside the namespace, `count` ids, mapped from id 1 inside. */
export interface IdRange {
  readonly start: number;
  readonly count: number;
}

/** How a non-root user's namespace maps ids. */
export type RootlessMapping =
  | { readonly kind: 'subordinate'; readonly uids: IdRange; readonly gids: IdRange }
  | { readonly kind: 'single-id'; readonly why: string };

/** The user namespace strata runs in, as described by the launcher. */
export interface UserNamespace {
  /** The user's own uid and gid outside the namespace (root inside). */
  readonly hostUid: number;
  readonly hostGid: number;
  readonly mapping: RootlessMapping;
}

/** What the launcher does for a non-root user, or why it cannot. */
export type RootlessPlan =
  | {
      readonly kind: 'enter';
      readonly mapping: RootlessMapping;
      /** The `unshare` binary and its arguments up to (not including) the command. */
      readonly unshare: readonly string[];
    }
  | { readonly kind: 'unavailable'; readonly why: string; readonly hint: string };

/** The environment variable the launcher describes the namespace in (JSON of {@link UserNamespace}). */
export const USERNS_ENV = 'STRATA_USERNS';

let cached: { readonly value: UserNamespace | undefined } | undefined;

/**
 * The user namespace this process runs in as a rootless strata, or undefined (real root, or a
 * plain user outside any namespace). Trusted only when the kernel's uid map agrees: uid 0 inside
 * is the described host uid.
 */
export function currentUserNamespace(env: NodeJS.ProcessEnv = process.env): UserNamespace | undefined {
  if (env === process.env && cached) return cached.value;
  const value = readUserNamespace(env);
  if (env === process.env) cached = { value };
  return value;
}

function readUserNamespace(env: NodeJS.ProcessEnv): UserNamespace | undefined {
  const raw = env[USERNS_ENV];
  if (!raw || process.getuid?.() !== 0) return undefined;
  let parsed: UserNamespace;
  try {
    parsed = JSON.parse(raw) as UserNamespace;
  } catch {
    return undefined;
  }
  if (!Number.isInteger(parsed?.hostUid) || !Number.isInteger(parsed?.hostGid)) return undefined;
  const rows = uidMapRows();
  const rootRow = rows.find((row) => row.inside === 0);
  if (!rootRow || rootRow.outside !== parsed.hostUid || rootRow.count !== 1) return undefined;
  return parsed;
}

/** The rows of /proc/self/uid_map (inside, outside, count). */
function uidMapRows(): Array<{ inside: number; outside: number; count: number }> {
  let text: string;
  try {
    text = readFileSync('/proc/self/uid_map', 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .filter((row) => row.length === 3 && row.every(Number.isInteger))
    .map(([inside, outside, count]) => ({ inside: inside!, outside: outside!, count: count! }));
}

/** The uid of the user who runs strata, seen from outside any namespace strata entered. */
export function hostUid(): number | undefined {
  return currentUserNamespace()?.hostUid ?? process.getuid?.();
}

/** True for the real root of the machine (not the root of a rootless namespace). */
export function isHostRoot(): boolean {
  return hostUid() === 0;
}

/**
 * The xattr namespace overlayfs keeps its own marks in: `trusted.overlay.` for real root;
 * `user.overlay.` in a user namespace, where trusted xattrs need a capability of the initial
 * namespace and strata mounts overlays with `userxattr` (Documentation/filesystems/overlayfs.rst,
 * "Non-standard behavior" and "userxattr").
 */
export function overlayXattrPrefix(): string {
  return currentUserNamespace() ? 'user.overlay.' : 'trusted.overlay.';
}

/** The xattr that marks an overlay directory opaque, in {@link overlayXattrPrefix}'s namespace. */
export function overlayOpaqueXattr(): string {
  return `${overlayXattrPrefix()}opaque`;
}

/** True for an xattr that is overlayfs's own bookkeeping here (never part of a layer). */
export function isOverlayXattr(name: string): boolean {
  return (
    name.startsWith('trusted.overlay.') ||
    (currentUserNamespace() !== undefined && name.startsWith('user.overlay.'))
  );
}

/** The subordinate id file's ranges for a user (`name:start:count` or `uid:start:count` lines). */
export function subordinateRanges(text: string, user: { name: string; uid: number }): IdRange[] {
  const ranges: IdRange[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(':');
    if (fields.length !== 3 || line.trim().startsWith('#')) continue;
    const [owner, start, count] = fields as [string, string, string];
    if (owner !== user.name && owner !== String(user.uid)) continue;
    const range = { start: Number(start), count: Number(count) };
    if (Number.isSafeInteger(range.start) && Number.isSafeInteger(range.count) && range.count > 0)
      ranges.push(range);
  }
  return ranges;
}

/** An executable on PATH or in the usual directories, or undefined. */
export function findExecutable(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = [
    ...(env.PATH ?? '').split(delimiter).filter(Boolean),
    '/usr/bin',
    '/bin',
    '/usr/sbin',
    '/sbin',
  ];
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Why the kernel refuses unprivileged user namespaces here, or undefined when it allows them. */
function userNamespacesRefused(): { why: string; hint: string } | undefined {
  const maxNamespaces = readText('/proc/sys/user/max_user_namespaces')?.trim();
  if (maxNamespaces === '0') {
    return {
      why: 'user namespaces are disabled (user.max_user_namespaces is 0)',
      hint: 'an administrator can enable them: sysctl -w user.max_user_namespaces=15000',
    };
  }
  if (readText('/proc/sys/kernel/unprivileged_userns_clone')?.trim() === '0') {
    return {
      why: 'unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone is 0)',
      hint: 'an administrator can enable them: sysctl -w kernel.unprivileged_userns_clone=1',
    };
  }
  if (readText('/proc/sys/kernel/apparmor_restrict_unprivileged_userns')?.trim() === '1') {
    return {
      why: 'AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns is 1)',
      hint: 'an administrator can allow them: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or give node an AppArmor profile with "userns,"',
    };
  }
  return undefined;
}

/** What it takes to give `name` subordinate ids, for warnings and docs. */
function subordinateHint(name: string): string {
  return `an administrator can give ${name} 65536 ids: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${name} (or lines "${name}:100000:65536" in /etc/subuid and /etc/subgid)`;
}

/**
 * How a non-root user enters strata's user namespace here: with the user's first subordinate
 * uid and gid ranges when it has both and `newuidmap`/`newgidmap` exist, else with the user's own
 * id only (and {@link RootlessMapping} says why); or why it cannot. `STRATA_ROOTLESS=0` turns
 * rootless mode off (a non-root user's build then stops with the reason).
 */
export function planRootless(env: NodeJS.ProcessEnv = process.env): RootlessPlan {
  if (env.STRATA_ROOTLESS === '0') {
    return {
      kind: 'unavailable',
      why: 'rootless mode is turned off (STRATA_ROOTLESS=0)',
      hint: 'unset STRATA_ROOTLESS to let strata enter a user namespace',
    };
  }
  const refused = userNamespacesRefused();
  if (refused) return { kind: 'unavailable', ...refused };
  const unshare = findExecutable('unshare', env);
  if (!unshare) {
    return {
      kind: 'unavailable',
      why: 'unshare (util-linux) is not installed',
      hint: 'install util-linux (2.38 or later): apt-get install util-linux',
    };
  }
  const uid = process.getuid?.() ?? 0;
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    name = String(uid);
  }
  const user = { name, uid };
  const uids = subordinateRanges(readText('/etc/subuid') ?? '', user)[0];
  const gids = subordinateRanges(readText('/etc/subgid') ?? '', user)[0];
  const base = [unshare, '--user', '--mount', '--propagation', 'private'];
  let why: string | undefined;
  if (!uids || !gids) {
    why = `${name} has no subordinate ${!uids && !gids ? 'uids or gids' : uids ? 'gids' : 'uids'} in ${!uids && !gids ? '/etc/subuid and /etc/subgid' : uids ? '/etc/subgid' : '/etc/subuid'}; ${subordinateHint(name)}`;
  } else if (!findExecutable('newuidmap', env) || !findExecutable('newgidmap', env)) {
    why = 'newuidmap and newgidmap are not installed; install them: apt-get install uidmap';
  }
  if (why !== undefined || !uids || !gids) {
    return {
      kind: 'enter',
      mapping: { kind: 'single-id', why: why ?? 'no subordinate ids' },
      unshare: [...base, '--map-root-user'],
    };
  }
  return {
    kind: 'enter',
    mapping: { kind: 'subordinate', uids, gids },
    unshare: [
      ...base,
      `--map-users=${uids.start},1,${uids.count}`,
      `--map-groups=${gids.start},1,${gids.count}`,
      '--map-root-user',
    ],
  };
}

/** One line saying how ids are mapped, for `strata info` and warnings. */
export function describeMapping(mapping: RootlessMapping): string {
  if (mapping.kind === 'single-id') return 'rootless, single id (only root inside maps to you)';
  const { uids, gids } = mapping;
  return `rootless, subordinate ids: uids 1-${uids.count} → ${uids.start}-${uids.start + uids.count - 1}, gids 1-${gids.count} → ${gids.start}-${gids.start + gids.count - 1}`;
}

/** Whom strata acts as here: real root, rootless in its user namespace, or neither (and why). */
export type PrivilegeMode =
  | { readonly mode: 'root'; readonly description: string }
  | { readonly mode: 'rootless'; readonly description: string; readonly mapping: RootlessMapping }
  | {
      readonly mode: 'unprivileged';
      readonly description: string;
      readonly why: string;
      readonly hint: string;
    };

/** The {@link PrivilegeMode} of this process (`strata info`). */
export function privilegeMode(): PrivilegeMode {
  const namespace = currentUserNamespace();
  if (namespace) {
    const { mapping } = namespace;
    const why =
      mapping.kind === 'single-id'
        ? `: ${mapping.why}; chown to any id but 0 fails`
        : ' (/etc/subuid and /etc/subgid, mapped by newuidmap and newgidmap)';
    return { mode: 'rootless', mapping, description: `${describeMapping(mapping)}${why}` };
  }
  if (process.getuid?.() === 0) return { mode: 'root', description: 'root' };
  const plan = planRootless();
  if (plan.kind === 'unavailable') {
    return {
      mode: 'unprivileged',
      why: plan.why,
      hint: plan.hint,
      description: `not root, and rootless mode is unavailable: ${plan.why} (${plan.hint})`,
    };
  }
  return {
    mode: 'unprivileged',
    why: "this process runs outside strata's user namespace",
    hint: 'build and run enter it when started through the strata command',
    description: `not root; build and run enter a user namespace (${describeMapping(plan.mapping)})`,
  };
}
