import { InvalidInputError } from '../util/index.ts';
import { type Digest, parseDigest } from './digest.ts';
import { isIndexMediaType, isManifestMediaType, MediaTypes } from './media-types.ts';
import type { Platform } from './platform.ts';
import type { Descriptor, HistoryEntry, ImageConfig, Index, Manifest } from './types.ts';

/** Thrown for a manifest, index or config that is not valid JSON or breaks the spec. */
export class InvalidManifestError extends InvalidInputError {
  constructor(what: string, reason: string, options: { cause?: unknown } = {}) {
    super(`invalid ${what}: ${reason}`, options);
  }
}

type Json = unknown;

/**
 * A JSON value as a message shows it: a number, boolean or null as written, a string quoted and
 * cut at 100 characters, an array or object by its kind only (one nested 100,000 deep must not
 * be walked).
 */
function describeJson(value: Json): string {
  if (Array.isArray(value)) return 'an array';
  if (value === undefined) return 'undefined';
  if (typeof value === 'object' && value !== null) return 'an object';
  if (typeof value === 'string' && value.length > 100) return `${JSON.stringify(value.slice(0, 100))}…`;
  return JSON.stringify(value);
}

function parseJson(raw: Uint8Array | string, what: string): Record<string, Json> {
  const text = typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8');
  let value: Json;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidManifestError(what, `malformed JSON (${(error as Error).message})`, { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidManifestError(what, 'expected a JSON object');
  }
  return value as Record<string, Json>;
}

function expectString(obj: Record<string, Json>, key: string, what: string): string {
  const value = obj[key];
  if (typeof value !== 'string') throw new InvalidManifestError(what, `field "${key}" must be a string`);
  return value;
}

function optionalString(obj: Record<string, Json>, key: string, what: string): string | undefined {
  const value = obj[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new InvalidManifestError(what, `field "${key}" must be a string`);
  return value;
}

function optionalStringMap(
  obj: Record<string, Json>,
  key: string,
  what: string,
): Record<string, string> | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value))
    throw new InvalidManifestError(what, `field "${key}" must be an object`);
  for (const [k, v] of Object.entries(value as Record<string, Json>)) {
    if (typeof v !== 'string') throw new InvalidManifestError(what, `${key}["${k}"] must be a string`);
  }
  return value as Record<string, string>;
}

function digestField(obj: Record<string, Json>, key: string, what: string): Digest {
  const text = expectString(obj, key, what);
  try {
    return parseDigest(text);
  } catch (error) {
    throw new InvalidManifestError(what, `field "${key}": ${(error as Error).message}`, { cause: error });
  }
}

function schemaVersion2(obj: Record<string, Json>, what: string): void {
  if (obj.schemaVersion !== 2) {
    throw new InvalidManifestError(what, `schemaVersion must be 2, got ${describeJson(obj.schemaVersion)}`);
  }
}

/** Validates a platform object (from an index entry). */
export function parsePlatformObject(value: Json, what: string): Platform {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidManifestError(what, 'platform must be an object');
  const obj = value as Record<string, Json>;
  const os = expectString(obj, 'os', `${what} platform`);
  const architecture = expectString(obj, 'architecture', `${what} platform`);
  const variant = optionalString(obj, 'variant', `${what} platform`);
  const platform: { -readonly [K in keyof Platform]: Platform[K] } = { os, architecture };
  if (variant) platform.variant = variant;
  const osVersion = optionalString(obj, 'os.version', `${what} platform`);
  if (osVersion) platform['os.version'] = osVersion;
  const features = obj['os.features'];
  if (Array.isArray(features) && features.every((f) => typeof f === 'string'))
    platform['os.features'] = features as string[];
  return platform;
}

/** Validates a descriptor object (descriptor.md): mediaType, digest, non-negative integer size. */
export function parseDescriptorObject(value: Json, what: string): Descriptor {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidManifestError(what, 'descriptor must be an object');
  const obj = value as Record<string, Json>;
  const mediaType = expectString(obj, 'mediaType', what);
  if (mediaType === '') throw new InvalidManifestError(what, 'mediaType must not be empty');
  const digest = digestField(obj, 'digest', what);
  const size = obj.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new InvalidManifestError(
      what,
      `field "size" must be a non-negative integer, got ${describeJson(size)}`,
    );
  }
  const out: { -readonly [K in keyof Descriptor]: Descriptor[K] } = { mediaType, digest, size };
  if (Array.isArray(obj.urls)) out.urls = obj.urls.filter((u): u is string => typeof u === 'string');
  const annotations = optionalStringMap(obj, 'annotations', what);
  if (annotations) out.annotations = annotations;
  if (obj.platform !== undefined) out.platform = parsePlatformObject(obj.platform, what);
  const artifactType = optionalString(obj, 'artifactType', what);
  if (artifactType) out.artifactType = artifactType;
  return out;
}

/**
 * Parses and validates an image manifest (OCI or Docker schema 2). A manifest whose mediaType
 * names an index, or a schema 1 manifest, is refused with a reason.
 */
export function parseManifest(raw: Uint8Array | string): Manifest {
  const what = 'manifest';
  const obj = parseJson(raw, what);
  if (obj.schemaVersion === 1 || obj.mediaType === MediaTypes.dockerSchema1Signed) {
    throw new InvalidManifestError(
      what,
      'Docker schema 1 manifests are not supported (deprecated since 2017)',
    );
  }
  schemaVersion2(obj, what);
  const mediaType = optionalString(obj, 'mediaType', what);
  if (mediaType !== undefined && !isManifestMediaType(mediaType)) {
    throw new InvalidManifestError(
      what,
      `unexpected mediaType ${mediaType}${isIndexMediaType(mediaType) ? ' (this is an index)' : ''}`,
    );
  }
  if (obj.manifests !== undefined)
    throw new InvalidManifestError(what, 'has a "manifests" field: this is an index');
  const config = parseDescriptorObject(obj.config, `${what} config`);
  if (!Array.isArray(obj.layers)) throw new InvalidManifestError(what, 'field "layers" must be an array');
  const layers = obj.layers.map((l, i) => parseDescriptorObject(l, `${what} layer ${i}`));
  return { schemaVersion: 2, config, layers, ...commonFields(obj, what, mediaType) };
}

