import { chmodSync, chownSync, lstatSync, mkdirSync, utimesSync } from 'node:fs';
import { posix } from 'node:path';
import type { WorkdirStep } from '../../plan/index.ts';
import { cleanPath, isErrnoException, resolveInRoot } from '../../util/index.ts';
import { commitLayer } from '../commit-layer.ts';
import type { LayerStepPlan, StepContext } from '../step-context.ts';
import { resolveChown } from './resolve-chown.ts';

/**
 * The working directory a WORKDIR records, as docker 20.10's BuildKit (v0.8 dispatchWorkdir)
 * records it: an absolute path exactly as written after expansion (`/app/`, `/a/./b`, `//` stay
 * so), a relative one joined to the current directory with Go's `path.Join("/", current, path)`,
 * which cleans the result (`rel/` after `/app/` is `/app/rel`). Later BuildKit cleans both
 * (system.NormalizeWorkdir); the oracle here does not.
 */
export function normalizeWorkdir(current: string | undefined, path: string): string {
  if (posix.isAbsolute(path)) return path;
  return cleanPath(`/${current ?? ''}/${path}`);
}

/**
 * WORKDIR: sets the working directory and, unless it is `/`, creates it with its parents, owned by
 * the current USER (BuildKit's mkdir with parents and the user), as a layer of its own — an empty
 * one when the directory already exists, as BuildKit writes it. Returns undefined for `/` (no
 * layer).
 */
export function planWorkdir(ctx: StepContext, step: WorkdirStep): LayerStepPlan | undefined {
  const { image, options, deps } = ctx;
  const wd = normalizeWorkdir(image.config.WorkingDir, step.path);
  image.config.WorkingDir = wd;
  // BuildKit skips the mkdir only for exactly "/" (so `WORKDIR //` makes an empty layer).
  if (wd === '/') return undefined;
  const user = image.config.User ?? '';
  return {
    createdBy: `WORKDIR ${wd}`,
    // semantics 2: USER resolved as a file op's owner (resolveChown), not as RUN's user.
    inputs: { workdir: wd, user, semantics: 2 },
    execute: async () => {
      const active = await deps.snapshotter.prepare(await ctx.snapshot(), ctx.signal);
      try {
        // BuildKit makes the directory with a file op owned by USER (llb.WithUser): a numeric
        // user's gid is the uid, a name's comes from passwd, an unknown name is 0:0.
        const owner = user ? await resolveChown(active.rootfs, user) : { uid: 0, gid: 0 };
        // The FileOp mkdir cleans its path (`/a/x/../b` makes /a/b, never /a/x).
        mkdirAllOwned(active.rootfs, cleanPath(wd), owner, options.layers.sourceDateEpoch);
        return await commitLayer(active, deps.store, options.layers, ctx.signal);
      } catch (error) {
        await active.discard();
        throw error;
      }
    },
  };
}

/**
 * `mkdir -p` inside a rootfs: each missing component is created with mode 0755 and `owner`,
 * following symlinks only within the root. Existing directories are left alone.
 */
export function mkdirAllOwned(
  rootfs: string,
  path: string,
  owner: { uid: number; gid: number },
  epochSeconds?: number,
): string[] {
  const created: string[] = [];
  let current = '/';
  for (const part of path.split('/').filter(Boolean)) {
    current = posix.join(current, part);
    const host = resolveInRoot(rootfs, current);
    try {
      lstatSync(host);
      continue;
    } catch (error) {
      if (!isErrnoException(error, 'ENOENT')) throw error;
    }
    mkdirSync(host);
    chmodSync(host, 0o755);
    chownSync(host, owner.uid, owner.gid);
    if (epochSeconds !== undefined) utimesSync(host, epochSeconds, epochSeconds);
    created.push(current);
  }
  return created;
}
