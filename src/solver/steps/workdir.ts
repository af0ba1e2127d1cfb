import { chmodSync, chownSync, lstatSync, mkdirSync, utimesSync } from 'node:fs';
import { posix } from 'node:path';
import type { WorkdirStep } from '../../plan/index.ts';
import { resolveUser } from '../../runtime/index.ts';
import { isErrnoException, resolveInRoot } from '../../util/index.ts';
import { commitLayer } from '../commit-layer.ts';
import type { LayerStepPlan, StepContext } from '../step-context.ts';

/** WORKDIR's path against the current one (BuildKit's system.NormalizeWorkdir). */
export function normalizeWorkdir(current: string | undefined, path: string): string {
  const joined = posix.isAbsolute(path) ? path : posix.join(current || '/', path);
  const clean = posix.normalize(joined);
  return clean.length > 1 && clean.endsWith('/') ? clean.slice(0, -1) : clean;
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
  if (wd === '/') return undefined;
  const user = image.config.User ?? '';
  return {
    createdBy: `WORKDIR ${wd}`,
    inputs: { workdir: wd, user },
    execute: async () => {
      const active = await deps.snapshotter.prepare(await ctx.snapshot(), ctx.signal);
      try {
        const owner = user ? await resolveUser(active.rootfs, user) : { uid: 0, gid: 0 };
        mkdirAllOwned(active.rootfs, wd, owner, options.layers.sourceDateEpoch);
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
