import { findGroupId, findPasswdUser } from '../../runtime/index.ts';
import { CopyError } from '../errors.ts';

/**
 * An owner (`--chown` of COPY/ADD, or the USER a WORKDIR is made for) resolved in the target rootfs
 * as BuildKit resolves a file op's user (llb.WithUser, then solver/llbsolver/ops' readUser) —
 * not as RUN resolves USER: `user[:group]` split at the first colon; a number (or `root`) is an id, and an
 * empty part is id 0. A numeric user gives gid = uid; a user name takes uid and primary gid from
 * /etc/passwd, or 0:0 when no entry has that name. A group, when given, replaces the gid: a
 * number as it is, a name through /etc/group, and a name with no entry leaves the user's gid.
 */
export async function resolveChown(rootfs: string, chown: string): Promise<{ uid: number; gid: number }> {
  const colon = chown.indexOf(':');
  const userPart = colon < 0 ? chown : chown.slice(0, colon);
  const groupPart = colon < 0 ? undefined : chown.slice(colon + 1);
  const userId = chownId(userPart);
  let owner =
    userId !== undefined
      ? { uid: userId, gid: userId }
      : ((await findPasswdUser(rootfs, userPart)) ?? { uid: 0, gid: 0 });
  if (groupPart !== undefined) {
    const gid = chownId(groupPart) ?? (await findGroupId(rootfs, groupPart));
    if (gid !== undefined) owner = { uid: owner.uid, gid };
  }
  return owner;
}

/**
 * A `--chown` part as an id (llb's parseUID, and an empty name marshalled as id 0), or undefined
 * for a name to look up.
 */
function chownId(part: string): number | undefined {
  if (part === '' || part === 'root') return 0;
  if (!/^[+-]?[0-9]+$/.test(part)) return undefined;
  const value = Number(part);
  if (value < 0 || value > 2 ** 31 - 1)
    throw new CopyError(`invalid user or group id ${part}: uids and gids must be in range 0-${2 ** 31 - 1}`);
  return value;
}
