import type { HistoryEntry, ImageConfig } from '../oci/index.ts';

/** The history entry that made a layer. */
export interface LayerOrigin {
  /** Index into `config.history`, when the history has an entry for this layer. */
  readonly historyIndex?: number;
  /** The entry's `created_by` (`RUN /bin/sh -c apk add gcc # buildkit`), when present. */
  readonly createdBy?: string;
}

/**
 * Pairs each layer with its history entry: the non-empty (`empty_layer` unset) entries, in order,
 * one per layer (OCI config.md, "history"). Layers past the end of the history get no entry, as
 * dive shows them as "(missing)".
 */
export function layerOrigins(config: Pick<ImageConfig, 'history' | 'rootfs'>): LayerOrigin[] {
  const history: readonly HistoryEntry[] = config.history ?? [];
  const out: LayerOrigin[] = [];
  let next = 0;
  for (let layer = 0; layer < config.rootfs.diff_ids.length; layer++) {
    while (next < history.length && history[next]!.empty_layer) next++;
    if (next < history.length) {
      const createdBy = history[next]!.created_by;
      out.push({ historyIndex: next, ...(createdBy !== undefined ? { createdBy } : {}) });
      next++;
    } else out.push({});
  }
  return out;
}

/** `created_by` shortened for a table: BuildKit's ` # buildkit` suffix and `/bin/sh -c ` removed. */
export function shortCreatedBy(createdBy: string | undefined): string {
  if (createdBy === undefined) return '(missing)';
  return createdBy
    .replace(/ # buildkit$/, '')
    .replace(/^\/bin\/sh -c #\(nop\) +/, '')
    .replace(/^\/bin\/sh -c /, 'RUN ')
    .replace(/^RUN (\|\d+ (?:\S+=\S* )*)?\/bin\/sh -c /, 'RUN ')
    .replaceAll('\n', '↵');
}
