import { formatPlatform, type Image, imageFromCore, type Platform } from '../oci/index.ts';
import { baseImageStepId, type ProgressSink } from '../progress/index.ts';
import type { Reference } from '../reference/index.ts';
import type { Store } from '../store/index.ts';
import { formatErrorChain, NotFoundError } from '../util/index.ts';
import type { ImageResolver, PullPolicy } from './build.ts';
import type { RegistryAccess } from './registry-access.ts';

/**
 * Base images for a build, the way `docker buildx build` finds them: from the local store when
 * present (`--pull` re-fetches; `never` never fetches), otherwise from the registry the reference
 * names: manifest and config at once, the layers into the store when first read (see below), with
 * progress on `events`.
 */
export function registryImageResolver(
  store: Store,
  options: {
    policy?: PullPolicy;
    access?: RegistryAccess;
    events?: ProgressSink;
    /** A multi-platform build: name the platform in the step (`[linux/arm64 internal] …`), as buildx. */
    showPlatform?: boolean;
  } = {},
): ImageResolver {
  const policy = options.policy ?? 'missing';
  return async (ref: Reference, platform: Platform, signal?: AbortSignal): Promise<Image> => {
    const name = ref.toString();
    // BuildKit's `[internal] load metadata for …` vertex: finding the image's manifest and config.
    const events = options.events;
    const metadataStep = `metadata ${name} ${formatPlatform(platform)}`;
    events?.emit({
      type: 'step-started',
      step: metadataStep,
      name: `[${options.showPlatform ? `${formatPlatform(platform)} ` : ''}internal] load metadata for ${name}`,
      at: Date.now(),
    });
    try {
      const image = await resolve(ref, platform, signal);
      events?.emit({ type: 'step-finished', step: metadataStep, at: Date.now() });
      return image;
    } catch (error) {
      events?.emit({
        type: 'step-failed',
        step: metadataStep,
        error: formatErrorChain(error),
        ...(signal?.aborted ? { canceled: true } : {}),
        at: Date.now(),
      });
      throw error;
    }
  };

  async function resolve(ref: Reference, platform: Platform, signal?: AbortSignal): Promise<Image> {
    const name = ref.toString();
    const descriptor = policy === 'always' ? undefined : await store.refs.get(name);
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
    // The registry client loads only when a base image is really missing. Only the manifest and
    // config come now (planning needs the config); the layers are pulled when something first
    // reads one, or when the build asks for them up front (fetchLayers, for the final image's
    // bases) — so they download beside the other stages' work, and a base whose stage is all
    // cached is never downloaded.
    const { fetchImageMetadata, pull } = await import('./pull.ts');
    const metadata = await fetchImageMetadata(name, {
      ...options.access,
      platform,
      ...(signal ? { signal } : {}),
    });
    let pulled: Promise<void> | undefined;
    const fetchLayers = (): Promise<void> => {
      pulled ??= pull(store, name, {
        ...options.access,
        platform,
        pinned: { manifest: metadata.manifest.descriptor, resolvedDigest: metadata.resolvedDigest },
        // The downloads show under the build's FROM step, as BuildKit shows them; docker pull's
        // "Pulling from" / "Digest:" / "Status:" lines belong to `strata pull`, not to a build.
        ...(options.events ? { events: transfersOnly(options.events) } : {}),
        step: baseImageStepId(name, platform),
        ...(signal ? { signal } : {}),
      }).then(() => undefined);
      return pulled;
    };
    const image = imageFromCore({
      rawManifest: metadata.manifest.raw,
      rawConfig: metadata.rawConfig,
      openBlob: async (descriptor, s) => {
        // A reader that is stopped stops waiting; the pull goes on for the others (the build's
        // own signal stops it).
        await untilAborted(fetchLayers(), s);
        return store.blobs.open(descriptor.digest, s ? { signal: s } : {});
      },
    });
    const settled = async (): Promise<void> => {
      await pulled?.catch(() => undefined); // its failure is reported to whoever read the layers
    };
    return Object.assign(image, { fetchLayers, settled, pulling: () => pulled }) satisfies LazyImage;
  }
}

/** `events` without messages: a base image's layer transfers only. */
function transfersOnly(events: ProgressSink): ProgressSink {
  return { emit: (event) => (event.type === 'message' ? undefined : events.emit(event)) };
}

/**
 * The download of a lazily resolved base image's layers, if it has started (the solver ends the
 * FROM step when it does); `undefined` for an image already stored or not being pulled.
 */
export function pendingLayerPull(image: Image): Promise<void> | undefined {
  return (image as Partial<LazyImage>).pulling?.();
}

/** A base image whose layers are pulled on first read; `fetchLayers` starts (or joins) that pull. */
export interface LazyImage extends Image {
  fetchLayers(): Promise<void>;
  /** The layer pull, once started. */
  pulling(): Promise<void> | undefined;
  /** Resolves once the pull, if one started, has ended (done, failed or aborted and cleaned up). */
  settled(): Promise<void>;
}

/**
 * Resolves once a lazily resolved image's layer pull, if one started, has ended; at once for an
 * image already stored. A failed build waits for it after stopping it, so the process ends with
 * no half-written blob and its lease released last.
 */
export function layersSettled(image: Image): Promise<void> {
  const lazy = image as Partial<LazyImage>;
  return lazy.settled ? lazy.settled() : Promise.resolve();
}

/** `promise`, or its signal's reason as soon as `signal` aborts (the work itself goes on). */
export function untilAborted<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined); // its failure is the business of whoever still waits for it
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Starts pulling a lazily resolved image's layers now (no-op for an image already stored). */
export function prefetchLayers(image: Image): Promise<void> {
  const lazy = image as Partial<LazyImage>;
  return lazy.fetchLayers ? lazy.fetchLayers() : Promise.resolve();
}
