import type { LayerChange } from '../archive/index.ts';
import type { Digest, Layer } from '../oci/index.ts';
import type { BindViewOptions } from './bind-view.ts';

/**
 * A read-only filesystem state: a chain of layers. For the overlay snapshotter it is a list of
 * unpacked layer directories (overlay form: whiteouts as 0:0 char devices); for the native one it
 * is a directory holding the whole tree.
 */
export interface Snapshot {
  readonly kind: 'overlay' | 'native';
  /** OCI chain ID of the layers (image-spec config.md, "Layer ChainID"); `''` for the empty chain. */
  readonly chainId: string;
  readonly diffIds: readonly Digest[];
  /** overlay: unpacked layer dirs, bottom first. native: one directory, the full tree. */
  readonly dirs: readonly string[];
}

/** A read-only view of a snapshot as one directory tree (for `COPY --from`). */
export interface SnapshotView {
  readonly path: string;
  release(): Promise<void>;
}

/**
 * Releases views newest first (a view may be stacked on an older one, which is busy until it
 * goes), every one of them even when one fails; then throws the first failure.
 */
export async function releaseViews(views: readonly SnapshotView[]): Promise<void> {
  let failure: { error: unknown } | undefined;
  for (const view of [...views].reverse()) {
    try {
      await view.release();
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure) throw failure.error;
}

/** The result of committing an active snapshot. */
export interface CommitResult {
  /** The new snapshot (equal to the parent when nothing changed). */
  readonly snapshot: Snapshot;
  /** The changes against the parent, in a form `packChanges` turns into a layer tar. */
  readonly changes: readonly LayerChange[];
}

/**
 * A writable filesystem over a parent snapshot. `rootfs` is the directory to run a process in or
 * copy files into. Exactly one of `diff`+`commit` or `discard` ends it.
 */
export interface ActiveSnapshot {
  readonly rootfs: string;
  readonly parent: Snapshot;
  /** The changes made so far, against the parent (call before `commit`). */
  changes(): Promise<LayerChange[]>;
  /**
   * Keeps the changes as a new snapshot whose top layer has `diffId` (computed by the caller
   * from the tar of `changes()`), then releases the mount. The directory is shared by diff_id.
   */
  commit(diffId: Digest): Promise<Snapshot>;
  /** Throws the changes away and releases everything. */
  discard(): Promise<void>;
}

/**
 * Turns layers into filesystems and filesystem changes back into layers. Two implementations:
 * `overlay` (kernel overlayfs; lowerdirs are layers unpacked once and shared by diff_id) and
 * `native` (copies, and a walk over both trees to diff).
 */
export interface Snapshotter {
  readonly kind: 'overlay' | 'native';
  /** Makes sure `layers` are unpacked and returns the snapshot of their chain. */
  unpack(layers: readonly Layer[], signal?: AbortSignal): Promise<Snapshot>;
  /** A writable rootfs over `parent` (the empty snapshot for `FROM scratch`). */
  prepare(parent: Snapshot, signal?: AbortSignal): Promise<ActiveSnapshot>;
  /** A read-only view of a snapshot as one tree. */
  view(snapshot: Snapshot, signal?: AbortSignal): Promise<SnapshotView>;
  /**
   * What a `RUN --mount=type=bind` mounts from `source` (a directory or file: the build context, a
   * view): `source` without the `hidden` paths, and — when `writable` — a tree the step may write
   * whose writes are thrown away at release, never reaching `source` (BuildKit's `rw`).
   */
  bindView(source: string, options: BindViewOptions): Promise<SnapshotView>;
  /** Removes unpacked layers no snapshot in `keep` uses; returns bytes freed (approximate). */
  prune(keep: readonly Snapshot[]): Promise<{ removed: number }>;
  /**
   * Removes what builds that died left behind — active snapshots and views (unmounted first),
   * half-unpacked layers — and returns how many; anything of a live process is kept.
   */
  sweepStale(): Promise<number>;
}
