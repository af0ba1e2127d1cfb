import { StrataError, type StrataErrorOptions } from '../util/index.ts';

/** A tar stream that is not a valid archive: bad checksum, truncated entry, unsupported type. */
export class TarFormatError extends StrataError {
  constructor(message: string, options: StrataErrorOptions = {}) {
    super('TAR_FORMAT', message, options);
  }
}

/**
 * A layer entry that would create or change something outside the root it is applied to (`..`
 * escaping the root, a hardlink or whiteout naming the root or leaving it), or that cannot be
 * applied safely. Hostile layers end here; nothing has been written outside the root.
 */
export class UnsafeTarEntryError extends StrataError {
  /** The entry's name as stored in the archive. */
  readonly entry: string;
  constructor(entry: string, reason: string) {
    super('TAR_UNSAFE_ENTRY', `unsafe layer entry ${JSON.stringify(entry)}: ${reason}`, {
      hint: 'the layer was crafted or corrupted; it is refused rather than applied',
    });
    this.entry = entry;
  }
}

/** Applying an otherwise well-formed entry failed (a file system error, a parent that is a file). */
export class TarApplyError extends StrataError {
  constructor(entry: string, message: string, options: StrataErrorOptions = {}) {
    super('TAR_APPLY', `applying layer entry ${JSON.stringify(entry)}: ${message}`, options);
  }
}

/** A file changed size while it was being written into a layer. */
export class FileChangedError extends StrataError {
  constructor(path: string, expected: number, actual: number) {
    super(
      'FILE_CHANGED',
      `${path} changed while being archived: expected ${expected} bytes, read ${actual}`,
      {
        hint: 'nothing may write to a snapshot while it is turned into a layer',
      },
    );
  }
}

/**
 * A file whose name starts with `.wh.` cannot be stored in a layer: every reader would take it for
 * a whiteout and delete the lower file of the same name (image-spec layer.md, "Whiteouts").
 */
export class ReservedLayerNameError extends StrataError {
  constructor(path: string) {
    super(
      'LAYER_RESERVED_NAME',
      `${JSON.stringify(path)} cannot be stored in a layer: names starting with ".wh." mark deletions`,
      {
        hint: 'rename or remove the file before the step ends',
      },
    );
  }
}

/**
 * Compressed data that does not decompress (zlib's `incorrect data check`, a truncated stream, a
 * zstd frame error): the bytes are damaged. A user's problem, not a bug; callers that know which
 * blob it was name it (the store's `CorruptBlobError`).
 */
export class DecompressionError extends StrataError {
  constructor(compression: string, options: StrataErrorOptions = {}) {
    super('DECOMPRESS', `${compression} data does not decompress`, options);
  }
}
