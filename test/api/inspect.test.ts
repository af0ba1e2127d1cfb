import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspectImage } from '../../src/api/inspect.ts';
import { pull } from '../../src/api/pull.ts';
import { push } from '../../src/api/push.ts';
import { canonicalJsonBytes, type Descriptor, type Index, MediaTypes } from '../../src/oci/index.ts';
import { Store } from '../../src/store/index.ts';
import { PlatformNotFoundError } from '../../src/transport/index.ts';
import { runStrata } from '../support/cli.ts';
import { writeTestImage } from '../support/images.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

describe('multi-platform images: push an index, inspect, pull one platform', () => {
  let registry: TestRegistry;
  let dir: string;
  let amd64: Descriptor;
  let arm64: Descriptor;
  let index: Descriptor;

  before(async () => {
    registry = await startRegistry();
    dir = await mkdtemp(join(tmpdir(), 'strata-inspect-'));
    const store = await Store.open(join(dir, 'store'));
    amd64 = (
      await writeTestImage(store, {
        layerSizes: [10_000],
        seed: 41,
        platform: { os: 'linux', architecture: 'amd64' },
      })
    ).manifest;
    arm64 = (
      await writeTestImage(store, {
        layerSizes: [20_000, 300],
        seed: 42,
        platform: { os: 'linux', architecture: 'arm64' },
      })
    ).manifest;
    const document: Index = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociIndex,
      manifests: [
        { ...amd64, platform: { os: 'linux', architecture: 'amd64' } },
        { ...arm64, platform: { os: 'linux', architecture: 'arm64' } },
      ],
    };
    const raw = canonicalJsonBytes(document);
    const info = await store.blobs.writeBytes(raw);
    index = { mediaType: MediaTypes.ociIndex, digest: info.digest, size: info.size };
    const name = `${registry.host}/multi/app:1`;
    await store.tag({ full: name, short: name }, index);
    await push(store, name);
  });
  after(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('pushes the index after its children; the registry serves it', () => {
    const raw = JSON.parse(
      execFileSync(
        'skopeo',
        ['inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/multi/app:1`],
        { encoding: 'utf8' },
      ),
    );
    assert.equal(raw.mediaType, MediaTypes.ociIndex);
    assert.deepEqual(
      raw.manifests.map((m: Descriptor) => m.digest),
      [amd64.digest, arm64.digest],
    );
  });

  it('inspects a remote index: platforms, the host platform config, layers and sizes', async () => {
    const result = await inspectImage(`docker://${registry.host}/multi/app:1`, {
      platform: { os: 'linux', architecture: 'amd64' },
    });
    assert.equal(result.digest, index.digest);
    assert.deepEqual(
      result.platforms?.map((p) => p.platform),
      ['linux/amd64', 'linux/arm64'],
    );
    assert.equal(result.manifest?.digest, amd64.digest);
    assert.equal(result.config?.platform, 'linux/amd64');
    assert.deepEqual(result.config?.cmd, ['/bin/sh']);
    assert.equal(result.layers?.length, 1);
    const arm = await inspectImage(`${registry.host}/multi/app:1`, {
      platform: { os: 'linux', architecture: 'arm64' },
    });
    assert.equal(arm.location, `docker://${registry.host}/multi/app:1`);
    assert.equal(arm.config?.platform, 'linux/arm64');
    assert.equal(arm.layers?.length, 2);
    assert.ok(arm.size! > arm.layers!.reduce((n, l) => n + l.size, 0), 'size counts config and layers');
  });

  it('pulls the requested platform only and names it; an absent platform lists the available ones', async () => {
    const store = await Store.open(join(dir, 'pulled'));
    const result = await pull(store, `${registry.host}/multi/app:1`, {
      platform: { os: 'linux', architecture: 'arm64' },
    });
    assert.equal(result.descriptor.digest, arm64.digest);
    assert.equal(result.resolvedDigest, index.digest);
    assert.equal((await store.resolve(`${registry.host}/multi/app:1`)).digest, arm64.digest);
    assert.deepEqual(await store.verify(), []);
    await assert.rejects(
      pull(store, `${registry.host}/multi/app:1`, { platform: { os: 'linux', architecture: 's390x' } }),
      (error: unknown) => {
        assert.ok(error instanceof PlatformNotFoundError);
        assert.match(
          error.message,
          /no image for platform linux\/s390x \(available: linux\/amd64, linux\/arm64\)/,
        );
        return true;
      },
    );
  });

  it('pull --all-platforms keeps the whole index; each platform loads from the store', async () => {
    const root = join(dir, 'all');
    const name = `${registry.host}/multi/app:1`;
    const out = await runStrata(['pull', '--all-platforms', '-q', name], { env: { STRATA_ROOT: root } });
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, `${name}\n`);
    const store = await Store.open(root);
    try {
      assert.equal((await store.resolve(name)).digest, index.digest);
      assert.deepEqual(await store.verify(), []);
      assert.equal((await store.image(index, { os: 'linux', architecture: 'arm64' })).digest, arm64.digest);
      assert.equal((await store.image(index, { os: 'linux', architecture: 'amd64' })).digest, amd64.digest);
      // Every blob of both platforms is here: nothing is fetched lazily later.
      for (const manifest of [amd64, arm64])
        for (const digest of await store.reachable(manifest.digest)) assert.ok(await store.blobs.has(digest));
    } finally {
      await store.close();
    }
    const both = await runStrata(['pull', '--all-platforms', '--platform', 'linux/arm64', name], {
      env: { STRATA_ROOT: root },
    });
    assert.equal(both.code, 1, both.stderr);
    assert.match(both.stderr, /--all-platforms and --platform cannot be used together/);
  });

  it("a stored index without the host's platform: its only platform by default, else the choices", async () => {
    const store = await Store.open(join(dir, 'default-choice'));
    try {
      const armOnly = canonicalJsonBytes({
        schemaVersion: 2,
        mediaType: MediaTypes.ociIndex,
        manifests: [{ ...arm64, platform: { os: 'linux', architecture: 'arm64' } }],
      } satisfies Index);
      const only = await store.blobs.writeBytes(armOnly);
      await writeTestImage(store, {
        layerSizes: [20_000, 300],
        seed: 42,
        platform: { os: 'linux', architecture: 'arm64' },
      });
      const image = await store.image(only.digest);
      assert.equal(image.digest, arm64.digest, 'the only platform, though not the host');
      await assert.rejects(
        store.image(only.digest, { os: 'linux', architecture: 's390x' }),
        /available: linux\/arm64/,
      );
    } finally {
      await store.close();
    }
  });

  it('inspects a local image when the store has the name', async () => {
    const store = await Store.open(join(dir, 'pulled'));
    const local = await inspectImage(`${registry.host}/multi/app:1`, { store });
    assert.equal(local.location, `strata:${registry.host}/multi/app:1`);
    assert.equal(local.digest, arm64.digest);
    assert.equal(local.config?.platform, 'linux/arm64');
  });
});

