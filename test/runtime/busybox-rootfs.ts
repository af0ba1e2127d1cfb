import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

/** Debian's busybox-static: one static binary, every applet a symlink to it. */
const BUSYBOX = '/bin/busybox';

/** The applets of the host's busybox-static. */
const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' })
  .split('\n')
  .filter((name) => name !== '' && name !== 'busybox');

/**
 * Makes a 2 MB rootfs in a temp dir: /bin/busybox plus one relative symlink per applet (busybox's
 * own `--install -s` would point them at the host path). Returns the temp dir; the rootfs is `<dir>/rootfs`.
 */
export function makeBusyboxRootfs(prefix = 'strata-runtime-'): { dir: string; rootfs: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  copyFileSync(BUSYBOX, join(rootfs, 'bin/busybox'));
  chmodSync(join(rootfs, 'bin/busybox'), 0o755);
  for (const applet of applets) symlinkSync('busybox', join(rootfs, 'bin', applet));
  return { dir, rootfs };
}

/** Removes a temp dir made by {@link makeBusyboxRootfs}, refusing to if anything is still mounted below it. */
export function removeTempDir(dir: string): void {
  const mounted = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((mountPoint) => mountPoint === dir || mountPoint.startsWith(`${dir}/`));
  if (mounted.length > 0) throw new Error(`still mounted under ${dir}: ${mounted.join(', ')}`);
  rmSync(dir, { recursive: true, force: true });
}

/** A Writable that keeps what is written, as text. */
export class Collector extends Writable {
  #chunks: Buffer[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#chunks.push(chunk);
    callback();
  }

  get text(): string {
    return Buffer.concat(this.#chunks).toString('utf8');
  }
}

/** The entries of a directory, or [] when it does not exist. */
export function listDir(path: string): string[] {
  try {
    return readdirSync(path).sort();
  } catch {
    return [];
  }
}

/** Pids of host processes whose argv is exactly `argv` (to find a container's process from outside). */
export function findProcesses(argv: readonly string[]): number[] {
  const wanted = `${argv.join('\0')}\0`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8') === wanted) pids.push(Number(entry));
    } catch {
      // the process exited while we looked
    }
  }
  return pids;
}
