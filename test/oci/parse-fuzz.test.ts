import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  InvalidManifestError,
  MediaTypes,
  parseImageConfig,
  parseIndex,
  parseManifest,
  sniffManifestKind,
} from '../../src/oci/index.ts';
import { FUZZ_SEED, fuzz, type Random } from '../support/fuzz.ts';

// Seeded fuzzing of the manifest, index and config parsers: valid documents with fields replaced by
// random JSON (wrong types, huge numbers, deep nesting, long strings), then sometimes cut or
// garbled as text. Every parser may only throw InvalidManifestError (a StrataError).

const D = `sha256:${'a'.repeat(64)}`;

function deep(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? [value] : { k: value };
  return value;
}

/** JSON text nested `depth` deep, built as text: JSON.stringify would overflow the stack first. */
function deepText(depth: number): string {
  return `${'[{"k":'.repeat(depth)}1${'}]'.repeat(depth)}`;
}

function randomJson(random: Random, depth = 0): unknown {
  switch (random.int(depth > 3 ? 9 : 12)) {
    case 0:
      return null;
    case 1:
      return random.chance(0.5);
    case 2:
      return random.pick([0, -1, 2, 1.5, 1e308, -0, 2 ** 53, 2 ** 53 + 2, 1e21]);
    case 3:
      return random.pick([
        '',
        'x',
        D,
        'sha256:',
        'sha512:abc',
        'layers',
        MediaTypes.ociManifest,
        '\u0000',
        '\ud800',
      ]);
    case 4:
      return 'z'.repeat(random.int(100_000));
    case 5:
      return deep(random.pick([10, 1000]));
    case 6:
      return '__proto__';
    case 7:
      return { mediaType: MediaTypes.ociLayerGzip, digest: D, size: random.pick([1, -1, 1.5, 2 ** 60]) };
    case 8:
      return {
        os: 'linux',
        architecture: random.pick(['amd64', 1, null]),
        'os.features': randomJson(random, depth + 1),
      };
    case 9:
      return Array.from({ length: random.int(4) }, () => randomJson(random, depth + 1));
    default: {
      const out: Record<string, unknown> = {};
      for (let i = random.int(4); i > 0; i--)
        out[random.pick(['a', 'size', 'digest', 'platform', '__proto__', 'constructor'])] = randomJson(
          random,
          depth + 1,
        );
      return out;
    }
  }
}

const SEEDS: Record<string, unknown>[] = [
  {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: D, size: 10 },
    layers: [{ mediaType: MediaTypes.ociLayerGzip, digest: D, size: 20, annotations: { a: 'b' } }],
    annotations: { 'org.opencontainers.image.created': 'now' },
    subject: { mediaType: MediaTypes.ociManifest, digest: D, size: 1 },
  },
  {
    schemaVersion: 2,
    mediaType: MediaTypes.ociIndex,
    manifests: [
      {
        mediaType: MediaTypes.ociManifest,
        digest: D,
        size: 5,
        platform: { os: 'linux', architecture: 'arm64', variant: 'v8', 'os.features': ['x'] },
      },
    ],
  },
  {
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: [D] },
    history: [{ created: '2024-01-01T00:00:00Z', created_by: 'x', empty_layer: false }],
    config: { Env: ['A=1'], Cmd: ['sh'], Entrypoint: null, Labels: { a: 'b' } },
  },
];

/** Replaces, adds or removes fields along a random path of the document. */
function mutateDocument(document: unknown, random: Random): unknown {
  const copy = structuredClone(document) as Record<string, unknown>;
  for (let edits = 1 + random.int(3); edits > 0; edits--) {
    let node: unknown = copy;
    for (let step = random.int(4); step > 0; step--) {
      const keys = node !== null && typeof node === 'object' ? Object.keys(node) : [];
      if (keys.length === 0) break;
      const next = (node as Record<string, unknown>)[random.pick(keys)];
      if (next === null || typeof next !== 'object') break;
      node = next;
    }
    if (node === null || typeof node !== 'object') continue;
    const keys = Object.keys(node);
    const key =
      keys.length > 0 && random.chance(0.7)
        ? random.pick(keys)
        : random.pick(['schemaVersion', 'mediaType', 'x']);
    if (random.chance(0.2)) delete (node as Record<string, unknown>)[key];
    else (node as Record<string, unknown>)[key] = randomJson(random);
  }
  return copy;
}

function text(random: Random): string {
  const document = random.chance(0.1) ? randomJson(random) : mutateDocument(random.pick(SEEDS), random);
  let out = JSON.stringify(document) ?? 'undefined';
  if (random.chance(0.1)) out = out.slice(0, random.int(out.length + 1));
  if (random.chance(0.05)) out = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  // a value nested 50,000 deep where a number or string was
  if (random.chance(0.1)) out = out.replace(/:(-?\d+(\.\d+)?|"[^"]*")/, `:${deepText(50_000)}`);
  if (random.chance(0.05)) out = out.replace(/\d+/, '1e999');
  return out;
}

describe('manifest, index and config parser fuzzing', () => {
  it(`only ever throw InvalidManifestError (seed ${FUZZ_SEED + 20})`, { timeout: 60_000 }, () => {
    let accepted = 0;
    const stats = fuzz({
      name: 'oci parsers',
      seed: FUZZ_SEED + 20,
      generate: text,
      target: (raw) => {
        for (const parse of [parseManifest, parseIndex, parseImageConfig, sniffManifestKind]) {
          try {
            parse(raw);
            accepted++;
          } catch (error) {
            if (!(error instanceof InvalidManifestError)) throw error;
          }
        }
      },
      show: (raw) => raw,
      maxRuns: 5000,
    });
    assert.ok(accepted > 0 && accepted < stats.runs * 4, `accepted ${accepted} of ${stats.runs * 4}`);
  });

  it('names a deeply nested value of the wrong type without recursing into it (was a stack overflow)', () => {
    const nested = deepText(100_000);
    assert.throws(() => parseManifest(`{"schemaVersion":${nested}}`), {
      name: 'InvalidManifestError',
      message: 'invalid manifest: schemaVersion must be 2, got an array',
    });
    assert.throws(
      () =>
        parseManifest(
          `{"schemaVersion":2,"config":{"mediaType":"x","digest":"${D}","size":${nested}},"layers":[]}`,
        ),
      { message: 'invalid manifest config: field "size" must be a non-negative integer, got an array' },
    );
    assert.throws(() => parseImageConfig(`{"architecture":"a","os":"l","rootfs":{"type":${nested}}}`), {
      message: 'invalid image config: rootfs.type must be "layers", got an array',
    });
  });
});
