import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { CacheExport, CacheLocation } from '../api/build.ts';
import { parseSize } from '../api/prune.ts';
import { type Compression, formatPlatform, type Platform, parsePlatform } from '../oci/index.ts';
import { parseReference } from '../reference/index.ts';
import type { ExtraHost, Ulimit } from '../runtime/index.ts';
import { ENTITLEMENTS, type Entitlement } from '../solver/index.ts';
import { InvalidInputError } from '../util/index.ts';

/** One `--output` as docker buildx parses it: `type=local,dest=out` or a bare path (= local). */
export interface OutputSpec {
  readonly type: 'image' | 'registry' | 'oci' | 'docker' | 'local' | 'tar' | 'cacheonly';
  readonly dest?: string;
  /** Other `key=value` attributes (name, push, compression, tar, …). */
  readonly attrs: ReadonlyMap<string, string>;
}

/** Splits `k=v,k2=v2` (values may contain `=`; CSV quoting with "" as buildx allows). */
export function parseKeyValueList(text: string, flag: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const field of splitCsv(text)) {
    const eq = field.indexOf('=');
    if (eq <= 0)
      throw new InvalidInputError(`invalid ${flag} value ${JSON.stringify(text)}: expected key=value pairs`);
    out.set(field.slice(0, eq).trim().toLowerCase(), field.slice(eq + 1));
  }
  return out;
}

function splitCsv(text: string): string[] {
  const fields: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') {
      if (quoted && text[i + 1] === '"') {
        current += '"';
        i++;
      } else quoted = !quoted;
    } else if (ch === ',' && !quoted) {
      fields.push(current);
      current = '';
    } else current += ch;
  }
  fields.push(current);
  return fields.filter((f) => f !== '');
}

const OUTPUT_TYPES = new Set(['image', 'registry', 'oci', 'docker', 'local', 'tar', 'cacheonly']);

/** `--output` / `-o`: `type=…,dest=…` or a plain path (a local directory, `-` for a tar on stdout). */
export function parseOutput(text: string): OutputSpec {
  if (!text.includes('=')) {
    return text === '-'
      ? { type: 'tar', dest: '-', attrs: new Map() }
      : { type: 'local', dest: text, attrs: new Map() };
  }
  const attrs = parseKeyValueList(text, '--output');
  const type = attrs.get('type');
  if (!type)
    throw new InvalidInputError(`--output ${JSON.stringify(text)} has no type=`, {
      hint: 'e.g. type=local,dest=out',
    });
  if (!OUTPUT_TYPES.has(type)) {
    throw new InvalidInputError(`unknown --output type ${JSON.stringify(type)}`, {
      hint: [...OUTPUT_TYPES].join(', '),
    });
  }
  attrs.delete('type');
  const dest = attrs.get('dest');
  attrs.delete('dest');
  if (
    (type === 'local' || type === 'tar' || type === 'oci' || type === 'docker') &&
    !dest &&
    type !== 'docker'
  ) {
    throw new InvalidInputError(`--output type=${type} needs dest=<path>`);
  }
  return { type: type as OutputSpec['type'], ...(dest ? { dest } : {}), attrs };
}

/** How the image's layers are compressed, from the image outputs' attributes. */
export interface OutputCompression {
  readonly compression?: Compression;
  readonly level?: number;
  readonly force?: boolean;
}

const IMAGE_OUTPUTS = new Set<OutputSpec['type']>(['image', 'registry', 'oci', 'docker']);

/**
 * buildx's `compression=gzip|zstd|uncompressed`, `compression-level=N` and
 * `force-compression=true` on image outputs. strata compresses each layer once, while it builds, so
 * every image output must ask for the same; rootfs outputs (local, tar) have no layers.
 */
