import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { isErrnoException, isHostRoot, makeDirectories, StrataError } from '../util/index.ts';

/** Where the state root's path came from, so an error can say which setting to change. */
export type StoreRootOrigin = '--root' | 'STRATA_ROOT' | 'default';

/**
 * Where strata keeps its state when no `--root` is given: `$STRATA_ROOT`, else `/var/lib/strata`
 * for root, else `$XDG_DATA_HOME/strata` (default `~/.local/share/strata`), also in rootless mode
 * (root of strata's user namespace, util/user-namespace.ts).
 */
export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.STRATA_ROOT) return env.STRATA_ROOT;
  if (isHostRoot()) return '/var/lib/strata';
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'strata');
}

/** Which setting {@link defaultStoreRoot} took its answer from. */
export function defaultStoreRootOrigin(env: NodeJS.ProcessEnv = process.env): StoreRootOrigin {
  return env.STRATA_ROOT ? 'STRATA_ROOT' : 'default';
}

/** The state root cannot be used: missing and not creatable, not a directory, not writable. */
export class StoreRootError extends StrataError {
  /** The path that failed (the root itself, or the ancestor that stopped it). */
  readonly path: string;

  constructor(message: string, path: string, options: { readonly cause?: unknown; readonly hint: string }) {
    super('STORE_ROOT', message, options);
    this.path = path;
  }
}

/**
 * Makes sure `root` is a directory this process can use as its state root, creating it (0700) and
 * its missing parents (with the umask's mode) without the hang of Node's `mkdir -p` under /proc
 * ({@link makeDirectories}), and fails at once with an error naming the path, the setting it came
 * from and what to do.
 */
export async function ensureStoreRoot(root: string, origin: StoreRootOrigin = 'default'): Promise<void> {
  const absolute = resolve(root);
  const named = describeRoot(absolute, origin);
  const context: RootContext = { root: absolute, named, origin };
  try {
    await makeDirectories(absolute, { mode: 0o700 });
  } catch (error) {
    const path = isErrnoException(error) && typeof error.path === 'string' ? error.path : absolute;
    if (isErrnoException(error, 'ENOTDIR')) {
      throw new StoreRootError(
        path === absolute
          ? `${named} is not a directory`
          : `cannot create ${named}: ${path} is not a directory`,
        path,
        { hint: fixHint(origin) },
      );
    }
    throw await unusable(context, path, error);
  }
  try {
    await access(absolute, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (error) {
    throw await unusable(context, absolute, error);
  }
}

function describeRoot(root: string, origin: StoreRootOrigin): string {
  if (origin === 'default') return `state directory ${root}`;
  return `state directory ${root} (from ${origin})`;
}

function fixHint(origin: StoreRootOrigin): string {
  const how =
    origin === '--root'
      ? 'give --root a directory you can write'
      : origin === 'STRATA_ROOT'
        ? 'set STRATA_ROOT to a directory you can write'
        : 'set STRATA_ROOT or --root to a directory you can write';
  return isHostRoot() ? how : `${how}, or run strata as root`;
}

/** The root being prepared, for error messages. */
interface RootContext {
  readonly root: string;
  readonly named: string;
  readonly origin: StoreRootOrigin;
}

/** The error for `path` failing with a system error while preparing the root. */
async function unusable(context: RootContext, path: string, cause: unknown): Promise<StoreRootError> {
  const { root, named, origin } = context;
  const code = isErrnoException(cause) ? cause.code : undefined;
  const where = path === root ? '' : ` (at ${path})`;
  // For the errors it knows, the message says all the system error did and more; it is not chained.
  const hint = { hint: fixHint(origin) };
  switch (code) {
    case 'EROFS':
      return new StoreRootError(`cannot use ${named}: read-only file system${where}`, path, hint);
    case 'EACCES':
    case 'EPERM':
      return new StoreRootError(`cannot use ${named}: ${await deniedText(path)}${where}`, path, hint);
    case 'ENOENT':
      // mkdir(2) said ENOENT although the parent exists: procfs, sysfs and the like.
      return new StoreRootError(
        `cannot create ${named}: ${dirname(path)} does not allow new directories`,
        path,
        hint,
      );
    default:
      return new StoreRootError(`cannot use ${named}`, path, { cause, ...hint });
  }
}

/** "permission denied", naming the owner when the directory (or its nearest ancestor) is someone else's. */
async function deniedText(path: string): Promise<string> {
  const uid = process.getuid?.();
  for (let at = path; ; at = dirname(at)) {
    try {
      const info = await stat(at);
      if (uid !== undefined && info.uid !== uid)
        return `permission denied: ${at} belongs to user ${info.uid}, strata runs as user ${uid}`;
      return 'permission denied';
    } catch {
      if (dirname(at) === at) return 'permission denied';
      // not reachable either: look at its parent
    }
  }
}
