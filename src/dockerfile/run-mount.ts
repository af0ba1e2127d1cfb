import { DockerfileError } from './dockerfile-error.ts';
import type { CacheSharing, MountType, RunDevice, RunMount } from './instructions.ts';
import { didYouMean } from './suggest.ts';

const MOUNT_TYPES: readonly MountType[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];
const SHARING: readonly CacheSharing[] = ['shared', 'private', 'locked'];
const KEYS = [
  'type',
  'from',
  'source',
  'target',
  'readonly',
  'id',
  'sharing',
  'required',
  'size',
  'mode',
  'uid',
  'gid',
  'src',
  'dst',
  'destination',
  'ro',
  'rw',
  'readwrite',
  'env',
];

/**
 * Parses one `RUN --mount=` value (comma-separated `key=value` fields, CSV quoting) with BuildKit's
 * rules (instructions/commands_runmount.go). `expand` substitutes variables in each value; without
 * it the values are kept as written, and a value that contains `$` is checked later, once the
 * planner knows the variables. Throws {@link DockerfileError} (without location).
 */
export function parseRunMount(text: string, expand?: (value: string) => string): RunMount {
  const fields = splitCsv(text);
  const mount: MountFields = {
    type: 'bind',
    deferred: expand === undefined && fields.some((f) => f.includes('$')),
  };
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq === -1 ? field : field.slice(0, eq)).toLowerCase();
    if (eq === -1) {
      applyBareKey(mount, key, field);
      continue;
    }
    let value = field.slice(eq + 1);
    if (key === 'from' && expand === undefined) {
      const dollar = value.indexOf('$');
      if (dollar !== -1 && dollar !== value.length - 1) {
        throw new DockerfileError(`'${key}' doesn't support variable expansion, define alias stage instead`);
      }
    }
    if (expand !== undefined) value = expand(value);
    const literal = !value.includes('$') || expand !== undefined;
    applyField(mount, { key, value, literal, field });
  }
  if (!mount.deferred) checkMount(mount);
  return {
    type: mount.type,
    from: mount.from,
    source: mount.source,
    target: mount.target,
    readOnly: mount.readOnly,
    size: mount.size,
    id: mount.id,
    sharing: mount.sharing,
    required: mount.required,
    env: mount.env,
    mode: mount.mode,
    uid: mount.uid,
    gid: mount.gid,
    text,
  };
}

/** A mount while its fields are read; `deferred` when values with `$` wait for the planner. */
type MountFields = { -readonly [K in keyof Omit<RunMount, 'text'>]?: RunMount[K] } & {
  type: MountType;
  readonly deferred: boolean;
};

/** A field without `=`: `ro`, `rw` and `required` alone mean true. */
function applyBareKey(m: MountFields, key: string, field: string): void {
  if (key === 'readonly' || key === 'ro') m.readOnly = true;
  else if (key === 'readwrite' || key === 'rw') m.readOnly = false;
  else if (key === 'required') {
    if (m.type !== 'secret' && m.type !== 'ssh' && !m.deferred)
      throw new DockerfileError(`unexpected key '${key}' for mount type '${m.type}'`);
    m.required = true;
  } else throw new DockerfileError(`invalid field '${field}' must be a key=value pair`);
}

/**
 * One `key=value` field. A value still holding `$` (not `literal`) is kept unchecked where the
 * key takes text, and skipped where it must be parsed: the planner parses the mount again.
 */
function applyField(
  m: MountFields,
  f: { readonly key: string; readonly value: string; readonly literal: boolean; readonly field: string },
): void {
  const { key, value, literal } = f;
  switch (key) {
    case 'type': {
      const lowered = value.toLowerCase();
      if (!literal) return;
      if (!(MOUNT_TYPES as readonly string[]).includes(lowered)) {
        throw new DockerfileError(`unsupported mount type ${JSON.stringify(value)}`, {
          hint: didYouMean(value, MOUNT_TYPES, { caseSensitive: true }) ?? `one of ${MOUNT_TYPES.join(', ')}`,
        });
      }
      m.type = lowered as MountType;
      return;
    }
    case 'from':
      m.from = value;
      return;
    case 'source':
    case 'src':
      m.source = value;
      return;
    case 'target':
    case 'dst':
    case 'destination':
      m.target = value;
      return;
    case 'readonly':
    case 'ro':
      if (literal) m.readOnly = parseGoBool(key, value);
      return;
    case 'readwrite':
    case 'rw':
      if (literal) m.readOnly = !parseGoBool(key, value);
      return;
    case 'required':
      if (!literal) return;
      if (m.type !== 'secret' && m.type !== 'ssh' && !m.deferred)
        throw new DockerfileError(`unexpected key '${key}' for mount type '${m.type}'`);
      m.required = parseGoBool(key, value);
      return;
    case 'size':
      if (!literal) return;
      if (m.type !== 'tmpfs' && !m.deferred)
        throw new DockerfileError(`unexpected key '${key}' for mount type '${m.type}'`);
      m.size = parseRamBytes(key, value);
      return;
    case 'id':
      m.id = value;
      return;
    case 'sharing':
      if (literal) m.sharing = parseSharing(value);
      return;
    case 'mode':
      if (literal) m.mode = parseUint(value, 8, 'mode');
      return;
    case 'uid':
      if (literal) m.uid = parseUint(value, 10, 'uid');
      return;
    case 'gid':
      if (literal) m.gid = parseUint(value, 10, 'gid');
      return;
    case 'env':
      m.env = value;
      return;
    default:
      throw new DockerfileError(`unexpected key '${key}' in '${f.field}'`, {
        hint: didYouMean(key, KEYS, { caseSensitive: true }),
      });
  }
}

