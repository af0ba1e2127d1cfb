import type { Digest, Image } from '../oci/index.ts';
import { layerOrigins } from './layer-history.ts';
import { readLayerContents } from './read-layer.ts';

/** One row of an image's layer table (`strata inspect`). */
export interface LayerRow {
  readonly index: number;
  readonly digest: Digest;
  readonly diffId: Digest;
  readonly mediaType: string;
  /** The history entry's `created_by`, when the history has one for this layer. */
  readonly createdBy?: string;
  /** The blob as stored and pulled. */
  readonly compressedSize: number;
  /** The uncompressed tar. */
  readonly uncompressedSize: number;
  /** Entries that are neither directories nor whiteouts. */
  readonly fileCount: number;
}

/**
 * The layer table of an image: created_by, compressed and uncompressed size and file count per
 * layer. Reads each layer blob once (streamed; for a remote image that is a download).
 */
export async function layerTable(
  image: Pick<Image, 'layers' | 'config'>,
  options: { readonly signal?: AbortSignal } = {},
): Promise<LayerRow[]> {
  const origins = layerOrigins(image.config);
  const rows: LayerRow[] = [];
  for (const [index, layer] of image.layers.entries()) {
    const contents = await readLayerContents(layer, options.signal);
    const createdBy = origins[index]?.createdBy;
    rows.push({
      index,
      digest: layer.descriptor.digest,
      diffId: layer.diffId,
      mediaType: layer.descriptor.mediaType,
      ...(createdBy !== undefined ? { createdBy } : {}),
      compressedSize: layer.descriptor.size,
      uncompressedSize: contents.uncompressedSize,
      fileCount: contents.fileCount,
    });
  }
  return rows;
}
