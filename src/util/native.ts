import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The system calls of strata's own addon (native/strata_native.c). Errors are Node-style (code, errno). */
export interface NativeCalls {
  /** mount(2); `data` is the filesystem's option string. */
  mount(source: string, target: string, fstype: string, flags: number, data: string | null): void;
  /** umount2(2); flags such as MNT_DETACH. */
  umount2(target: string, flags: number): void;
  /** llistxattr(2): attribute names (of the link itself for a symlink). Absent in older builds. */
  llistxattr?(path: string): string[];
  /** lgetxattr(2): the value, or null when the attribute is not set. */
  lgetxattr?(path: string, name: string): Buffer | null;
  /** lsetxattr(2). */
  lsetxattr?(path: string, name: string, value: Buffer): void;
  /** mknod(2): `mode` holds the type bits (fs.constants.S_IFCHR, …) and permissions. */
  mknod?(path: string, mode: number, major: number, minor: number): void;
  /**
   * A new regular file `target` (O_EXCL|O_NOFOLLOW: never an existing file, never through a
   * symlink) with the contents (copy_file_range) and extended attributes (but trusted.overlay.*
   * and security.selinux) of `source` (not followed), then fchown, fchmod (permission and set-id
   * bits of `mode`) and futimens on the open file.
   */
  copyFile?(
    source: string,
    target: string,
    uid: number,
    gid: number,
    mode: number,
    atimeMs: number,
    mtimeMs: number,
  ): void;
  /**
   * A new network namespace with `lo` up, as an open close-on-exec fd (unshare(CLONE_NEWNET) on a
   * thread of its own, started and awaited from libuv's pool: Node's thread is not held up);
   * the namespace lives until the fd is closed and nothing else holds it.
   */
  netNamespace?(): Promise<number>;
  /** pipe2(O_CLOEXEC): [read fd, write fd]. */
  pipe?(): [number, number];
  /**
   * posix_spawn(3) of `file` (an absolute path: throws a TypeError for any other, which
   * posix_spawn would take from the current directory) on a thread of libuv's pool (Node's thread
   * is not held up by a fork): resolves to the pid. The child's fd i is `fds[i]` (-1: /dev/null), and it inherits no other fd; signals
   * at their defaults. Reap it with {@link waitPid}.
   */
  spawnProcess?(file: string, argv: readonly string[], fds: readonly number[]): Promise<number>;
  /** waitpid(pid, WNOHANG): null while it runs, else its exit status (128+n for signal n). */
  waitPid?(pid: number): number | null;
}

/** umount2's lazy-unmount flag. */
export const MNT_DETACH = 2;
/** mount flags (linux/mount.h). */
export const MS_NOSUID = 2;
export const MS_NODEV = 4;

const ADDON = join('build', 'Release', 'strata_native.node');

let loaded: { calls?: NativeCalls; reason: string } | undefined;

/**
 * strata's native addon, loaded on first use, or undefined when it cannot be used — not built
 * (node-gyp had no compiler when the package was installed) or turned off with STRATA_NATIVE=0;
 * callers then spawn the equivalent programs. It lives in `build/Release/` at the package root:
 * one level above dist/ (the bundle) and two above src/util/ (the sources).
 */
export function nativeCalls(): NativeCalls | undefined {
  loaded ??= loadAddon();
  return loaded.calls;
}

/** How system calls are made, and why: for `strata info`. */
export function nativeCallsStatus(): string {
  loaded ??= loadAddon();
  return loaded.reason;
}

function loadAddon(): { calls?: NativeCalls; reason: string } {
  if (process.env.STRATA_NATIVE === '0') return { reason: 'turned off by STRATA_NATIVE=0' };
  const here = dirname(fileURLToPath(import.meta.url));
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  for (const root of [join(here, '..'), join(here, '..', '..')]) {
    const path = join(root, ADDON);
    try {
      return { calls: require(path) as NativeCalls, reason: `native addon ${path}` };
    } catch (error) {
      tried.push(`${path}: ${(error as { code?: string }).code ?? (error as Error).message}`);
    }
  }
  return { reason: `native addon not built (${tried.join('; ')})` };
}