describe('Docker manifest lists (schema 2)', () => {
  it('pulls a platform from a manifest list of Docker schema 2 manifests', async () => {
    const registry = await startRegistry();
    const dir = await mkdtemp(join(tmpdir(), 'strata-list-'));
    try {
      const store = await Store.open(join(dir, 'store'));
      const amd = (
        await writeTestImage(store, {
          layerSizes: [5_000],
          seed: 81,
          format: 'docker',
          platform: { os: 'linux', architecture: 'amd64' },
        })
      ).manifest;
      const arm = (
        await writeTestImage(store, {
          layerSizes: [6_000],
          seed: 82,
          format: 'docker',
          platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
        })
      ).manifest;
      const list: Index = {
        schemaVersion: 2,
        mediaType: MediaTypes.dockerManifestList,
        manifests: [
          { ...amd, platform: { os: 'linux', architecture: 'amd64' } },
          { ...arm, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
        ],
      };
      const info = await store.blobs.writeBytes(canonicalJsonBytes(list));
      const name = `${registry.host}/list/app:1`;
      await store.tag(
        { full: name, short: name },
        { mediaType: MediaTypes.dockerManifestList, digest: info.digest, size: info.size },
      );
      await push(store, name);
      const inspected = await inspectImage(`docker://${name}`, {
        platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
      });
      assert.equal(inspected.mediaType, MediaTypes.dockerManifestList);
      assert.deepEqual(
        inspected.platforms?.map((p) => p.platform),
        ['linux/amd64', 'linux/arm/v7'],
      );
      const target = await Store.open(join(dir, 'pulled'));
      const pulled = await pull(target, name, {
        platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
      });
      assert.equal(pulled.descriptor.digest, arm.digest);
      assert.equal(pulled.descriptor.mediaType, MediaTypes.dockerManifest);
    } finally {
      await registry.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
