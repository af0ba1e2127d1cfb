import type { BuildOutput, OutputAnnotation, OutputManifest } from '../api/export-build-output.ts';
import { parsePlatform } from '../oci/index.ts';
import { InvalidInputError } from '../util/index.ts';
import type { OutputSpec } from './build-flags.ts';

/**
 * What strata does with one exporter attribute BuildKit knows: `ok` (implemented with BuildKit's
 * meaning), `vacuous` (accepted: it is about attestations, which strata does not make, so the
 * result is the one buildx gives without them), or a reason it is refused. Values that ask for the
 * default are accepted even where the attribute is refused (`unpack=false`, `push-by-digest=false`).
 */
type AttributeSupport =
  | { readonly kind: 'ok' }
  | { readonly kind: 'bool'; readonly refusedWhen?: boolean; readonly why?: string }
  | { readonly kind: 'refused'; readonly why: string };

const OK: AttributeSupport = { kind: 'ok' };
const BOOL: AttributeSupport = { kind: 'bool' };
const COMPRESSION: Record<string, AttributeSupport> = {
  compression: OK,
  'compression-level': OK,
  'force-compression': BOOL,
};
const EPOCH: Record<string, AttributeSupport> = {
  'source-date-epoch': {
    kind: 'refused',
    why: 'set SOURCE_DATE_EPOCH in the environment or with --build-arg SOURCE_DATE_EPOCH=…',
  },
};
const IMAGE_FORMAT: Record<string, AttributeSupport> = {
  name: OK,
  'oci-mediatypes': BOOL,
  // Attestation manifests only; strata makes none, so the image is the same either way.
  'oci-artifact': BOOL,
  'attestation-inline': BOOL,
  'prefer-nondist-layers': {
    kind: 'bool',
    refusedWhen: true,
    why: 'strata does not keep non-distributable layers apart',
  },
  'rewrite-timestamp': BOOL,
  ...COMPRESSION,
  ...EPOCH,
};

/** The attributes each output type takes (BuildKit's exporters, and buildx's `dest`). */
const IMAGE: Readonly<Record<string, AttributeSupport>> = {
  ...IMAGE_FORMAT,
  push: BOOL,
  'push-by-digest': {
    kind: 'bool',
    refusedWhen: true,
    why: 'push-by-digest is not supported (it serves merging images built on several machines; strata builds every platform in one build: --platform a,b)',
  },
  'registry.insecure': BOOL,
  unpack: {
    kind: 'bool',
    refusedWhen: true,
    why: "strata's store keeps images packed (strata run unpacks on use); unpack=true has no place to unpack to",
  },
  store: BOOL,
  'dangling-name-prefix': OK,
  'danging-name-empty-only': { kind: 'refused', why: 'strata does not name dangling images after the fact' },
  'name-canonical': BOOL,
};

/** The attributes each output type takes (BuildKit's exporters, and buildx's `dest`). */
export const OUTPUT_ATTRIBUTES: Readonly<
  Record<OutputSpec['type'], Readonly<Record<string, AttributeSupport>>>
> = {
  image: IMAGE,
  registry: IMAGE,
  oci: { ...IMAGE_FORMAT, dest: OK, tar: BOOL },
  docker: {
    ...IMAGE_FORMAT,
    dest: OK,
    tar: {
      kind: 'bool',
      refusedWhen: false,
      why: 'type=docker writes an archive: use type=oci,tar=false for a directory',
    },
    context: { kind: 'refused', why: 'strata loads into the docker CLI’s current context only' },
  },
  local: {
    dest: OK,
    'platform-split': BOOL,
    'attestation-prefix': OK,
    mode: OK,
    ...EPOCH,
  },
  tar: { dest: OK, 'platform-split': BOOL, 'attestation-prefix': OK, ...EPOCH },
  cacheonly: {},
};

const ANNOTATION_KEY = /^annotation(?:-([a-z-]+))?(?:\[([A-Za-z0-9_/-]+)\])?\.(\S+)$/;
const ANNOTATION_TYPES = ['manifest', 'manifest-descriptor', 'index', 'index-descriptor'] as const;

