/**
 * A throwaway Unix user for rootless tests (made as root, removed afterwards): with subordinate
 * ids in /etc/subuid and /etc/subgid or without, and a way to run strata (or any program) as it.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CliResult, collectOutput, REPO, STRATA_BIN } from '../support/cli.ts';

/** A test user and how to run things as it. */
export interface TestUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  /** Its subordinate range (uids and gids alike), when it has one. */
  readonly subordinate?: { readonly start: number; readonly count: number };
  /** The store strata uses for it by default: `$HOME/.local/share/strata`. */
  readonly store: string;
  /** Runs `node dist/strata.cjs args…` as the user, in its home, with a clean environment. */
  strata(args: readonly string[], options?: RunOptions): Promise<CliResult>;
  /** Spawns `strata args…` as the user and returns the child (for signals). */
  spawnStrata(args: readonly string[], options?: RunOptions): ReturnType<typeof spawn>;
  /** The pids of every process the user runs. */
  processes(): number[];
  remove(): void;
}

/** Options of {@link TestUser.strata}. */
export interface RunOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

/** Lines of /etc/subuid or /etc/subgid without the user's. */
function dropSubordinate(file: string, name: string): void {
  if (!existsSync(file)) return;
  const kept = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith(`${name}:`));
  writeFileSync(file, kept.length > 0 ? `${kept.join('\n')}\n` : '');
}

/**
 * Makes user `name` (home under /home), with `subordinate` ids or none (useradd's automatic
 * range, if login.defs makes one, is removed first so the test decides).
 */
export function createTestUser(
  name: string,
  subordinate?: { readonly start: number; readonly count: number },
): TestUser {
  if (process.getuid?.() !== 0) throw new Error('rootless tests make users: run them as root');
  try {
    execFileSync('userdel', ['-r', name], { stdio: 'ignore' }); // a leftover of a killed run
  } catch {
    // none
  }
  execFileSync('useradd', ['--create-home', '--shell', '/bin/sh', name], { stdio: 'ignore' });
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    dropSubordinate(file, name);
    if (subordinate) {
      const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
      writeFileSync(file, `${text}${name}:${subordinate.start}:${subordinate.count}\n`);
    }
  }
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  const home = `/home/${name}`;
  chmodSync(home, 0o755);
  const environment = (extra: Readonly<Record<string, string>> = {}) => ({
    PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
    HOME: home,
    USER: name,
    LOGNAME: name,
    LANG: 'C.UTF-8',
    STRATA_COMPILE_CACHE: '0',
    ...extra,
  });
  const spawnAs = (args: readonly string[], options: RunOptions = {}) =>
    spawn(
      'setpriv',
      [`--reuid=${uid}`, `--regid=${gid}`, '--init-groups', '--', process.execPath, STRATA_BIN, ...args],
      { cwd: home, env: environment(options.env), stdio: ['ignore', 'pipe', 'pipe'] },
    );
  return {
    name,
    uid,
    gid,
    home,
    ...(subordinate ? { subordinate } : {}),
    store: join(home, '.local', 'share', 'strata'),
    strata(args, options = {}) {
      const child = spawnAs(args, options);
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000);
      return collectOutput(child).finally(() => clearTimeout(timer));
    },
    spawnStrata: spawnAs,
    processes() {
      // ps exits 1 when the user runs nothing.
      const out = spawnSync('ps', ['-u', String(uid), '-o', 'pid='], {
        encoding: 'utf8',
        cwd: REPO,
      }).stdout.trim();
      return out === '' ? [] : out.split(/\s+/).map(Number);
    },
    remove() {
      for (const pid of this.processes()) {
        try {
          process.kill(pid, 'SIGKILL'); // what a failed test left running as the user
        } catch {
          // already gone
        }
      }
      // Files owned by subordinate ids are removed too: userdel -r removes the home as root.
      execFileSync('userdel', ['-r', name], { stdio: 'ignore' });
      for (const file of ['/etc/subuid', '/etc/subgid']) dropSubordinate(file, name);
    },
  };
}

/**
 * Makes /dev/net/tun usable by any user, as Debian's and systemd's udev rules leave it (0666;
 * slirp4netns opens it from the user namespace), and returns the undo. Machines without udev
 * (this one) may have it 0600.
 */
export function openTunDevice(): () => void {
  const mode = statSync('/dev/net/tun').mode & 0o777;
  if (mode === 0o666) return () => undefined;
  chmodSync('/dev/net/tun', 0o666);
  return () => chmodSync('/dev/net/tun', mode);
}
