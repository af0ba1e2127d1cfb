import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Digest, Layer } from '../../src/oci/index.ts';
import type { Snapshotter } from '../../src/snapshot/index.ts';
import { unpackLeased } from '../../src/solver/unpack-leased.ts';
import { Store } from '../../src/store/index.ts';
import { tempDir } from '../support/cli.ts';

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}` as Digest;

describe('unpackLeased', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  before(async () => {
    dir = tempDir('strata-unpack-leased-');
    store = await Store.open(dir.path);
  });
  after(() => dir.cleanup());

  it('starts every layer download (an imported cache hit) before unpacking the first layer', async () => {
    const calls: string[] = [];
    const layer = (n: number, remote: boolean): Layer => ({
      descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digest(n), size: 0 },
      diffId: digest(100 + n),
      open: async () => {
        calls.push(`open ${n}`);
        return Readable.from([]);
      },
      ...(remote
        ? {
            fetch: async () => {
              calls.push(`fetch ${n}`);
            },
          }
        : {}),
    });
    const layers = [layer(1, false), layer(2, true), layer(3, false), layer(4, true)];
    // The snapshotter stands in for a real one only to record when the unpack begins and reads.
    const snapshotter = {
      unpack: async (ls: readonly Layer[]) => {
        calls.push('unpack');
        for (const l of ls) await l.open();
        return { kind: 'overlay', chainId: 'x', diffIds: ls.map((l) => l.diffId), dirs: [] };
      },
    } as unknown as Snapshotter;
    await unpackLeased({ store, snapshotter }, layers);
    assert.deepEqual(calls, ['fetch 2', 'fetch 4', 'unpack', 'open 1', 'open 2', 'open 3', 'open 4']);
  });

  it('a failed download is reported by the unpack that reads the layer, not lost', async () => {
    let failed: Promise<void> | undefined;
    const fetch = () => {
      failed ??= Promise.reject(new Error('blob unknown'));
      return failed;
    };
    const remote: Layer = {
      descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digest(9), size: 0 },
      diffId: digest(109),
      open: async () => {
        await fetch();
        return Readable.from([]);
      },
      fetch,
    };
    const snapshotter = {
      unpack: async (ls: readonly Layer[]) => {
        for (const l of ls) await l.open();
        return { kind: 'overlay', chainId: 'y', diffIds: [], dirs: [] };
      },
    } as unknown as Snapshotter;
    await assert.rejects(unpackLeased({ store, snapshotter }, [remote]), /blob unknown/);
  });
});
