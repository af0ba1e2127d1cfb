import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { InvalidInputError, isErrnoException, writeFileAtomic } from '../util/index.ts';

/**
 * Checks, before any work, that a file an option names (`--html report.html`) can be written:
 * its directory exists, is a directory and is writable, and the path is not a directory. The
 * error names the option, the path and the fix, instead of an EACCES or ENOENT from the temp file
 * the write makes beside it after the work is done.
 */
export async function checkOutputFile(path: string, option: string): Promise<void> {
  const file = resolve(path);
  const dir = dirname(file);
  const cannot = (why: string, hint: string) =>
    new InvalidInputError(`${option} ${path}: cannot write ${file}: ${why}`, { hint });
  try {
    if (!(await stat(dir)).isDirectory())
      throw cannot(`${dir} is not a directory`, 'name a file in a directory');
  } catch (error) {
    if (error instanceof InvalidInputError) throw error;
    if (isErrnoException(error, 'ENOENT') || isErrnoException(error, 'ENOTDIR'))
      throw cannot(
        `directory ${dir} does not exist`,
        `create it first (mkdir -p ${dir}) or name another file`,
      );
    throw cannot(errnoText(error), 'name a file in a directory you can write');
  }
  try {
    if ((await stat(file)).isDirectory()) throw cannot('it is a directory', 'name a file, e.g. report.html');
  } catch (error) {
    if (error instanceof InvalidInputError) throw error;
    // ENOENT: it does not exist yet, as expected; anything else shows in the access check below
  }
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw cannot(errnoText(error), 'name a file in a directory you can write');
  }
}

/** Writes `data` to `path` atomically, with {@link checkOutputFile}'s errors should it still fail. */
export async function writeOutputFile(
  path: string,
  data: string | Uint8Array,
  option: string,
): Promise<void> {
  try {
    await writeFileAtomic(path, data);
  } catch (error) {
    if (!isErrnoException(error)) throw error;
    throw new InvalidInputError(`${option} ${path}: cannot write ${resolve(path)}: ${errnoText(error)}`, {
      hint: 'name a file in a directory you can write',
    });
  }
}

function errnoText(error: unknown): string {
  if (!isErrnoException(error)) return String(error);
  switch (error.code) {
    case 'EROFS':
      return 'read-only file system';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOSPC':
      return 'no space left on the device';
    default:
      return error.code ?? error.message;
  }
}
