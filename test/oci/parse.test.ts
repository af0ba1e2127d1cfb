import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  canonicalJson,
  digestOf,
  formatPlatform,
  imageFromParts,
  MediaTypes,
  normalizePlatform,
  parseDigest,
  parseImageConfig,
  parseIndex,
  parseManifest,
  parsePlatform,
  platformMatches,
  sniffManifestKind,
  validateImage,
} from '../../src/oci/index.ts';

const D = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;
const goodManifest = {
  schemaVersion: 2,
  mediaType: MediaTypes.ociManifest,
  config: { mediaType: MediaTypes.ociConfig, digest: D, size: 10 },
  layers: [{ mediaType: MediaTypes.ociLayerGzip, digest: D2, size: 20 }],
};

describe('parseDigest', () => {
  it('accepts a sha256 digest', () => assert.equal(parseDigest(D), D));
  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['sha256:abc', /bad sha256 hex/],
    [`sha256:${'A'.repeat(64)}`, /bad sha256 hex/],
    [`md5:${'a'.repeat(32)}`, /unsupported algorithm md5/],
    ['nocolon', /expected <algorithm>:<hex>/],
    [`sha256:${'a'.repeat(63)}g`, /bad sha256 hex/],
  ];
  for (const [text, message] of bad) {
    it(`rejects ${JSON.stringify(text)} with a clear error`, () => {
      assert.throws(
        () => parseDigest(text),
        (e: Error & { code?: string }) => e.code === 'INVALID_INPUT' && message.test(e.message),
      );
    });
  }
});

describe('parseManifest', () => {
  it('parses a valid OCI manifest', () => {
    const m = parseManifest(JSON.stringify(goodManifest));
    assert.equal(m.layers.length, 1);
    assert.equal(m.config.digest, D);
  });
  it('accepts a Docker schema 2 manifest', () => {
    const m = parseManifest(JSON.stringify({ ...goodManifest, mediaType: MediaTypes.dockerManifest }));
    assert.equal(m.mediaType, MediaTypes.dockerManifest);
  });
  const cases: Array<[string, unknown, RegExp]> = [
    ['malformed JSON', '{"schemaVersion":', /malformed JSON/],
    ['a JSON array', '[]', /expected a JSON object/],
    ['schemaVersion 1', { ...goodManifest, schemaVersion: 1 }, /schema 1 manifests are not supported/],
    ['schemaVersion 3', { ...goodManifest, schemaVersion: 3 }, /schemaVersion must be 2/],
    ['an index mediaType', { ...goodManifest, mediaType: MediaTypes.ociIndex }, /\(this is an index\)/],
    ['a missing config', { ...goodManifest, config: undefined }, /descriptor must be an object/],
    [
      'a bad layer digest',
      { ...goodManifest, layers: [{ mediaType: MediaTypes.ociLayerGzip, digest: 'sha256:xyz', size: 1 }] },
      /layer 0: field "digest"/,
    ],
    [
      'a negative size',
      { ...goodManifest, layers: [{ mediaType: MediaTypes.ociLayerGzip, digest: D2, size: -1 }] },
      /non-negative integer/,
    ],
    [
      'a fractional size',
      { ...goodManifest, layers: [{ mediaType: MediaTypes.ociLayerGzip, digest: D2, size: 1.5 }] },
      /non-negative integer/,
    ],
    ['layers not an array', { ...goodManifest, layers: {} }, /"layers" must be an array/],
    [
      'an empty mediaType in a descriptor',
      { ...goodManifest, config: { ...goodManifest.config, mediaType: '' } },
      /mediaType must not be empty/,
    ],
  ];
  for (const [name, value, message] of cases) {
    it(`rejects ${name}`, () => {
      const raw = typeof value === 'string' ? value : JSON.stringify(value);
      assert.throws(
        () => parseManifest(raw),
        (e: Error) => /^invalid manifest/.test(e.message) && message.test(e.message),
      );
    });
  }
});

describe('parseIndex', () => {
  const index = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociIndex,
    manifests: [
      {
        mediaType: MediaTypes.ociManifest,
        digest: D,
        size: 1,
        platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
      },
    ],
  };
  it('parses an index with platforms', () => {
    assert.deepEqual(parseIndex(JSON.stringify(index)).manifests[0]!.platform, {
      os: 'linux',
      architecture: 'arm64',
      variant: 'v8',
    });
  });
  it('rejects a manifest mediaType', () => {
    assert.throws(
      () => parseIndex(JSON.stringify({ ...index, mediaType: MediaTypes.ociManifest })),
      /\(this is a manifest\)/,
    );
  });
  it('rejects a platform without architecture', () => {
    assert.throws(
      () =>
        parseIndex(
          JSON.stringify({ ...index, manifests: [{ ...index.manifests[0], platform: { os: 'linux' } }] }),
        ),
      /"architecture" must be a string/,
    );
  });
  it('tells an index from a manifest by shape when mediaType is absent', () => {
    assert.equal(sniffManifestKind(JSON.stringify({ schemaVersion: 2, manifests: [] })), 'index');
    assert.equal(sniffManifestKind(JSON.stringify({ ...goodManifest, mediaType: undefined })), 'manifest');
  });
});

