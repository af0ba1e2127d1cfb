import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { Store } from '../../src/store/index.ts';
import { tempDir } from '../support/cli.ts';
import { randomBytesSeeded } from '../support/images.ts';

/** A sink that takes one chunk, then waits (as a slow consumer does). */
function slowSink(): Writable {
  return new Writable({
    highWaterMark: 1,
    write(_chunk, _enc, cb) {
      setTimeout(cb, 50);
    },
  });
}

describe('a blob opened for reading', () => {
  const dir = tempDir('strata-blob-errors-');
  let store: Store;
  before(async () => {
    store = await Store.open(dir.path);
  });
  after(async () => {
    await store.close();
    dir.cleanup();
  });

  it('fails its reader when its signal aborts, never with an unhandled error event', async () => {
    const { digest } = await store.blobs.writeBytes(randomBytesSeeded(8 << 20, 1));
    const unhandled: unknown[] = [];
    const onUncaught = (error: unknown) => unhandled.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const controller = new AbortController();
      const stream = await store.blobs.open(digest, { signal: controller.signal });
      setTimeout(() => controller.abort(), 20);
      await assert.rejects(pipeline(stream, slowSink()), { name: 'AbortError' });
      // Give a stray 'error' event time to surface.
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });

  it('fails its reader when opened with a signal that aborts before the first read', async () => {
    const { digest } = await store.blobs.writeBytes(randomBytesSeeded(1 << 20, 2));
    const controller = new AbortController();
    const stream = await store.blobs.open(digest, { signal: controller.signal });
    controller.abort();
    await assert.rejects(async () => {
      for await (const _ of stream) {
        // reading until the abort surfaces
      }
    });
  });
});
