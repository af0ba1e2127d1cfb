/**
 * How the launcher runs a command rootless: as a parent that starts the CLI again in a new user
 * and mount namespace, where the user is root, and waits for it — rootlesskit's and `buildah
 * unshare`'s shape (a parent outside, a child inside whose maps were written by newuidmap and
 * newgidmap, which only a process outside may run). util-linux's `unshare` does the namespace
 * part: it unshares, has newuidmap/newgidmap write the maps (subordinate ids) or writes the single
 * id map itself, and execs Node on the launcher. Part of the launcher bundle: Node and
 * user-namespace.ts only.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';
import { planRootless, type RootlessPlan, USERNS_ENV, type UserNamespace } from '../util/user-namespace.ts';

/**
 * The commands that unpack layers with their owners, mount overlays, run containers or remove
 * what those made (files owned by subordinate ids, which the user cannot remove from outside), and
 * `info`, which then reports what those commands find.
 */
const NAMESPACED_COMMANDS = new Set(['build', 'run', 'prune', 'du', 'store', 'slim', 'info']);

/** The fd a child reports on that it started (so the parent can tell unshare's failure from the command's). */
const READY_FD_ENV = 'STRATA_USERNS_READY_FD';

let plan: RootlessPlan | undefined;

/**
 * True when `command` (with `argv`), run by this non-root user, must enter strata's user namespace
 * and can. `build --check` (`--call check`) only plans: it runs as it is.
 */
export function needsUserNamespace(command: string, argv: readonly string[]): boolean {
  if (process.getuid?.() === 0 || !NAMESPACED_COMMANDS.has(command)) return false;
  if (command === 'build' && onlyChecks(argv)) return false;
  plan = planRootless();
  // Unavailable: the command runs as it is and explains (cli-context.ts requireRoot).
  return plan.kind === 'enter';
}

/** `--check`, `--call=check` or `--call check` among the arguments (a mistaken guess only costs a namespace). */
function onlyChecks(argv: readonly string[]): boolean {
  return argv.some(
    (arg, i) => arg === '--check' || arg === '--call=check' || (arg === '--call' && argv[i + 1] === 'check'),
  );
}

/** In the child: tells the parent the CLI started inside the namespace. */
export function reportReady(): void {
  if (process.env[READY_FD_ENV] !== '3') return;
  delete process.env[READY_FD_ENV];
  try {
    writeSync(3, 'r');
    closeSync(3);
  } catch {
    // the parent is gone; the command runs on and its output says the rest
  }
}

/**
 * Runs the launcher at `launcher` with `argv` (which runs `command`) in a new user and mount
 * namespace and mirrors its exit: the same status, or the same signal.
 */
export function enterUserNamespace(launcher: string, argv: readonly string[], command: string): void {
  const entry = plan?.kind === 'enter' ? plan : planRootless();
  if (entry.kind !== 'enter') throw new Error('enterUserNamespace: no user namespace to enter');
  const { mapping } = entry;
  // `info` says the same in its mode line.
  if (mapping.kind === 'single-id' && command !== 'info') {
    process.stderr.write(
      `strata: warning: rootless with a single id: ${mapping.why}\n` +
        'strata: warning: only root maps to you: layers with files owned by another user cannot be unpacked, and chown to another user in RUN fails\n',
    );
  }
  const described: UserNamespace = {
    hostUid: process.getuid?.() ?? 0,
    hostGid: process.getgid?.() ?? 0,
    mapping,
  };
  const [unshare, ...args] = entry.unshare;
  const child = spawn(unshare!, [...args, '--', process.execPath, ...process.execArgv, launcher, ...argv], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    env: { ...process.env, [USERNS_ENV]: JSON.stringify(described), [READY_FD_ENV]: '3' },
  });
  let started = false;
  const ready = child.stdio[3];
  ready?.on('data', () => {
    started = true;
  });
  ready?.on('error', () => undefined); // the child closing its end early is reported by its exit
  const forwarded = forwardSignals(child);
  child.on('error', (error) => {
    process.stderr.write(`strata: cannot start ${unshare}: ${error.message}\n`);
    process.exitCode = 1;
  });
  child.on('close', (code, signal) => {
    for (const [name, handler] of forwarded) process.off(name, handler);
    if (!started && code !== 0) {
      process.stderr.write(
        `strata: could not enter a user namespace for rootless mode (${unshare} ${args.join(' ')} failed${code === null ? '' : ` with status ${code}`}; its message is above)\n` +
          'hint: see docs/rootless.md; `strata info` shows what rootless mode finds here\n',
      );
    }
    if (signal) process.kill(process.pid, signal);
    else process.exitCode = code ?? 1;
  });
}

/**
 * Passes the stopping signals this parent gets on to the child. Ctrl-C in a terminal already
 * reaches the child (same process group), and a second SIGINT would make the CLI exit without
 * cleaning up (interrupts.ts): so SIGINT is passed on only when no standard stream is a terminal.
 */
function forwardSignals(child: ChildProcess): Array<[NodeJS.Signals, () => void]> {
  const fromTerminal = process.stdin.isTTY || process.stdout.isTTY || process.stderr.isTTY;
  const handlers: Array<[NodeJS.Signals, () => void]> = [];
  for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const) {
    const handler = () => {
      if (name === 'SIGINT' && fromTerminal) return;
      child.kill(name);
    };
    process.on(name, handler);
    handlers.push([name, handler]);
  }
  return handlers;
}
