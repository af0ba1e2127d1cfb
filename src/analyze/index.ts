/**
 * analyze — where an image's bytes go. Reads layers once and computes dive's efficiency score and
 * wasted bytes exactly as dive does, strata's own reclaimable bytes with the steps that added and
 * removed them, the largest directories per layer, the layer table `strata inspect` prints,
 * image-to-image comparison, per-stage attribution of a build's bytes, Dockerfile lint rules for
 * size and multi-stage builds, and a self-contained HTML report. See docs/analyze.md and
 * docs/lint.md.
 */
export * from './analyze-image.ts';
export * from './attribute-bytes.ts';
export * from './ci-thresholds.ts';
export * from './compare-images.ts';
export * from './dive-efficiency.ts';
export * from './dive-tree.ts';
export * from './html-report.ts';
export * from './image-from-reader.ts';
export * from './largest-directories.ts';
export * from './layer-history.ts';
export * from './layer-table.ts';
export * from './lint/lint-dockerfile.ts';
export * from './lint/lint-rules.ts';
export * from './lint/sarif.ts';
export * from './lint/shell-commands.ts';
export * from './lint/tool-commands.ts';
export * from './merged-filesystem.ts';
export * from './read-layer.ts';
