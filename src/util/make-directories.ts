import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isErrnoException } from './errors.ts';

/**
 * `mkdir -p` that cannot hang: creates `path` and its missing parents, each with a plain mkdir(2)
 * (`mode` for `path` itself, the umask's for parents), and rejects with the system error of the
 * first one that fails. Node 20's `mkdir(path, { recursive: true })` loops forever where mkdir(2)
 * says ENOENT although the parent exists — under /proc or /sys (`-o type=local,dest=/proc/x` or
 * `STRATA_ROOT=/proc/x` hung at 70% CPU) — so paths a user names go through this instead.
 */
export async function makeDirectories(path: string, options: { readonly mode?: number } = {}): Promise<void> {
  const target = resolve(path);
  const missing: string[] = [];
  for (let at = target; ; ) {
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(at)).isDirectory();
    } catch (error) {
      // ENOENT: missing; ENOTDIR: a component above is a file. Walk up to the first that exists.
      if (!isErrnoException(error, 'ENOENT') && !isErrnoException(error, 'ENOTDIR')) throw error;
      const parent = dirname(at);
      if (parent === at) throw error;
      missing.unshift(at);
      at = parent;
      continue;
    }
    if (isDirectory) break;
    const error = new Error(`ENOTDIR: not a directory, mkdir '${target}' (${at} is not a directory)`);
    throw Object.assign(error, { code: 'ENOTDIR', errno: -20, path: at, syscall: 'mkdir' });
  }
  for (const dir of missing) {
    try {
      await mkdir(dir, { mode: dir === target ? (options.mode ?? 0o777) : 0o777 });
    } catch (error) {
      if (
        isErrnoException(error, 'EEXIST') &&
        (await stat(dir).then(
          (s) => s.isDirectory(),
          () => false,
        ))
      )
        continue; // made meanwhile by someone else
      throw error;
    }
  }
}