/** `annotation[-type][[platform]].key` (BuildKit's exporter annotation keys); undefined for other keys. */
export function parseAnnotationAttribute(key: string, value: string): OutputAnnotation | undefined {
  const match = ANNOTATION_KEY.exec(key);
  if (!match) return undefined;
  const [, type = 'manifest', platform, name] = match;
  if (!(ANNOTATION_TYPES as readonly string[]).includes(type))
    throw new InvalidInputError(`--output ${key}: unrecognized annotation type ${type}`, {
      hint: `annotation.KEY or annotation-{${ANNOTATION_TYPES.join(',')}}.KEY`,
    });
  return {
    on: type as OutputAnnotation['on'],
    key: name!,
    value,
    ...(platform ? { platform: parsePlatform(platform) } : {}),
  };
}

/**
 * `--annotation [TYPES:]KEY=VALUE` as buildx parses it: TYPES is a comma list of `manifest`,
 * `index`, `manifest-descriptor`, `index-descriptor`, each optionally `[os/arch]`; none means the
 * manifest. buildx adds each to every output as `annotation…` attributes.
 */
export function parseAnnotationFlag(text: string): OutputAnnotation[] {
  const eq = text.indexOf('=');
  if (eq < 0) throw new InvalidInputError(`invalid --annotation ${JSON.stringify(text)}, expected key=value`);
  const key = text.slice(0, eq);
  const value = text.slice(eq + 1);
  const colon = key.indexOf(':');
  if (colon < 0) return [{ on: 'manifest', key, value }];
  const out: OutputAnnotation[] = [];
  for (const typeAndPlatform of key.slice(0, colon).split(',')) {
    const match = /^([a-z-]+)(?:\[([A-Za-z0-9_/-]+)\])?$/.exec(typeAndPlatform);
    if (!match)
      throw new InvalidInputError(
        `invalid --annotation type ${JSON.stringify(typeAndPlatform)}, expected type and optional platform in square brackets`,
      );
    const [, type, platform] = match;
    if (!(ANNOTATION_TYPES as readonly string[]).includes(type!))
      throw new InvalidInputError(`unknown --annotation type ${JSON.stringify(type)}`, {
        hint: ANNOTATION_TYPES.join(', '),
      });
    out.push({
      on: type as OutputAnnotation['on'],
      key: key.slice(colon + 1),
      value,
      ...(platform ? { platform: parsePlatform(platform) } : {}),
    });
  }
  return out;
}

