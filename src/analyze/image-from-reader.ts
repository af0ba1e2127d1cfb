import {
  DigestMismatchError,
  digestOf,
  formatPlatform,
  hostPlatform,
  type Image,
  imageFromCore,
  type Platform,
  parseIndex,
  parseManifest,
  platformMatches,
  sniffManifestKind,
} from '../oci/index.ts';
import type { ImageReader } from '../transport/index.ts';
import { NotFoundError } from '../util/index.ts';

/**
 * An {@link Image} from any transport's reader (store, OCI layout, docker-archive, registry): the
 * manifest it names — for an index, the one for `platform` (default: this host's) — and its config,
 * verified against their digests. Layers stay lazy: each is read from the reader when opened.
 */
export async function imageFromReader(
  reader: ImageReader,
  options: { readonly platform?: Platform; readonly signal?: AbortSignal } = {},
): Promise<Image> {
  const top = await reader.resolve(options.signal);
  let raw = top.raw;
  if (sniffManifestKind(raw) === 'index') {
    const platform = options.platform ?? hostPlatform();
    const index = parseIndex(raw);
    const chosen = index.manifests.find((m) => m.platform && platformMatches(platform, m.platform));
    if (!chosen) {
      const available = index.manifests.filter((m) => m.platform).map((m) => formatPlatform(m.platform!));
      throw new NotFoundError(
        `${reader.name}: no image for platform ${formatPlatform(platform)} (available: ${available.join(', ') || 'none'})`,
      );
    }
    raw = await reader.readManifest(chosen, options.signal);
  }
  const config = parseManifest(raw).config;
  const chunks: Buffer[] = [];
  const stream = await reader.openBlob(config, options.signal ? { signal: options.signal } : {});
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  const rawConfig = Buffer.concat(chunks);
  const actual = digestOf(rawConfig);
  if (actual !== config.digest)
    throw new DigestMismatchError({ expected: config.digest, actual, what: 'config' });
  return imageFromCore({
    rawManifest: raw,
    rawConfig,
    openBlob: (descriptor, signal) => reader.openBlob(descriptor, signal ? { signal } : {}),
  });
}
