import type { Dockerfile } from '../dockerfile/index.ts';
import type { ContainerConfig } from '../oci/index.ts';
import type { BuildGraph } from '../plan/index.ts';
import type { ImageRoot } from './image-root.ts';

/** One path the Dockerfile's own layers put in the image (and that is still visible in it). */
export interface ChangedPath {
  readonly path: string;
  readonly type: 'file' | 'link' | 'symlink' | 'char' | 'block' | 'directory' | 'fifo';
  /** Content bytes (regular files). */
  readonly size: number;
  /** The step that made it: its `created_by` from the image history. */
  readonly createdBy?: string;
}

/**
 * Everything {@link planSlim} decides from: the single-stage Dockerfile as written and planned,
 * and the image it builds — its config, its merged filesystem, and which paths its own layers
 * (not its base image's) added.
 */
export interface SlimFacts {
  readonly dockerfile: Dockerfile;
  /** The Dockerfile's text as written. */
  readonly text: string;
  readonly graph: BuildGraph;
  /** The built image's container config (Entrypoint, Cmd, Env, WorkingDir, User, …). */
  readonly config: ContainerConfig;
  /** The built image's merged filesystem. */
  readonly root: ImageRoot;
  /** The paths the Dockerfile's layers added or replaced, by absolute path. */
  readonly changes: ReadonlyMap<string, ChangedPath>;
  /**
   * The merged filesystem of an image in the local store (the candidate final base), or
   * undefined when the store does not have it. Views are released by the caller.
   */
  readonly openImage: (name: string) => Promise<ImageRoot | undefined>;
}
