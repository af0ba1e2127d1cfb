import { randomBytes } from 'node:crypto';
import type { ExportedBuildOutput } from '../api/export-build-output.ts';

/**
 * A build reference like BuildKit's (25 base-36 characters), which buildx writes as
 * `buildx.build.ref` (`<builder>/<node>/<ref>`). strata keeps no build history to look it up in:
 * it names the build in the metadata only.
 */
function buildRef(): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  return [...randomBytes(25)].map((b) => alphabet[b % 36]).join('');
}

/**
 * `--metadata-file`'s keys as buildx writes them: `containerimage.config.digest`,
 * `containerimage.digest`, `containerimage.descriptor` and `image.name` from the image output (the
 * first one when there are several), and `buildx.build.ref`.
 */
export function buildMetadata(exported: readonly ExportedBuildOutput[]): Record<string, unknown> {
  const image = exported.find((e) => e.descriptor !== undefined);
  const metadata: Record<string, unknown> = {};
  for (const e of exported)
    for (const [k, v] of Object.entries(e.metadata)) if (!(k in metadata)) metadata[k] = v;
  if (image) Object.assign(metadata, image.metadata);
  metadata['buildx.build.ref'] = `strata/local/${buildRef()}`;
  return metadata;
}
