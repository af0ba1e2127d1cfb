import type { FileSource } from '../plan/index.ts';
import type { SnapshotView } from '../snapshot/index.ts';
import type { StepContext } from './step-context.ts';
import { unpackLeased } from './unpack-leased.ts';

/**
 * The directory a step reads from for a `--from` / `from=` source: the context directory, a
 * read-only view of another stage's filesystem, or of an image's (unpacked on demand); undefined
 * for scratch. Views opened here are pushed onto `views` for the caller to release.
 */
export async function openSourceRoot(
  ctx: StepContext,
  from: FileSource,
  views: SnapshotView[],
): Promise<string | undefined> {
  const { deps, signal } = ctx;
  switch (from.kind) {
    case 'context':
      return ctx.options.context.dir;
    case 'stage': {
      const view = await deps.snapshotter.view(await ctx.stageSnapshot(from.stage), signal);
      views.push(view);
      return view.path;
    }
    case 'image': {
      const image = await deps.resolveImage(from.ref, ctx.stage.platform, signal);
      const view = await deps.snapshotter.view(await unpackLeased(deps, image.layers, signal), signal);
      views.push(view);
      return view.path;
    }
    case 'scratch':
      return undefined;
  }
}