/** Parses and validates an image index or Docker manifest list. */
export function parseIndex(raw: Uint8Array | string): Index {
  const what = 'index';
  const obj = parseJson(raw, what);
  schemaVersion2(obj, what);
  const mediaType = optionalString(obj, 'mediaType', what);
  if (mediaType !== undefined && !isIndexMediaType(mediaType)) {
    throw new InvalidManifestError(
      what,
      `unexpected mediaType ${mediaType}${isManifestMediaType(mediaType) ? ' (this is a manifest)' : ''}`,
    );
  }
  if (!Array.isArray(obj.manifests))
    throw new InvalidManifestError(what, 'field "manifests" must be an array');
  const manifests = obj.manifests.map((m, i) => parseDescriptorObject(m, `${what} entry ${i}`));
  return { schemaVersion: 2, manifests, ...commonFields(obj, what, mediaType) };
}

/** The optional fields manifests and indexes share: mediaType, artifactType, subject, annotations. */
function commonFields(
  obj: Record<string, Json>,
  what: string,
  mediaType: string | undefined,
): Pick<Manifest, 'mediaType' | 'artifactType' | 'subject' | 'annotations'> {
  const artifactType = optionalString(obj, 'artifactType', what);
  const annotations = optionalStringMap(obj, 'annotations', what);
  return {
    ...(mediaType ? { mediaType } : {}),
    ...(artifactType ? { artifactType } : {}),
    ...(obj.subject !== undefined ? { subject: parseDescriptorObject(obj.subject, `${what} subject`) } : {}),
    ...(annotations ? { annotations } : {}),
  };
}

/** What kind of document some manifest bytes hold, from `mediaType` or, failing that, the shape. */
export function sniffManifestKind(raw: Uint8Array | string): 'manifest' | 'index' {
  const obj = parseJson(raw, 'manifest');
  const mediaType = typeof obj.mediaType === 'string' ? obj.mediaType : undefined;
  if (isIndexMediaType(mediaType)) return 'index';
  if (isManifestMediaType(mediaType)) return 'manifest';
  if (Array.isArray(obj.manifests)) return 'index';
  if (obj.config !== undefined) return 'manifest';
  throw new InvalidManifestError(
    'manifest',
    `unknown mediaType ${mediaType ?? '(none)'} and neither "config" nor "manifests"`,
  );
}

/**
 * Parses and validates an image config (config.md): os, architecture, and rootfs.diff_ids as
 * digests are required; history entries and the container config are type-checked.
 */
export function parseImageConfig(raw: Uint8Array | string): ImageConfig {
  const what = 'image config';
  const obj = parseJson(raw, what);
  expectString(obj, 'architecture', what);
  expectString(obj, 'os', what);
  const rootfs = obj.rootfs;
  if (typeof rootfs !== 'object' || rootfs === null)
    throw new InvalidManifestError(what, 'field "rootfs" is missing');
  const r = rootfs as Record<string, Json>;
  if (r.type !== 'layers')
    throw new InvalidManifestError(what, `rootfs.type must be "layers", got ${describeJson(r.type)}`);
  if (!Array.isArray(r.diff_ids)) throw new InvalidManifestError(what, 'rootfs.diff_ids must be an array');
  r.diff_ids.forEach((d, i) => {
    if (typeof d !== 'string') throw new InvalidManifestError(what, `rootfs.diff_ids[${i}] must be a string`);
    try {
      parseDigest(d);
    } catch (error) {
      throw new InvalidManifestError(what, `rootfs.diff_ids[${i}]: ${(error as Error).message}`, {
        cause: error,
      });
    }
  });
  if (obj.history !== undefined) {
    if (!Array.isArray(obj.history)) throw new InvalidManifestError(what, 'history must be an array');
    obj.history.forEach((h: Json, i) => {
      if (typeof h !== 'object' || h === null)
        throw new InvalidManifestError(what, `history[${i}] must be an object`);
      const e = h as Record<string, Json>;
      for (const k of ['created', 'created_by', 'author', 'comment'] as const)
        optionalString(e, k, `${what} history[${i}]`);
      if (e.empty_layer !== undefined && typeof e.empty_layer !== 'boolean')
        throw new InvalidManifestError(what, `history[${i}].empty_layer must be a boolean`);
    });
  }
  if (obj.config !== undefined && obj.config !== null) {
    if (typeof obj.config !== 'object' || Array.isArray(obj.config))
      throw new InvalidManifestError(what, 'field "config" must be an object');
    const c = obj.config as Record<string, Json>;
    for (const k of ['Env', 'Entrypoint', 'Cmd']) {
      const v = c[k];
      if (v !== undefined && v !== null && !(Array.isArray(v) && v.every((s) => typeof s === 'string'))) {
        throw new InvalidManifestError(what, `config.${k} must be an array of strings`);
      }
    }
  }
  return obj as unknown as ImageConfig;
}

/** Counts the layers a config's history says are non-empty; must equal rootfs.diff_ids' length. */
export function nonEmptyHistoryCount(history: readonly HistoryEntry[] | undefined): number {
  return (history ?? []).filter((h) => !h.empty_layer).length;
}