/** Go's strconv.ParseBool, as BuildKit reads its boolean attributes; an empty value is true. */
function parseBool(value: string, key: string, type: string): boolean {
  if (['', '1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw new InvalidInputError(`--output type=${type}: non-bool value ${JSON.stringify(value)} for ${key}`);
}

/**
 * Checks every attribute of an `--output` against what its type takes, and returns the booleans
 * read. An attribute no exporter of that type has is an error listing the valid ones; one strata
 * does not implement is an error naming it and why.
 */
function checkAttributes(spec: OutputSpec): { bools: Map<string, boolean>; annotations: OutputAnnotation[] } {
  const type = spec.type === 'registry' ? 'image' : spec.type;
  const table = OUTPUT_ATTRIBUTES[type];
  const bools = new Map<string, boolean>();
  const annotations: OutputAnnotation[] = [];
  const takesAnnotations = type === 'image' || type === 'oci' || type === 'docker';
  // parseOutput keeps dest apart from the other attributes; it is one only some types take.
  const attrs =
    spec.dest !== undefined && !table.dest ? [['dest', spec.dest] as const, ...spec.attrs] : spec.attrs;
  for (const [key, value] of attrs) {
    if (key === 'load' && spec.type === 'docker') continue; // --load's own marker, never from -o
    if (takesAnnotations) {
      const annotation = parseAnnotationAttribute(key, value);
      if (annotation) {
        annotations.push(annotation);
        continue;
      }
    }
    const support = table[key];
    if (!support) {
      const valid = [...Object.keys(table), ...(takesAnnotations ? ['annotation.*'] : [])].sort();
      throw new InvalidInputError(`--output type=${spec.type}: unknown attribute ${JSON.stringify(key)}`, {
        hint:
          valid.length > 0
            ? `type=${spec.type} takes: ${valid.join(', ')}`
            : `type=${spec.type} takes no attributes`,
      });
    }
    if (support.kind === 'refused')
      throw new InvalidInputError(`--output type=${spec.type}: ${key} is not supported`, {
        hint: support.why,
      });
    if (support.kind === 'bool') {
      const b = parseBool(value, key, spec.type);
      if (support.refusedWhen === b)
        throw new InvalidInputError(`--output type=${spec.type}: ${key}=${value} is not supported`, {
          ...(support.why ? { hint: support.why } : {}),
        });
      bools.set(key, b);
    }
  }
  if (type === 'local') {
    const mode = spec.attrs.get('mode');
    if (mode !== undefined && mode !== 'copy')
      throw new InvalidInputError(`--output type=local: mode=${mode} is not supported`, {
        hint: 'strata writes into dest without deleting what is there (mode=copy)',
      });
  }
  if (bools.get('oci-mediatypes') === false && spec.attrs.get('compression') === 'zstd')
    throw new InvalidInputError(
      `--output type=${spec.type}: exporter option "compression=zstd" conflicts with "oci-mediatypes=false"`,
    );
  return { bools, annotations };
}

/** Inputs from other flags that shape an output: `-t` names, `--annotation`s, `--load`. */
export interface OutputContext {
  readonly tags: readonly string[];
  readonly annotations: readonly OutputAnnotation[];
}

/**
 * One parsed `--output` as the typed {@link BuildOutput} the API exports, with buildx's rules:
 * `type=registry` is `type=image,push=true`; `-t` names replace `name=` on image, oci and docker
 * outputs; `--annotation`s are added to each; unknown and unimplemented attributes are refused.
 */
export function toBuildOutput(spec: OutputSpec, context: OutputContext): BuildOutput {
  const { bools, annotations } = checkAttributes(spec);
  const named = spec.attrs.get('name');
  const names =
    context.tags.length > 0 ? [...context.tags] : named ? named.split(',').filter((n) => n !== '') : [];
  const manifest: OutputManifest = {
    mediaTypes: bools.get('oci-mediatypes') === false ? 'docker' : 'oci',
    annotations: [...annotations, ...context.annotations],
  };
  switch (spec.type) {
    case 'image':
    case 'registry': {
      const dangling = spec.attrs.get('dangling-name-prefix');
      return {
        type: 'image',
        names,
        push: spec.type === 'registry' || bools.get('push') === true,
        store: bools.get('store') ?? true,
        insecure: bools.get('registry.insecure') ?? false,
        nameCanonical: bools.get('name-canonical') ?? false,
        ...(dangling !== undefined ? { danglingPrefix: dangling } : {}),
        manifest,
      };
    }
    case 'oci':
      return { type: 'oci', dest: spec.dest!, tar: bools.get('tar') ?? true, names, manifest };
    case 'docker':
      return {
        type: 'docker',
        ...(spec.dest !== undefined ? { dest: spec.dest } : {}),
        load: spec.attrs.get('load') === 'true' || spec.dest === undefined,
        names,
        manifest,
      };
    case 'local':
    case 'tar': {
      const split = bools.get('platform-split');
      return { type: spec.type, dest: spec.dest!, ...(split !== undefined ? { platformSplit: split } : {}) };
    }
    case 'cacheonly':
      return { type: 'cacheonly' };
  }
}

/**
 * `rewrite-timestamp=`: with SOURCE_DATE_EPOCH strata clamps every layer's file times to it when
 * it commits the layer (and keys the step's cache on the epoch), which is what BuildKit's
 * `rewrite-timestamp=true` does at export; `true` is therefore accepted, and `false` with an epoch
 * refused — strata cannot leave the times unclamped. Without an epoch neither changes anything, as
 * in BuildKit.
 */
export function checkRewriteTimestamp(specs: readonly OutputSpec[], epoch: string | undefined): void {
  if (epoch === undefined || epoch === '') return;
  for (const s of specs) {
    const v = s.attrs.get('rewrite-timestamp');
    if (v !== undefined && !parseBool(v, 'rewrite-timestamp', s.type))
      throw new InvalidInputError(
        `--output type=${s.type}: rewrite-timestamp=false is not supported with SOURCE_DATE_EPOCH`,
        { hint: 'strata always clamps layer file times to SOURCE_DATE_EPOCH (rewrite-timestamp=true)' },
      );
  }
}

/**
 * The outputs a build exports, from its `--output`s (and `--push`, `--load`). Without an image
 * output (and without `type=cacheonly`), strata names the image in its own store under the `-t`
 * tags, as the docker driver's default `image` export does.
 */
export function buildOutputs(specs: readonly OutputSpec[], context: OutputContext): BuildOutput[] {
  const outputs = specs.map((s) => toBuildOutput(s, context));
  if (!specs.some((s) => s.type === 'image' || s.type === 'registry' || s.type === 'cacheonly'))
    outputs.unshift(toBuildOutput({ type: 'image', attrs: new Map() }, context));
  return outputs;
}
