import type { Dockerfile } from '../dockerfile/index.ts';
import type { Image, Platform } from '../oci/index.ts';
import { type BuildGraph, type PlanOptions, planBuild, type Stage } from '../plan/index.ts';
import { BaseImageError } from '../solver/index.ts';
import type { ImageResolver } from './build.ts';
import { prefetchLayers, untilAborted } from './image-resolver.ts';

/**
 * A resolver that resolves each image and platform once for the whole build, whoever asks first
 * (a FROM, a `COPY --from=<image>`, a `--mount from=<image>`). The resolution runs under the
 * build's signal, not the first caller's; every resolved image is added to `resolved` (its layers
 * may be downloading in the background until the build ends).
 */
export function resolveOncePerBuild(
  resolveImage: ImageResolver,
  buildSignal: AbortSignal,
  resolved: Image[],
): ImageResolver {
  const images = new Map<string, Promise<Image>>();
  return (ref, platform, signal) => {
    const key = `${ref.toString()}|${platform.os}/${platform.architecture}/${platform.variant ?? ''}`;
    let found = images.get(key);
    if (!found) {
      found = resolveImage(ref, platform, buildSignal);
      images.set(key, found);
      found.then(
        (image) => resolved.push(image),
        () => undefined, // reported to every caller that waits for it
      );
    }
    // A caller that is stopped (a step of a failed build) stops waiting; the resolution goes on
    // for the others until the build's own signal stops it.
    return untilAborted(found, signal);
  };
}

/**
 * Resolves every base image the needed stages use, all at once (pulls of different images
 * overlap), and plans again with their `Env` and `ONBUILD` triggers. A base that cannot be
 * resolved is reported at its FROM line: which of several bases is missing is the first thing to know.
 */
export async function planWithBases(
  dockerfile: Dockerfile,
  graph: BuildGraph,
  planOptions: PlanOptions,
  resolveOnce: ImageResolver,
  signal?: AbortSignal,
): Promise<BuildGraph> {
  const bases = graph.order
    .map((index) => graph.stages[index]!)
    .filter((stage) => stage.base.kind === 'image');
  const resolved = await Promise.all(
    bases.map(async (stage) => {
      if (stage.base.kind !== 'image') return undefined;
      const ref = stage.base.ref;
      try {
        return await resolveOnce(ref, stage.platform, signal);
      } catch (error) {
        throw new BaseImageError({
          instruction: `FROM ${ref.toString()}`,
          registry: ref.domain,
          cause: error,
          location: { file: dockerfile.file, line: stage.location.line },
        });
      }
    }),
  );
  const baseImageEnv = new Map<string, readonly string[]>();
  const baseImageOnBuild = new Map<string, readonly string[]>();
  // InvalidBaseImagePlatform: the platform each base was resolved to.
  const baseImagePlatforms = new Map<string, Platform>();
  bases.forEach((stage, i) => {
    if (stage.base.kind !== 'image') return;
    const image = resolved[i]!;
    baseImageEnv.set(stage.base.ref.toString(), image.config.config?.Env ?? []);
    baseImagePlatforms.set(stage.base.ref.toString(), {
      os: image.config.os,
      architecture: image.config.architecture,
      ...(image.config.variant === undefined ? {} : { variant: image.config.variant }),
    });
    const triggers = image.config.config?.OnBuild ?? [];
    if (triggers.length > 0) baseImageOnBuild.set(stage.base.ref.toString(), triggers);
  });
  if (baseImageEnv.size === 0) return graph;
  return planBuild(dockerfile, { ...planOptions, baseImageEnv, baseImageOnBuild, baseImagePlatforms });
}

/**
 * Starts downloading the bases the final image is made of (the target's, through `FROM <stage>`):
 * they are exported whatever the cache holds. Other bases download when a step first reads their
 * files — never, when their stage is all cached (a CI machine importing --cache-from need not
 * fetch the builder's toolchain). A failed prefetch surfaces when the export reads the layers.
 */
export function prefetchTargetBases(graph: BuildGraph, resolveOnce: ImageResolver): Promise<void>[] {
  const prefetches: Promise<void>[] = [];
  for (let index: number | undefined = graph.target; index !== undefined; ) {
    const stage: Stage | undefined = graph.stages[index];
    const base: Stage['base'] | undefined = stage?.base;
    if (stage && base?.kind === 'image') {
      // resolveOnce answers from its memo: the very image, for this stage's platform.
      const prefetch = resolveOnce(base.ref, stage.platform).then(prefetchLayers);
      prefetch.catch(() => undefined);
      prefetches.push(prefetch);
    }
    index = base?.kind === 'stage' ? base.stage : undefined;
  }
  return prefetches;
}
