import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { MediaTypes, sha256Digest } from '../../src/oci/index.ts';
import { DockerArchiveWriter } from '../../src/transport/index.ts';
import { randomBytesSeeded, tarWithFile } from '../support/images.ts';

describe('docker-archive writer', () => {
  // Found by the transport conformance suite: an aborted copy to a docker-archive failed as
  // "layer … is corrupt", naming a layer that was fine.
  it('reports a layer write aborted while it decompresses as an abort, not as a corrupt layer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'strata-docker-archive-'));
    try {
      const blob = gzipSync(tarWithFile('file.bin', randomBytesSeeded(3_000, 7)), { level: 1 });
      const descriptor = {
        mediaType: MediaTypes.ociLayerGzip,
        digest: sha256Digest(createHash('sha256').update(blob).digest('hex')),
        size: blob.length,
      };
      const controller = new AbortController();
      const writer = new DockerArchiveWriter(join(dir, 'image.tar'));
      // The whole blob is read, then the abort comes while the decompressor is still busy with it.
      const open = async () => {
        const stream = Readable.from([blob]);
        stream.on('end', () => setImmediate(() => controller.abort()));
        return stream;
      };
      const error = await writer
        .writeBlob(descriptor, open, { onProgress: () => {}, onRetry: () => {}, signal: controller.signal })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.equal((error as Error | undefined)?.name, 'AbortError', String(error));
      await writer.abort();
      assert.deepEqual(await readdir(dir), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