export function outputCompression(outputs: readonly OutputSpec[]): OutputCompression {
  let chosen: { compression?: Compression; level?: number; force?: boolean; from: string } | undefined;
  for (const output of outputs) {
    if (!IMAGE_OUTPUTS.has(output.type)) continue;
    const name = output.attrs.get('compression');
    const levelText = output.attrs.get('compression-level');
    const forceText = output.attrs.get('force-compression');
    if (name === undefined && levelText === undefined && forceText === undefined) continue;
    const compression = name === undefined ? undefined : parseCompressionName(name);
    const effective = compression ?? 'gzip';
    let level: number | undefined;
    if (levelText !== undefined) {
      level = Number(levelText);
      const [min, max] = effective === 'zstd' ? [1, 19] : [1, 9];
      if (effective !== 'none' && (!/^\d+$/.test(levelText) || level < min || level > max)) {
        throw new InvalidInputError(`--output compression-level=${levelText} is not a ${effective} level`, {
          hint: `use ${min} to ${max}`,
        });
      }
      if (effective === 'none') level = undefined;
    }
    if (forceText !== undefined && forceText !== 'true' && forceText !== 'false')
      throw new InvalidInputError(`--output force-compression=${forceText}: use true or false`);
    const here = {
      ...(compression ? { compression } : {}),
      ...(level !== undefined ? { level } : {}),
      ...(forceText === 'true' ? { force: true } : {}),
      from: `type=${output.type}`,
    };
    if (
      chosen &&
      (chosen.compression !== here.compression || chosen.level !== here.level || chosen.force !== here.force)
    ) {
      throw new InvalidInputError(
        `--output ${chosen.from} and ${here.from} ask for different layer compression`,
        { hint: 'strata compresses each layer once, while it builds: give every image output the same' },
      );
    }
    chosen = here;
  }
  if (!chosen) return {};
  const { from: _from, ...rest } = chosen;
  return rest;
}

function parseCompressionName(name: string): Compression {
  if (name === 'gzip' || name === 'zstd') return name;
  if (name === 'uncompressed') return 'none';
  throw new InvalidInputError(`--output compression=${name} is not supported`, {
    hint: 'gzip, zstd or uncompressed',
  });
}

/** `--secret id=x,src=file` / `id=x,env=VAR` (`type=file|env` accepted) → id and content. */
export function parseSecret(
  text: string,
  env: NodeJS.ProcessEnv = process.env,
): { id: string; content: Uint8Array } {
  const attrs = parseKeyValueList(text, '--secret');
  const id = attrs.get('id');
  const src = attrs.get('src') ?? attrs.get('source');
  const envName = attrs.get('env');
  const type = attrs.get('type');
  if (!id) throw new InvalidInputError(`--secret ${JSON.stringify(text)} needs id=`);
  if (src !== undefined && type !== 'env') {
    try {
      return { id, content: readFileSync(src) };
    } catch (error) {
      throw new InvalidInputError(`--secret id=${id}: cannot read ${src}`, { cause: error });
    }
  }
  const name = envName ?? (type === 'env' ? (src ?? id) : id);
  const value = env[name];
  if (value === undefined) {
    throw new InvalidInputError(
      `--secret id=${id}: ${src === undefined && envName === undefined ? 'no src= and ' : ''}environment variable ${name} is not set`,
    );
  }
  return { id, content: Buffer.from(value) };
}

