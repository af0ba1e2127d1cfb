import type { Digest } from './digest.ts';
import type { MediaType } from './media-types.ts';
import type { Platform } from './platform.ts';

/** Annotations on descriptors, manifests and indexes. */
export type Annotations = Readonly<Record<string, string>>;

/** What a manifest or index says about a blob (OCI image spec, descriptor.md). Plain data. */
export interface Descriptor {
  readonly mediaType: MediaType;
  readonly digest: Digest;
  /** Bytes, as stored. */
  readonly size: number;
  readonly urls?: readonly string[];
  readonly annotations?: Annotations;
  readonly platform?: Platform;
  readonly artifactType?: string;
}

/** A single-platform image manifest (OCI manifest.md, or Docker schema 2). */
export interface Manifest {
  readonly schemaVersion: 2;
  readonly mediaType?: MediaType;
  readonly artifactType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Annotations;
}

/** A multi-platform index (OCI image-index.md, or a Docker manifest list). */
export interface Index {
  readonly schemaVersion: 2;
  readonly mediaType?: MediaType;
  readonly artifactType?: string;
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Annotations;
}

/** HEALTHCHECK as the image config stores it (Docker's config extension; durations in ns). */
export interface HealthConfig {
  readonly Test?: readonly string[];
  readonly Interval?: number;
  readonly Timeout?: number;
  readonly StartPeriod?: number;
  readonly StartInterval?: number;
  readonly Retries?: number;
}

/** The execution parameters of an image (config.md, "config" field, plus Docker's extensions). */
export interface ContainerConfig {
  readonly User?: string;
  readonly ExposedPorts?: Readonly<Record<string, Record<string, never>>>;
  readonly Env?: readonly string[];
  readonly Entrypoint?: readonly string[] | null;
  readonly Cmd?: readonly string[] | null;
  readonly Volumes?: Readonly<Record<string, Record<string, never>>>;
  readonly WorkingDir?: string;
  readonly Labels?: Readonly<Record<string, string>>;
  readonly StopSignal?: string;
  readonly ArgsEscaped?: boolean;
  readonly Healthcheck?: HealthConfig;
  readonly OnBuild?: readonly string[] | null;
  readonly Shell?: readonly string[];
}

/** One entry of an image's history (config.md, "history"). */
export interface HistoryEntry {
  readonly created?: string;
  readonly created_by?: string;
  readonly author?: string;
  readonly comment?: string;
  readonly empty_layer?: boolean;
}

/** The image configuration (OCI config.md). `rootfs.diff_ids` lists each layer's uncompressed digest. */
export interface ImageConfig {
  readonly created?: string;
  readonly author?: string;
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
  readonly 'os.version'?: string;
  readonly 'os.features'?: readonly string[];
  readonly config?: ContainerConfig;
  readonly rootfs: { readonly type: 'layers'; readonly diff_ids: readonly Digest[] };
  readonly history?: readonly HistoryEntry[];
}
