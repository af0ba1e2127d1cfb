import { createRequire } from 'node:module';
import { StrataError } from '../util/index.ts';

/** The part of `zstd-napi` strata uses. */
export interface ZstdModule {
  readonly CompressStream: new (parameters?: {
    compressionLevel?: number;
  }) => import('node:stream').Transform;
  readonly DecompressStream: new () => import('node:stream').Transform;
}

/** zstd-napi could not be loaded (its native addon failed to build at install). */
export class ZstdUnavailableError extends StrataError {
  constructor(cause: unknown) {
    super('ZSTD_UNAVAILABLE', 'zstd compression is unavailable: the zstd-napi addon did not load', {
      cause,
      hint: 'reinstall with build tools (python3, make, g++) present, or use gzip',
    });
  }
}

let cached: ZstdModule | undefined;

/** Loads `zstd-napi` on first use, so a missing addon only matters to zstd users. */
export function loadZstd(): ZstdModule {
  if (cached) return cached;
  try {
    cached = createRequire(import.meta.url)('zstd-napi') as ZstdModule;
  } catch (error) {
    throw new ZstdUnavailableError(error);
  }
  return cached;
}
