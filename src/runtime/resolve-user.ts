import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { isErrnoException, resolveInRoot } from '../util/index.ts';
import { UserNotFoundError } from './runtime-errors.ts';

/** Who a process runs as, resolved inside a rootfs. */
export interface ResolvedUser {
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups (not including `gid`), from /etc/group lines that list the user by name. */
  readonly additionalGids: readonly number[];
  /** The passwd entry's home directory, or "/" when there is none (runc's default for HOME). */
  readonly home: string;
}

interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

/** The largest id runc accepts (moby/sys/user's maxID). */
const MAX_ID = 2 ** 31 - 1;
/** A passwd or group file larger than this is not read (BuildKit's maxUserFileBytes). */
const MAX_USER_FILE_BYTES = 10 << 20;

/**
 * Resolves a Dockerfile USER value inside `rootfs`, with the semantics BuildKit gets from runc's
 * user package (executor/oci/user.go → moby/sys/user GetExecUser):
 *
 * - `""` is root; a missing or unreadable passwd file is then not an error.
 * - `uid:gid`, both numeric, is taken as is: no lookup and no supplementary groups (BuildKit's fast path).
 * - `name` or `uid`: the first passwd entry with that name (or, for a number, that uid) gives uid,
 *   primary gid and home; every /etc/group line listing the name adds a supplementary group. A number
 *   with no entry is used as a bare uid with gid 0. A name with no entry is an error.
 * - `user:group`: as above for the user; the group is looked up by name (or gid for a number) and
 *   replaces the primary gid, and no supplementary groups are added.
 *
 * The files are read through {@link resolveInRoot}, so a symlinked /etc/passwd can never make strata
 * read a host file, and only regular files are read (a device node or FIFO there is ignored).
 */
export async function resolveUser(rootfs: string, user: string): Promise<ResolvedUser> {
  const spec = user === '' ? '0' : user;
  const isDefault = user === '';
  const colon = spec.indexOf(':');
  const userArg = colon === -1 ? spec : spec.slice(0, colon);
  // moby/sys/user's parseLine keeps only the first two ':'-separated fields.
  const groupArg = colon === -1 ? '' : (spec.slice(colon + 1).split(':')[0] ?? '');
  const userNumber = parseId(userArg);
  const groupNumber = parseId(groupArg);

  const passwd = await readUserFile(rootfs, '/etc/passwd');
  const groupText = await readUserFile(rootfs, '/etc/group');
  const home = (uid: number) => parsePasswd(passwd ?? '').find((entry) => entry.uid === uid)?.home ?? '/';

  if (userNumber !== undefined && groupNumber !== undefined) {
    return { uid: userNumber, gid: groupNumber, additionalGids: [], home: home(userNumber) };
  }

  let uid = 0;
  let gid = 0;
  let homeDir = '/';
  let matchedName: string | undefined;
  const entry = parsePasswd(passwd ?? '').find((candidate) =>
    userNumber !== undefined ? candidate.uid === userNumber : candidate.name === userArg,
  );
  if (entry !== undefined) {
    ({ uid, gid } = entry);
    homeDir = entry.home;
    matchedName = entry.name;
  } else if (userNumber !== undefined) {
    uid = userNumber;
  } else if (isDefault) {
    return { uid: 0, gid: 0, additionalGids: [], home: '/' };
  } else {
    throw new UserNotFoundError(`unable to find user ${userArg}: no matching entries in passwd file`);
  }

  let additionalGids: number[] = [];
  if (groupArg !== '' || matchedName !== undefined) {
    const groups = parseGroup(groupText ?? '');
    if (groupArg !== '') {
      const group = groups.find((g) =>
        groupNumber !== undefined ? g.gid === groupNumber : g.name === groupArg,
      );
      if (group !== undefined) gid = group.gid;
      else if (groupNumber !== undefined) gid = groupNumber;
      else throw new UserNotFoundError(`unable to find group ${groupArg}: no matching entries in group file`);
    } else {
      additionalGids = groups.filter((g) => g.members.includes(matchedName ?? '')).map((g) => g.gid);
    }
  }
  return { uid, gid, additionalGids, home: homeDir };
}

/**
 * The uid and primary gid of the first /etc/passwd entry named `name` in `rootfs` (read as
 * {@link resolveUser} reads it), or undefined when the file is absent or has no such entry.
 */
export async function findPasswdUser(
  rootfs: string,
  name: string,
): Promise<{ uid: number; gid: number } | undefined> {
  const entry = parsePasswd((await readUserFile(rootfs, '/etc/passwd')) ?? '').find((e) => e.name === name);
  return entry === undefined ? undefined : { uid: entry.uid, gid: entry.gid };
}

/** The gid of the first /etc/group entry named `name` in `rootfs`, or undefined when there is none. */
export async function findGroupId(rootfs: string, name: string): Promise<number | undefined> {
  return parseGroup((await readUserFile(rootfs, '/etc/group')) ?? '').find((g) => g.name === name)?.gid;
}

/** A non-negative decimal id in runc's range, or undefined when `text` is not one. */
function parseId(text: string): number | undefined {
  if (!/^[0-9]+$/.test(text)) return undefined;
  const value = Number(text);
  if (value > MAX_ID) {
    throw new UserNotFoundError(
      `invalid user or group id ${text}: uids and gids must be in range 0-${MAX_ID}`,
    );
  }
  return value;
}

/**
 * Reads a small regular file inside the rootfs, or undefined when it is absent or not a regular
 * file. A step made the file: a FIFO or device planted there is never opened (opening a device
 * can act on the host's hardware, opening a FIFO wakes its writer), so it is lstat'ed first and
 * opened only as a regular file, then checked to be that same file.
 */
async function readUserFile(rootfs: string, path: string): Promise<string | undefined> {
  const resolved = resolveInRoot(rootfs, path);
  let before: Awaited<ReturnType<typeof lstat>>;
  try {
    before = await lstat(resolved);
  } catch (error) {
    if (isErrnoException(error) && ['ENOENT', 'ENOTDIR'].includes(error.code ?? '')) return undefined;
    throw error;
  }
  if (!before.isFile() || before.size > MAX_USER_FILE_BYTES) return undefined;
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_NOFOLLOW: resolveInRoot already followed every link; a link swapped in since is refused.
    // O_NONBLOCK: should a FIFO be swapped in after the lstat, opening it does not hang.
    handle = await open(resolved, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if (isErrnoException(error) && ['ENOENT', 'ENOTDIR', 'ELOOP'].includes(error.code ?? ''))
      return undefined;
    throw error;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile() || stat.ino !== before.ino || stat.dev !== before.dev) return undefined;
    if (stat.size > MAX_USER_FILE_BYTES) return undefined;
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** Parses /etc/passwd the way moby/sys/user does: blank lines skipped, bad numbers read as 0. */
function parsePasswd(text: string): PasswdEntry[] {
  return lines(text).map((line) => {
    const f = line.split(':');
    return { name: f[0] ?? '', uid: toInt(f[2]), gid: toInt(f[3]), home: f[5] ?? '' };
  });
}

/** Parses /etc/group: `name:password:gid:member,member`. */
function parseGroup(text: string): GroupEntry[] {
  return lines(text).map((line) => {
    const f = line.split(':');
    const members = (f[3] ?? '').split(',').filter((m) => m !== '');
    return { name: f[0] ?? '', gid: toInt(f[2]), members };
  });
}

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

function toInt(text: string | undefined): number {
  return text !== undefined && /^-?[0-9]+$/.test(text) ? Number(text) : 0;
}
