import type { Image, Platform } from '../oci/index.ts';
import type { ProgressSink } from '../progress/index.ts';
import type { Reference } from '../reference/index.ts';
import type { Store } from '../store/index.ts';
import { NotFoundError } from '../util/index.ts';
import type { ImageResolver, PullPolicy } from './build.ts';
import type { RegistryAccess } from './registry-access.ts';

/**
 * Base images for a build, the way `docker buildx build` finds them: from the local store when
 * present (`--pull` re-fetches; `never` never fetches), otherwise pulled from the registry the
 * reference names into the store, with progress on `events`.
 */
export function registryImageResolver(
  store: Store,
  options: { policy?: PullPolicy; access?: RegistryAccess; events?: ProgressSink } = {},
): ImageResolver {
  const policy = options.policy ?? 'missing';
  return async (ref: Reference, platform: Platform, signal?: AbortSignal): Promise<Image> => {
    const name = ref.toString();
    let descriptor = policy === 'always' ? undefined : await store.refs.get(name);
    if (descriptor) {
      try {
        return await store.image(descriptor, platform);
      } catch (error) {
        // A stored index without this platform's manifest: fetch it below (unless pulls are off).
        if (policy === 'never') throw error;
      }
    }
    if (policy === 'never') {
      throw new NotFoundError(`image ${ref.familiar()} not found in the local store`, {
        hint: `pull it first (strata pull ${ref.familiar()}) or import one (strata import)`,
      });
    }
    // The registry client loads only when a base image is really missing.
    const { pull } = await import('./pull.ts');
    const pulled = await pull(store, name, {
      ...options.access,
      platform,
      ...(options.events ? { events: options.events } : {}),
      ...(signal ? { signal } : {}),
    });
    descriptor = pulled.descriptor;
    return store.image(descriptor, platform);
  };
}
