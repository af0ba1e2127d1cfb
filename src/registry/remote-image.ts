import {
  hostPlatform,
  type Image,
  imageFromCore,
  type Platform,
  parseManifest,
  sniffManifestKind,
} from '../oci/index.ts';
import type { Reference } from '../reference/index.ts';
import { choosePlatform, plainDescriptor } from '../transport/index.ts';
import type { RegistryPool } from './registry-client.ts';
import { RegistryReader } from './registry-reader.ts';

/**
 * A lazy {@link Image} in a registry: manifest and config are fetched (and verified) now; layers
 * are opened, as resumable streams, only when asked for.
 */
export async function openRemoteImage(
  pool: RegistryPool,
  reference: Reference,
  options: { platform?: Platform; signal?: AbortSignal } = {},
): Promise<Image> {
  const reader = new RegistryReader(pool.client(reference.registryHost()), reference);
  let top = await reader.resolve(options.signal);
  if (sniffManifestKind(top.raw) === 'index') {
    const chosen = choosePlatform(reader.name, top.raw, options.platform ?? hostPlatform());
    top = { raw: await reader.readManifest(chosen, options.signal), descriptor: plainDescriptor(chosen) };
  }
  const parsed = parseManifest(top.raw);
  const rawConfig = await reader.readBlob(parsed.config, options.signal);
  return imageFromCore({
    rawManifest: top.raw,
    rawConfig,
    openBlob: (descriptor, signal) => reader.openBlob(descriptor, signal ? { signal } : {}),
  });
}