describe('parseImageConfig', () => {
  const config = {
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: [D] },
    history: [{ created_by: 'x' }],
  };
  it('parses a valid config', () =>
    assert.equal(parseImageConfig(JSON.stringify(config)).rootfs.diff_ids[0], D));
  const cases: Array<[string, unknown, RegExp]> = [
    ['a missing os', { ...config, os: undefined }, /field "os" must be a string/],
    ['a missing rootfs', { ...config, rootfs: undefined }, /"rootfs" is missing/],
    [
      'a wrong rootfs type',
      { ...config, rootfs: { type: 'zfs', diff_ids: [] } },
      /rootfs.type must be "layers"/,
    ],
    ['a bad diff_id', { ...config, rootfs: { type: 'layers', diff_ids: ['sha256:1'] } }, /diff_ids\[0\]/],
    [
      'a non-boolean empty_layer',
      { ...config, history: [{ empty_layer: 'yes' }] },
      /empty_layer must be a boolean/,
    ],
    [
      'Env not an array of strings',
      { ...config, config: { Env: 'PATH=/bin' } },
      /config.Env must be an array of strings/,
    ],
  ];
  for (const [name, value, message] of cases) {
    it(`rejects ${name}`, () => assert.throws(() => parseImageConfig(JSON.stringify(value)), message));
  }
});

describe('platforms', () => {
  const norm: Array<[string, string]> = [
    ['linux/amd64', 'linux/amd64'],
    ['amd64', 'linux/amd64'],
    ['linux/x86_64', 'linux/amd64'],
    ['linux/aarch64', 'linux/arm64'],
    ['linux/arm64/v8', 'linux/arm64'],
    ['linux/arm', 'linux/arm/v7'],
    ['linux/arm/7', 'linux/arm/v7'],
    ['linux/arm/v6', 'linux/arm/v6'],
    ['Linux/AMD64', 'linux/amd64'],
    ['arm64/v8', 'linux/arm64'],
  ];
  for (const [input, want] of norm) {
    it(`normalises ${input} to ${want} as Docker does`, () =>
      assert.equal(formatPlatform(parsePlatform(input)), want));
  }
  it('matches arm64 with arm64/v8', () => {
    assert.ok(
      platformMatches(parsePlatform('linux/arm64'), { os: 'linux', architecture: 'arm64', variant: 'v8' }),
    );
  });
  it('does not match arm/v6 for arm/v7', () => {
    assert.ok(
      !platformMatches(parsePlatform('linux/arm/v7'), { os: 'linux', architecture: 'arm', variant: 'v6' }),
    );
  });
  it('does not match another architecture', () => {
    assert.ok(
      !platformMatches(
        parsePlatform('linux/amd64'),
        normalizePlatform({ os: 'linux', architecture: 'arm64' }),
      ),
    );
  });
  it('rejects a malformed platform', () =>
    assert.throws(() => parsePlatform('linux/amd64/v1/x'), /invalid platform/));
});

describe('canonical serialisation', () => {
  it('sorts keys recursively and keeps array order', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, 1], c: null } }), '{"a":{"c":null,"d":[3,1]},"b":1}');
  });
  it('gives the same digest for the same image whatever the key order', () => {
    const config1 = { os: 'linux', architecture: 'amd64', rootfs: { type: 'layers' as const, diff_ids: [] } };
    const config2 = { rootfs: { diff_ids: [], type: 'layers' as const }, architecture: 'amd64', os: 'linux' };
    assert.equal(
      imageFromParts({ config: config1, layers: [] }).digest,
      imageFromParts({ config: config2, layers: [] }).digest,
    );
  });
  it('produces images that validate and whose manifest names the config digest', () => {
    const image = imageFromParts({
      config: { os: 'linux', architecture: 'amd64', rootfs: { type: 'layers', diff_ids: [] } },
      layers: [],
    });
    assert.deepEqual(validateImage(image), []);
    assert.equal(image.manifest.config.digest, digestOf(image.rawConfig));
  });
  it('validateImage reports every mismatch', () => {
    const problems = validateImage({
      manifest: {
        schemaVersion: 2,
        config: { mediaType: 'x', digest: parseDigest(D), size: 1 },
        layers: [{ mediaType: 'text/plain', digest: parseDigest(D2), size: 1 }],
      },
      config: { os: 'linux', architecture: 'amd64', rootfs: { type: 'layers', diff_ids: [] }, history: [] },
    });
    assert.deepEqual(problems.map((p) => p.section).sort(), ['config', 'history', 'layers', 'manifest']);
  });
});
