import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The repository root (tests run from anywhere). */
export const REPO = resolve(import.meta.dirname, '..', '..');
/** The bundled CLI that `npm test` builds first. */
export const STRATA_BIN = join(REPO, 'dist', 'strata.cjs');
/** The `strata` command as installed (a shell script that runs {@link STRATA_BIN}). */
export const STRATA_COMMAND = join(REPO, 'bin', 'strata');

/** What a CLI run produced. */
export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The process's pid (runStrata's runs). */
  readonly pid?: number;
}

/** Runs `strata args…` as a real subprocess. */
export function runStrata(
  args: readonly string[],
  options: {
    root?: string;
    input?: Buffer | string;
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    timeoutMs?: number;
    /** Run bin/strata, the installed command, rather than `node dist/strata.cjs`. */
    command?: boolean;
    /** Sees standard error as it arrives (to act on progress while the command runs). */
    onStderr?: (text: string) => void;
  } = {},
): Promise<CliResult> {
  const env = { ...process.env, ...options.env, ...(options.root ? { STRATA_ROOT: options.root } : {}) };
  const spawnOptions: SpawnOptions = { env, cwd: options.cwd ?? REPO, stdio: ['pipe', 'pipe', 'pipe'] };
  const child = options.command
    ? spawn(STRATA_COMMAND, args, spawnOptions)
    : spawn(process.execPath, [STRATA_BIN, ...args], spawnOptions);
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  child.stdin!.on('error', () => undefined); // the child may exit before reading all input
  child.stdin!.end(options.input ?? '');
  const onStderr = options.onStderr;
  if (onStderr) child.stderr!.on('data', (chunk: Buffer) => onStderr(chunk.toString('utf8')));
  return collectOutput(child).finally(() => clearTimeout(timer));
}

/** A child's standard output and error, collected until it exits, with its exit status. */
export function collectOutput(child: ChildProcess): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolvePromise({
        code,
        signal,
        stdout,
        stderr,
        ...(child.pid !== undefined ? { pid: child.pid } : {}),
      }),
    );
  });
}

/** A temp directory removed by the returned cleanup. */
export function tempDir(prefix = 'strata-test-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}
