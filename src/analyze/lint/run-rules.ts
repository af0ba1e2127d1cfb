import type { RunStep, Stage } from '../../plan/index.ts';
import { hasCacheMount, type Report } from './lint-context.ts';
import { argumentsOf, hasFlag, programOf, type SimpleCommand, subcommandOf } from './shell-commands.ts';

/**
 * RUN rules taken from hadolint's size- and cache-related checks (the ids are cross-referenced in
 * lint-rules.ts and docs/lint.md). Each takes one RUN's simple commands.
 */

/** Whether a command removes one of `paths` (a prefix of them: `rm -rf /var/cache/apk/*`). */
function removes(commands: readonly SimpleCommand[], paths: readonly string[], after = -1): boolean {
  return commands.some(
    (c, i) =>
      i > after &&
      programOf(c) === 'rm' &&
      argumentsOf(c).some((a) =>
        paths.some((p) => a === p || a.startsWith(`${p}/`) || a.startsWith(`${p}*`)),
      ),
  );
}

/** hadolint DL3019: `apk add` without `--no-cache` keeps the package index in /var/cache/apk. */
export function checkApkCache(
  step: RunStep,
  commands: readonly SimpleCommand[],
  report: Report,
  stage: Stage,
): void {
  if (hasCacheMount(step, /^\/(var\/cache\/apk|etc\/apk\/cache)\/?$/)) return;
  const add = commands.findIndex(
    (c) => programOf(c) === 'apk' && subcommandOf(c) === 'add' && !hasFlag(c, '--no-cache'),
  );
  if (add < 0 || removes(commands, ['/var/cache/apk'], add)) return;
  report(
    'apk-cache-left',
    step.location,
    "apk add without --no-cache keeps apk's package index (/var/cache/apk) in this layer",
    'apk add --no-cache … (no apk update needed), or mount the cache: RUN --mount=type=cache,target=/var/cache/apk apk add …',
    stage,
  );
}

/** Package managers whose caches hadolint DL3032 (yum), DL3040 (dnf, microdnf) and DL3036 (zypper) check. */
const MANAGERS: readonly {
  readonly programs: readonly string[];
  readonly installs: readonly string[];
  readonly clean: (c: SimpleCommand) => boolean;
  readonly cacheDirs: readonly string[];
  readonly cleanCommand: string;
}[] = [
  {
    programs: ['yum'],
    installs: ['install', 'groupinstall', 'localinstall', 'update', 'upgrade', 'reinstall'],
    clean: (c) => programOf(c) === 'yum' && subcommandOf(c) === 'clean',
    cacheDirs: ['/var/cache/yum'],
    cleanCommand: 'yum clean all',
  },
  {
    programs: ['dnf', 'microdnf'],
    installs: [
      'install',
      'in',
      'upgrade',
      'up',
      'update',
      'upgrade-minimal',
      'up-min',
      'reinstall',
      'rei',
      'groupinstall',
    ],
    clean: (c) => ['dnf', 'microdnf'].includes(programOf(c)) && subcommandOf(c) === 'clean',
    cacheDirs: ['/var/cache/dnf', '/var/cache/yum', '/var/cache/libdnf5'],
    cleanCommand: 'dnf clean all',
  },
  {
    programs: ['zypper'],
    installs: ['install', 'in', 'update', 'up', 'dist-upgrade', 'dup', 'patch'],
    clean: (c) => programOf(c) === 'zypper' && ['clean', 'cc'].includes(subcommandOf(c) ?? ''),
    cacheDirs: ['/var/cache/zypp'],
    cleanCommand: 'zypper clean --all',
  },
];

/**
 * hadolint DL3032, DL3040, DL3036: yum, dnf/microdnf or zypper installs without cleaning their
 * cache afterwards in the same RUN (or a cache mount on it) leave the downloaded packages and
 * metadata in the layer.
 */
export function checkPackageCache(
  step: RunStep,
  commands: readonly SimpleCommand[],
  report: Report,
  stage: Stage,
): void {
  for (const m of MANAGERS) {
    const install = commands.findIndex(
      (c) => m.programs.includes(programOf(c)) && m.installs.includes(subcommandOf(c) ?? ''),
    );
    if (install < 0) continue;
    const program = programOf(commands[install]!);
    const cleaned =
      commands.some((c, i) => i > install && m.clean(c)) || removes(commands, m.cacheDirs, install);
    const mounted = m.cacheDirs.some((d) =>
      hasCacheMount(step, new RegExp(`^${d.replace(/\//g, '\\/')}\\/?$`)),
    );
    if (cleaned || mounted) continue;
    report(
      'package-cache-left',
      step.location,
      `${program} ${subcommandOf(commands[install]!)} leaves ${program}'s package cache (${m.cacheDirs[0]}) in this layer`,
      `end the same RUN with && ${m.cleanCommand.replace(/^dnf/, program)}, or mount the cache: RUN --mount=type=cache,target=${m.cacheDirs[0]} …`,
      stage,
    );
  }
}

/** hadolint DL3003: `cd` in a RUN where WORKDIR would say it once for every later step. */
export function checkCd(
  step: RunStep,
  commands: readonly SimpleCommand[],
  report: Report,
  stage: Stage,
): void {
  const cd = commands.find((c) => programOf(c) === 'cd' && argumentsOf(c).length > 0);
  if (!cd) return;
  const dir = argumentsOf(cd)[0]!;
  report(
    'cd-instead-of-workdir',
    step.location,
    `RUN cd ${dir} changes directory for this RUN only; the next steps start from WORKDIR again`,
    `WORKDIR ${dir.startsWith('/') ? dir : `<absolute path of ${dir}>`}, then RUN the commands (relative paths in COPY and RUN then follow it)`,
    stage,
  );
}

/**
 * hadolint DL3046: `useradd -u <big uid>` without `-l`/`--no-log-init` makes /var/log/lastlog and
 * faillog sparse files sized by the UID; the layer tar stores them in full (gigabytes).
 */
export function checkUseradd(
  step: RunStep,
  commands: readonly SimpleCommand[],
  report: Report,
  stage: Stage,
): void {
  for (const c of commands) {
    if (programOf(c) !== 'useradd' || hasFlag(c, '-l', '--no-log-init')) continue;
    const uid = uidOf(c);
    if (uid === undefined || uid.length <= 5) continue;
    report(
      'useradd-large-uid',
      step.location,
      `useradd -u ${uid} without -l writes /var/log/lastlog and faillog as files sized by the UID, stored in full in the layer`,
      `useradd -l -u ${uid} … (--no-log-init)`,
      stage,
    );
    return;
  }
}

function uidOf(c: SimpleCommand): string | undefined {
  for (let i = 1; i < c.length; i++) {
    const w = c[i]!;
    if (w === '-u' || w === '--uid') return c[i + 1];
    if (w.startsWith('--uid=')) return w.slice('--uid='.length);
    if (/^-u\d+$/.test(w)) return w.slice(2);
  }
  return undefined;
}
