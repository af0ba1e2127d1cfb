import type { Readable } from 'node:stream';
import type { TarHeader } from './tar-header.ts';
import { TarParser } from './tar-parser.ts';

/**
 * The entries of an uncompressed tar stream, in archive order, without their content (for
 * listing a layer, sizing it, finding whiteouts). Memory stays bounded: headers are handed out as
 * each input chunk is parsed.
 */
export async function* listLayer(tar: Readable | AsyncIterable<Uint8Array>): AsyncGenerator<TarHeader> {
  let batch: TarHeader[] = [];
  const parser = new TarParser({
    entry: (header) => {
      batch.push(header);
    },
    data: () => undefined,
    entryEnd: () => undefined,
  });
  for await (const chunk of tar) {
    parser.write(
      Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
    );
    if (batch.length > 0) {
      const ready = batch;
      batch = [];
      yield* ready;
    }
  }
  parser.end();
  yield* batch;
}
