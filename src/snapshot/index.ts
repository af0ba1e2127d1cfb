/**
 * snapshot — filesystems from layers and layers from filesystems. `overlay` uses kernel overlayfs
 * with layers unpacked once and shared by diff_id; `native` copies trees and diffs by walking
 * them. Both report a step's changes as `LayerChange`s that archive/ packs into a layer tar.
 * The `Snapshotter` interface and its contract are in `snapshotter.ts`; `openSnapshotter` picks
 * one (overlay where overlay mounts work, `STRATA_SNAPSHOTTER` forces one). Depends on util, oci,
 * archive and store.
 */
export * from './bind-view.ts';
export * from './chain-id.ts';
export * from './diff-trees.ts';
export * from './diff-upper.ts';
export * from './mount.ts';
export { NativeSnapshotter } from './native-snapshotter.ts';
export * from './open-snapshotter.ts';
export * from './overlay-snapshotter.ts';
export * from './snapshotter.ts';
export * from './unpack.ts';
