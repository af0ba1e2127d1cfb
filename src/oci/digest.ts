import { createHash } from 'node:crypto';
import { InvalidInputError, StrataError } from '../util/index.ts';

declare const digestBrand: unique symbol;

/**
 * A content digest, `<algorithm>:<encoded>` (OCI image spec, "Digests"). Only {@link parseDigest}
 * and the hashing helpers make one, so a `Digest` is always well-formed.
 */
export type Digest = string & { readonly [digestBrand]: true };

/** Thrown for a malformed digest string. */
export class InvalidDigestError extends InvalidInputError {
  constructor(text: string, reason: string) {
    super(`invalid digest ${JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}…` : text)}: ${reason}`);
  }
}

/** Thrown when content does not hash to the digest (or size) it was promised under. */
export class DigestMismatchError extends StrataError {
  readonly expected: Digest;
  readonly actual: Digest | undefined;
  constructor(options: {
    expected: Digest;
    actual?: Digest;
    expectedSize?: number;
    actualSize?: number;
    what?: string;
  }) {
    const what = options.what ?? 'content';
    const message =
      options.actual !== undefined && options.actual !== options.expected
        ? `${what} digest mismatch: expected ${options.expected}, got ${options.actual}`
        : `${what} size mismatch for ${options.expected}: expected ${options.expectedSize} bytes, got ${options.actualSize}`;
    super('DIGEST_MISMATCH', message);
    this.expected = options.expected;
    this.actual = options.actual;
  }
}

const ENCODED = { sha256: /^[a-f0-9]{64}$/, sha512: /^[a-f0-9]{128}$/ } as const;
const GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Validates `text` as a digest (grammar of the OCI spec; sha256 and sha512 checked for length). */
export function parseDigest(text: string): Digest {
  if (typeof text !== 'string' || text === '') throw new InvalidDigestError(String(text), 'empty');
  if (!GRAMMAR.test(text)) throw new InvalidDigestError(text, 'expected <algorithm>:<hex>');
  const colon = text.indexOf(':');
  const algorithm = text.slice(0, colon);
  const encoded = text.slice(colon + 1);
  const pattern = ENCODED[algorithm as keyof typeof ENCODED];
  if (pattern === undefined) throw new InvalidDigestError(text, `unsupported algorithm ${algorithm}`);
  if (!pattern.test(encoded))
    throw new InvalidDigestError(
      text,
      `bad ${algorithm} hex (want ${algorithm === 'sha256' ? 64 : 128} lowercase hex digits)`,
    );
  return text as Digest;
}

/** True when `text` is a well-formed digest. */
export function isDigest(text: string): boolean {
  try {
    parseDigest(text);
    return true;
  } catch {
    return false;
  }
}

/** The sha256 digest of some bytes. */
export function digestOf(data: string | Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
}

/** A sha256 digest from its hex part (trusted: from our own hashing). */
export function sha256Digest(hex: string): Digest {
  return parseDigest(`sha256:${hex}`);
}

/** The encoded (hex) part of a digest. */
export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(':') + 1);
}

/** The algorithm part of a digest. */
export function digestAlgorithm(digest: Digest): string {
  return digest.slice(0, digest.indexOf(':'));
}