function parseSharing(value: string): CacheSharing {
  const lowered = value.toLowerCase();
  if (!(SHARING as readonly string[]).includes(lowered)) {
    throw new DockerfileError(`unsupported sharing value ${JSON.stringify(value)}`, {
      hint: didYouMean(value, SHARING, { caseSensitive: true }) ?? `one of ${SHARING.join(', ')}`,
    });
  }
  return lowered as CacheSharing;
}

/** What BuildKit checks once every field is read: options the mount's type does not take. */
function checkMount(m: MountFields): void {
  const { type } = m;
  const fileInfo = type === 'secret' || type === 'ssh' || type === 'cache';
  if (!fileInfo) {
    for (const key of ['mode', 'uid', 'gid'] as const) {
      if (m[key] !== undefined)
        throw new DockerfileError(`${key} not allowed for ${JSON.stringify(type)} type mounts`);
    }
  }
  if (type === 'secret') {
    if (m.from !== undefined && m.from !== '')
      throw new DockerfileError('secret mount should not have a from');
    if (m.sharing !== undefined) throw new DockerfileError('secret mount should not define sharing');
    if (!m.source && !m.target && !m.id)
      throw new DockerfileError('invalid secret mount. one of source, target required');
    if (m.source && m.id) throw new DockerfileError("both source and id can't be set");
  }
  if (m.sharing !== undefined && type !== 'cache')
    throw new DockerfileError(`invalid cache sharing set for ${type} mount`);
}

/**
 * Parses one `RUN --device=` value as BuildKit does (instructions/commands_rundevice.go): the first
 * bare field or `name=` is the CDI device name, `required` or `required=<bool>` marks it required.
 */
export function parseRunDevice(text: string): RunDevice {
  let name = '';
  let required = false;
  for (const field of splitCsv(text, 'devices')) {
    const eq = field.indexOf('=');
    const key = (eq === -1 ? field : field.slice(0, eq)).toLowerCase();
    const value = eq === -1 ? '' : field.slice(eq + 1);
    if (eq === -1) {
      if (key === 'required') required = true;
      else if (name === '') name = field;
      else throw new DockerfileError(`invalid field '${field}' must be a key=value pair`);
    } else if (key === 'name') {
      if (name !== '') throw new DockerfileError(`device name already set to ${name}`);
      name = value;
    } else if (key === 'required') {
      required = parseGoBool(key, value);
    } else if (name === '') {
      name = field;
    } else {
      throw new DockerfileError(`unexpected key '${key}' in '${field}'`, {
        hint: didYouMean(key, ['name', 'required'], { caseSensitive: true }),
      });
    }
  }
  return { name, required };
}

/** Whether a mount is read-only: the explicit choice, else bind/secret/ssh yes, cache/tmpfs no. */
export function mountIsReadOnly(mount: RunMount): boolean {
  return mount.readOnly ?? !(mount.type === 'cache' || mount.type === 'tmpfs');
}

/** Go's encoding/csv for one record: `"` quotes a field, `""` inside quotes is a quote. */
export function splitCsv(text: string, what = 'mounts'): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length)
          throw new DockerfileError(`failed to parse csv ${what}: extraneous or missing " in quoted-field`);
        const ch = text[i]!;
        if (ch === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += ch;
        i++;
      }
      if (i < text.length && text[i] !== ',') {
        throw new DockerfileError(`failed to parse csv ${what}: extraneous or missing " in quoted-field`);
      }
    } else {
      const comma = text.indexOf(',', i);
      field = comma === -1 ? text.slice(i) : text.slice(i, comma);
      if (field.includes('"'))
        throw new DockerfileError(`failed to parse csv ${what}: bare " in non-quoted-field`);
      i = comma === -1 ? text.length : comma;
    }
    fields.push(field);
    if (i >= text.length) return fields;
    i++; // the comma
  }
}

function parseGoBool(key: string, value: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw new DockerfileError(`invalid value for ${key}: ${value}`);
}

function parseUint(value: string, base: 8 | 10, key: string): number {
  const digits = base === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  const parsed = digits.test(value) ? Number.parseInt(value, base) : Number.NaN;
  if (!Number.isSafeInteger(parsed) || parsed > 0xffffffff)
    throw new DockerfileError(`invalid value ${value} for ${key}`);
  return parsed;
}

/** docker/go-units `RAMInBytes`: `64m`, `1.5g`, `512KiB` in binary multiples. */
function parseRamBytes(key: string, value: string): number {
  const match = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(value);
  const amount = match === null ? Number.NaN : Number(match[1]);
  if (match === null || Number.isNaN(amount)) throw new DockerfileError(`invalid value for ${key}: ${value}`);
  const unit = (match[2] ?? '').toLowerCase();
  const power = unit === '' ? 0 : 'kmgtp'.indexOf(unit) + 1;
  return Math.trunc(amount * 1024 ** power);
}