/** `--label k=v` pairs. */
export function parseLabels(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new InvalidInputError(`invalid --label ${JSON.stringify(v)}: expected key=value`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

/** The cache backends BuildKit has that strata does not, and why. */
const REFUSED_CACHE_TYPES: Readonly<Record<string, string>> = {
  inline: 'strata does not embed cache metadata in the image; use type=registry with its own ref',
  gha: 'the GitHub Actions cache service is not supported; use type=registry or type=local',
  s3: 'S3 is not supported; use type=registry or type=local',
  azblob: 'Azure Blob Storage is not supported; use type=registry or type=local',
};

/**
 * The attributes of `--cache-from` / `--cache-to` per type (BuildKit's remotecache), and what strata
 * does with each: `true` = implemented; a string = refused, and why; `default:V` = only the value
 * that asks for what strata does is accepted.
 */
const CACHE_ATTRIBUTES: Readonly<Record<string, Readonly<Record<string, true | string>>>> = {
  'from:registry': { ref: true, 'registry.insecure': true },
  'from:local': {
    src: true,
    digest: 'strata reads the layout\'s "cache" manifest, not one by digest',
    tag: 'strata names the cache "cache" in the layout',
  },
  'to:registry': {
    ref: true,
    mode: true,
    'ignore-error': true,
    mounts: true,
    'max-size': true,
    'registry.insecure': true,
    'oci-mediatypes': 'default:true',
    'image-manifest': 'default:true',
    compression: "the cache's layers are the image's: set compression= on the image --output",
    'compression-level': "the cache's layers are the image's: set compression-level= on the image --output",
    'force-compression': "the cache's layers are the image's: set force-compression= on the image --output",
  },
  'to:local': {
    dest: true,
    mode: true,
    'ignore-error': true,
    mounts: true,
    'max-size': true,
    'oci-mediatypes': 'default:true',
    'image-manifest': 'default:true',
    tag: 'strata names the cache "cache" in the layout',
    compression: "the cache's layers are the image's: set compression= on the image --output",
    'compression-level': "the cache's layers are the image's: set compression-level= on the image --output",
    'force-compression': "the cache's layers are the image's: set force-compression= on the image --output",
  },
};

const TRUE = /^(1|t|T|TRUE|true|True)$/;
const BOOLEAN = /^(1|t|T|TRUE|true|True|0|f|F|FALSE|false|False)$/;

/** Checks a cache spec's attributes against its type's (see {@link CACHE_ATTRIBUTES}). */
function checkCacheAttributes(attrs: ReadonlyMap<string, string>, type: string, flag: string): void {
  const table = CACHE_ATTRIBUTES[`${flag === '--cache-to' ? 'to' : 'from'}:${type}`]!;
  for (const [key, value] of attrs) {
    if (key === 'type') continue;
    const support = table[key];
    if (support === undefined)
      throw new InvalidInputError(`${flag} type=${type}: unknown attribute ${JSON.stringify(key)}`, {
        hint: `type=${type} takes: ${Object.keys(table).join(', ')}`,
      });
    if (support === true) continue;
    if (support.startsWith('default:')) {
      if (!BOOLEAN.test(value))
        throw new InvalidInputError(`${flag}: non-bool value ${JSON.stringify(value)} for ${key}`);
      if (TRUE.test(value) === (support === 'default:true')) continue;
      throw new InvalidInputError(`${flag} type=${type}: ${key}=${value} is not supported`, {
        hint: `strata writes the cache as an OCI image manifest (${key}=${support.slice(8)})`,
      });
    }
    throw new InvalidInputError(`${flag} type=${type}: ${key} is not supported`, { hint: support });
  }
}

/** `--cache-from type=registry,ref=…` / `type=local,src=DIR` (a bare value is a registry ref, as buildx takes it). */
export function parseCacheLocation(text: string, flag: string): CacheLocation {
  if (!text.includes('=')) return { type: 'registry', ref: text };
  const attrs = parseKeyValueList(text, flag);
  const type = attrs.get('type') ?? 'registry';
  const refused = REFUSED_CACHE_TYPES[type];
  if (refused) throw new InvalidInputError(`${flag} type=${type} is not supported`, { hint: refused });
  if (type !== 'registry' && type !== 'local')
    throw new InvalidInputError(`unknown ${flag} type ${JSON.stringify(type)}`, {
      hint: 'registry or local',
    });
  checkCacheAttributes(attrs, type, flag);
  if (type === 'registry') {
    const ref = attrs.get('ref');
    if (!ref) throw new InvalidInputError(`${flag} type=registry needs ref=<image reference>`);
    return { type, ref };
  }
  const path = attrs.get(flag === '--cache-to' ? 'dest' : 'src');
  if (!path)
    throw new InvalidInputError(
      `${flag} type=local needs ${flag === '--cache-to' ? 'dest' : 'src'}=<directory>`,
    );
  return { type, path };
}

/** Registry hosts a cache spec marks `registry.insecure=true` (plain HTTP allowed). */
export function insecureCacheHosts(texts: readonly string[], flag: string): string[] {
  const hosts: string[] = [];
  for (const text of texts) {
    if (!text.includes('=')) continue;
    const attrs = parseKeyValueList(text, flag);
    const ref = attrs.get('ref');
    const insecure = attrs.get('registry.insecure');
    if (ref && insecure !== undefined && (insecure === '' || TRUE.test(insecure)))
      hosts.push(parseReference(ref).domain);
  }
  return hosts;
}

/** `--cache-to …[,mode=min|max][,ignore-error=true]` (default min, as buildx); one only. */
export function parseCacheExport(values: readonly string[]): CacheExport | undefined {
  if (values.length > 1)
    throw new InvalidInputError(
      `--cache-to given ${values.length} times: strata exports one cache per build`,
      {
        hint: 'keep one --cache-to',
      },
    );
  const text = values[0];
  if (text === undefined) return undefined;
  const location = parseCacheLocation(text, '--cache-to');
  const attrs = text.includes('=') ? parseKeyValueList(text, '--cache-to') : new Map<string, string>();
  const mode = attrs.get('mode') ?? 'min';
  if (mode !== 'min' && mode !== 'max')
    throw new InvalidInputError(`--cache-to mode must be min or max, got ${JSON.stringify(mode)}`);
  const ignoreError = attrs.get('ignore-error');
  if (ignoreError !== undefined && !BOOLEAN.test(ignoreError))
    throw new InvalidInputError(`--cache-to: non-bool value ${JSON.stringify(ignoreError)} for ignore-error`);
  const mounts = parseCacheMountsSelection(attrs.get('mounts'));
  const maxSizeText = attrs.get('max-size');
  const maxSize = maxSizeText === undefined ? undefined : parseSize(maxSizeText);
  if (maxSize !== undefined && mounts === undefined)
    throw new InvalidInputError(
      '--cache-to: max-size= limits exported cache mounts; it needs mounts=all or mounts=ID',
    );
  return {
    ...location,
    mode,
    ...(ignoreError !== undefined && TRUE.test(ignoreError) ? { ignoreError: true } : {}),
    ...(mounts !== undefined ? { mounts } : {}),
    ...(maxSize !== undefined ? { maxSize } : {}),
  };
}

/**
 * `--cache-to …,mounts=all|none|ID[;ID…]`: which `RUN --mount=type=cache` directories the cache
 * carries (strata's own attribute; `;` separates ids because `,` separates attributes). `none`, the
 * default, is undefined.
 */
function parseCacheMountsSelection(value: string | undefined): 'all' | readonly string[] | undefined {
  if (value === undefined || value === 'none') return undefined;
  if (value === 'all') return 'all';
  const ids = value.split(';');
  if (ids.some((id) => id.trim() === ''))
    throw new InvalidInputError(`--cache-to: mounts=${JSON.stringify(value)} has an empty id`, {
      hint: 'mounts=all, mounts=none or mounts=ID[;ID…] (a mount without id= is named by its target)',
    });
  return ids.map((id) => id.trim());
}

/**
 * `--allow network.host,security.insecure` (repeatable, comma lists, as buildx): the entitlements
 * the build is granted. An unknown one is refused, so a typo does not silently grant nothing.
 */
export function parseAllow(values: readonly string[]): Entitlement[] {
  const granted = new Set<Entitlement>();
  for (const value of values) {
    for (const field of splitCsv(value)) {
      const name = field.trim();
      if (!(ENTITLEMENTS as readonly string[]).includes(name)) {
        throw new InvalidInputError(`invalid --allow ${JSON.stringify(name)}`, {
          hint: ENTITLEMENTS.join(', '),
        });
      }
      granted.add(name as Entitlement);
    }
  }
  return [...granted];
}

/**
 * The platforms of `--platform` (repeatable and comma-separated, as buildx takes them), in the
 * order given, each normalised as BuildKit's platforms are (`linux/arm64/v8` is `linux/arm64`,
 * `aarch64` is `arm64`) and given once. None: the build is for the host, one image.
 */
export function parsePlatforms(values: readonly string[]): Platform[] {
  const platforms = new Map<string, Platform>();
  for (const value of values)
    for (const text of value.split(',')) {
      if (text.trim() === '') continue;
      const platform = parsePlatform(text);
      const key = formatPlatform(platform);
      if (!platforms.has(key)) platforms.set(key, platform);
    }
  return [...platforms.values()];
}

/**
 * `--provenance`, `--sbom` and `--attest` (buildx's forms: a boolean, or `key=value` CSV with
 * `type=` and `disabled=`): strata makes no attestations, so only the forms that ask for none are
 * accepted; one asking for an attestation is an error naming it.
 */
export function checkAttestations(flags: {
  readonly provenance?: string;
  readonly sbom?: string;
  readonly attest: readonly string[];
}): void {
  const canonical = (type: string, value: string) =>
    /^(1|t|T|TRUE|true|True|0|f|F|FALSE|false|False)$/.test(value)
      ? `type=${type},disabled=${!/^(1|t|T|TRUE|true|True)$/.test(value)}`
      : `type=${type},${value}`;
  const entries = [
    ...(flags.provenance
      ? [{ flag: `--provenance=${flags.provenance}`, text: canonical('provenance', flags.provenance) }]
      : []),
    ...(flags.sbom ? [{ flag: `--sbom=${flags.sbom}`, text: canonical('sbom', flags.sbom) }] : []),
    ...flags.attest.map((a) => ({ flag: `--attest ${a}`, text: a })),
  ];
  for (const { flag, text } of entries) {
    const attrs = parseKeyValueList(text, flag.split(/[ =]/)[0]!);
    const type = attrs.get('type');
    if (type !== 'provenance' && type !== 'sbom')
      throw new InvalidInputError(
        `${flag}: attestation type ${JSON.stringify(type ?? '')} is not provenance or sbom`,
      );
    const disabled = attrs.get('disabled');
    if (disabled !== undefined && !/^(1|t|T|TRUE|true|True|0|f|F|FALSE|false|False)$/.test(disabled))
      throw new InvalidInputError(`${flag}: invalid value disabled=${disabled}`);
    if (disabled === undefined || !/^(1|t|T|TRUE|true|True)$/.test(disabled))
      throw new InvalidInputError(
        `${flag}: strata does not produce ${type === 'sbom' ? 'SBOM' : 'provenance'} attestations`,
        {
          hint: `pass --${type}=false (or leave it out) until strata makes attestations`,
        },
      );
  }
}

/**
 * `--add-host host:ip` or `host=ip` (repeatable), as buildx takes it: the address may be a comma
 * list (one line each) and IPv6 in brackets. `host-gateway` is refused: strata's sandbox network
 * (slirp4netns with host loopback disabled) has no address that reaches the host.
 */
export function parseAddHosts(values: readonly string[]): ExtraHost[] {
  const hosts: ExtraHost[] = [];
  for (const value of values) {
    let cut = value.indexOf('=');
    if (cut < 0) cut = value.indexOf(':');
    const host = cut < 0 ? '' : value.slice(0, cut);
    const ips = cut < 0 ? '' : value.slice(cut + 1);
    if (host === '' || ips === '')
      throw new InvalidInputError(`invalid --add-host ${JSON.stringify(value)}`, {
        hint: 'host:ip or host=ip',
      });
    if (ips === 'host-gateway')
      throw new InvalidInputError(`--add-host ${value}: host-gateway is not supported`, {
        hint: "strata's build network cannot reach the host; use an address, or --network host with --allow network.host",
      });
    for (let ip of ips.split(',')) {
      if (ip.length > 2 && ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
      if (isIP(ip) === 0)
        throw new InvalidInputError(
          `invalid --add-host ${JSON.stringify(value)}: invalid IP address ${JSON.stringify(ip)}`,
        );
      hosts.push({ host, ip });
    }
  }
  return hosts;
}

/** docker's ulimit names (go-units), and the rlimit each sets. */
const ULIMITS: Readonly<Record<string, string>> = {
  core: 'RLIMIT_CORE',
  cpu: 'RLIMIT_CPU',
  data: 'RLIMIT_DATA',
  fsize: 'RLIMIT_FSIZE',
  locks: 'RLIMIT_LOCKS',
  memlock: 'RLIMIT_MEMLOCK',
  msgqueue: 'RLIMIT_MSGQUEUE',
  nice: 'RLIMIT_NICE',
  nofile: 'RLIMIT_NOFILE',
  nproc: 'RLIMIT_NPROC',
  rss: 'RLIMIT_RSS',
  rtprio: 'RLIMIT_RTPRIO',
  rttime: 'RLIMIT_RTTIME',
  sigpending: 'RLIMIT_SIGPENDING',
  stack: 'RLIMIT_STACK',
};

/** `--ulimit name=soft[:hard]` (repeatable; docker's syntax; a later one of a type replaces an earlier). */
export function parseUlimits(values: readonly string[]): Ulimit[] {
  const byType = new Map<string, Ulimit>();
  for (const value of values) {
    const m = /^([a-z]+)=(\d+)(?::(\d+))?$/.exec(value);
    const type = m ? ULIMITS[m[1]!] : undefined;
    if (!m || !type)
      throw new InvalidInputError(`invalid --ulimit ${JSON.stringify(value)}`, {
        hint: `name=soft[:hard] with name one of ${Object.keys(ULIMITS).join(', ')}`,
      });
    const soft = Number(m[2]);
    const hard = m[3] === undefined ? soft : Number(m[3]);
    if (!Number.isSafeInteger(soft) || !Number.isSafeInteger(hard))
      throw new InvalidInputError(`invalid --ulimit ${JSON.stringify(value)}: value too large`);
    if (soft > hard)
      throw new InvalidInputError(
        `invalid --ulimit ${JSON.stringify(value)}: soft limit must be less than or equal to hard limit`,
      );
    byType.set(type, { type, soft, hard });
  }
  return [...byType.values()];
}

/** `--shm-size 128m` (docker's RAMInBytes: a number with an optional b, k, m, g suffix, binary units). */
export function parseShmSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(value.trim());
  if (!m)
    throw new InvalidInputError(`invalid --shm-size ${JSON.stringify(value)}`, { hint: 'e.g. 64m, 1g' });
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[
    m[2]!.toLowerCase()
  ]!;
  const bytes = Math.floor(Number(m[1]) * unit);
  if (bytes <= 0)
    throw new InvalidInputError(`invalid --shm-size ${JSON.stringify(value)}: must be positive`);
  return bytes;
}
