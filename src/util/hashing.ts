import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * A pass-through stream that counts bytes and computes their sha256 as they flow, so a digest
 * costs no second read. Read `hex()` and `size` after the stream has finished.
 */
export class HashingStream extends Transform {
  #hash: Hash = createHash('sha256');
  #size = 0;
  #hex: string | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.#size += chunk.length;
    callback(null, chunk);
  }

  /** Bytes seen so far. */
  get size(): number {
    return this.#size;
  }

  /** The sha256 of everything that passed, as lowercase hex. Valid once the stream ended. */
  hex(): string {
    this.#hex ??= this.#hash.digest('hex');
    return this.#hex;
  }
}

/** sha256 of a buffer or string as lowercase hex. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
