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
  const deferred = expand === undefined && fields.some((f) => f.includes('$'));
  let type: MountType = 'bind';
  let readOnly: boolean | undefined;
  const m: { -readonly [K in keyof RunMount]?: RunMount[K] } = {};
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq === -1 ? field : field.slice(0, eq)).toLowerCase();
    let value = eq === -1 ? '' : field.slice(eq + 1);
    if (eq === -1) {
      if (key === 'readonly' || key === 'ro') readOnly = true;
      else if (key === 'readwrite' || key === 'rw') readOnly = false;
      else if (key === 'required') {
        if (type !== 'secret' && type !== 'ssh' && !deferred)
          throw new DockerfileError(`unexpected key '${key}' for mount type '${type}'`);
        m.required = true;
      } else throw new DockerfileError(`invalid field '${field}' must be a key=value pair`);
      continue;
    }
    if (key === 'from' && expand === undefined) {
      const dollar = value.indexOf('$');
      if (dollar !== -1 && dollar !== value.length - 1) {
        throw new DockerfileError(`'${key}' doesn't support variable expansion, define alias stage instead`);
      }
    }
    if (expand !== undefined) value = expand(value);
    const literal = !value.includes('$') || expand !== undefined;
    switch (key) {
      case 'type': {
        const lowered = value.toLowerCase();
        if (!literal) break;
        if (!(MOUNT_TYPES as readonly string[]).includes(lowered)) {
          throw new DockerfileError(`unsupported mount type ${JSON.stringify(value)}`, {
            hint:
              didYouMean(value, MOUNT_TYPES, { caseSensitive: true }) ?? `one of ${MOUNT_TYPES.join(', ')}`,
          });
        }
        type = lowered as MountType;
        break;
      }
      case 'from':
        m.from = value;
        break;
      case 'source':
      case 'src':
        m.source = value;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.target = value;
        break;
      case 'readonly':
      case 'ro':
        if (literal) readOnly = parseGoBool(key, value);
        break;
      case 'readwrite':
      case 'rw':
        if (literal) readOnly = !parseGoBool(key, value);
        break;
      case 'required':
        if (!literal) break;
        if (type !== 'secret' && type !== 'ssh' && !deferred)
          throw new DockerfileError(`unexpected key '${key}' for mount type '${type}'`);
        m.required = parseGoBool(key, value);
        break;
      case 'size':
        if (!literal) break;
        if (type !== 'tmpfs' && !deferred)
          throw new DockerfileError(`unexpected key '${key}' for mount type '${type}'`);
        m.size = parseRamBytes(key, value);
        break;
      case 'id':
        m.id = value;
        break;
      case 'sharing': {
        if (!literal) break;
        const lowered = value.toLowerCase();
        if (!(SHARING as readonly string[]).includes(lowered)) {
          throw new DockerfileError(`unsupported sharing value ${JSON.stringify(value)}`, {
            hint: didYouMean(value, SHARING, { caseSensitive: true }) ?? `one of ${SHARING.join(', ')}`,
          });
        }
        m.sharing = lowered as CacheSharing;
        break;
      }
      case 'mode':
        if (literal) m.mode = parseUint(value, 8, 'mode');
        break;
      case 'uid':
        if (literal) m.uid = parseUint(value, 10, 'uid');
        break;
      case 'gid':
        if (literal) m.gid = parseUint(value, 10, 'gid');
        break;
      case 'env':
        m.env = value;
        break;
      default:
        throw new DockerfileError(`unexpected key '${key}' in '${field}'`, {
          hint: didYouMean(key, KEYS, { caseSensitive: true }),
        });
    }
  }
  if (!deferred) {
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
  return {
    type,
    from: m.from,
    source: m.source,
    target: m.target,
    readOnly,
    size: m.size,
    id: m.id,
    sharing: m.sharing,
    required: m.required,
    env: m.env,
    mode: m.mode,
    uid: m.uid,
    gid: m.gid,
    text,
  };
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
