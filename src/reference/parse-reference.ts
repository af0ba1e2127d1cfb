import { StrataError } from '../util/index.ts';
import {
  anchoredDigestRegExp,
  anchoredIdentifierRegExp,
  anchoredNameRegExp,
  anchoredTagRegExp,
  digestHexLengths,
  maxPathLength,
  referenceRegExp,
} from './grammar.ts';

/** The registry Docker Hub names are normalised to. */
export const DOCKER_HUB_DOMAIN = 'docker.io';
/** The host to actually contact for `docker.io` names (Docker's `DefaultRegistryHost`). */
export const DOCKER_HUB_REGISTRY_HOST = 'registry-1.docker.io';
/** The tag a reference without tag or digest gets. */
export const DEFAULT_TAG = 'latest';

const LEGACY_DOCKER_HUB_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
/**
 * Longest input we try to match. Distribution has no such bound (only the path's 255); ours keeps a
 * hostile string from costing regexp time. No valid reference in practice comes near it.
 */
const MAX_REFERENCE_LENGTH = 4096;

/** Thrown for a string that is not a valid image reference; `reason` says what is wrong with it. */
export class InvalidReferenceError extends StrataError {
  /** The offending input. */
  readonly reference: string;
  /** What is wrong with it, e.g. `repository name (library/Alpine) must be lowercase`. */
  readonly reason: string;

  constructor(reference: string, reason: string, options: { hint?: string } = {}) {
    const shown = reference.length > 120 ? `${reference.slice(0, 120)}…` : reference;
    super('INVALID_REFERENCE', `invalid reference ${JSON.stringify(shown)}: ${reason}`, options);
    this.reference = reference;
    this.reason = reason;
  }
}

/**
 * A fully normalised image reference: `docker.io/library/alpine:latest`, `ghcr.io/org/app:1`,
 * `localhost:5000/x@sha256:…`. Immutable; the `with*` methods return new references.
 */
export interface Reference {
  /** Registry host with optional port, e.g. `docker.io`, `localhost:5000`, `[::1]:5000`. */
  readonly domain: string;
  /** Repository path below the domain, e.g. `library/alpine`. */
  readonly path: string;
  /** Tag, if any; `latest` when the input named neither tag nor digest. */
  readonly tag?: string;
  /** Digest (`sha256:…`), if any. When both tag and digest are present the digest decides what is pulled. */
  readonly digest?: string;
  /** True when `tag` is the `latest` that normalisation filled in (the input had neither tag nor digest). */
  readonly tagDefaulted: boolean;
  /** The normalised string: `docker.io/library/alpine:latest`, `…:tag@sha256:…` or `…@sha256:…`. */
  toString(): string;
  /** The short form Docker prints: `alpine:latest`, `user/app:1`, `ghcr.io/org/app:1`. */
  familiar(): string;
  /** Domain and path without tag or digest: `docker.io/library/alpine`. */
  repository(): string;
  /** The short form of {@link repository}: `alpine`, `user/app`, `ghcr.io/org/app`. */
  familiarRepository(): string;
  /** The host to contact: `registry-1.docker.io` for `docker.io`, otherwise the domain. */
  registryHost(): string;
  /** What to ask the registry for: the digest when there is one, otherwise the tag. */
  identifier(): string;
  /** The same repository with `tag` (a digest is kept). Throws {@link InvalidReferenceError} for a bad tag. */
  withTag(tag: string): Reference;
  /** The same repository with `digest` (a tag is kept). Throws {@link InvalidReferenceError} for a bad digest. */
  withDigest(digest: string): Reference;
  /** The same reference without its digest; `latest` when no tag remains (for naming a copy to push). */
  withoutDigest(): Reference;
  /** JSON form: the normalised string. */
  toJSON(): string;
}

class NormalisedReference implements Reference {
  readonly domain: string;
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
  readonly tagDefaulted: boolean;

  constructor(parts: { domain: string; path: string; tag?: string; digest?: string; tagDefaulted: boolean }) {
    this.domain = parts.domain;
    this.path = parts.path;
    if (parts.tag !== undefined) this.tag = parts.tag;
    if (parts.digest !== undefined) this.digest = parts.digest;
    this.tagDefaulted = parts.tagDefaulted;
  }

  toString(): string {
    return this.#suffixed(this.repository());
  }

  familiar(): string {
    return this.#suffixed(this.familiarRepository());
  }

  repository(): string {
    return `${this.domain}/${this.path}`;
  }

  familiarRepository(): string {
    // distribution's familiarizeName: drop docker.io/, and library/ when nothing else is nested.
    if (this.domain !== DOCKER_HUB_DOMAIN) return this.repository();
    if (this.path.startsWith(OFFICIAL_REPO_PREFIX)) {
      const rest = this.path.slice(OFFICIAL_REPO_PREFIX.length);
      if (!rest.includes('/')) return rest;
    }
    return this.path;
  }

  registryHost(): string {
    return this.domain === DOCKER_HUB_DOMAIN ? DOCKER_HUB_REGISTRY_HOST : this.domain;
  }

  identifier(): string {
    return this.digest ?? this.tag ?? DEFAULT_TAG;
  }

  withTag(tag: string): Reference {
    if (!anchoredTagRegExp.test(tag))
      throw new InvalidReferenceError(`${this.repository()}:${tag}`, tagReason(tag));
    return new NormalisedReference({ ...this.#parts(), tag, tagDefaulted: false });
  }

  withDigest(digest: string): Reference {
    const reason = digestReason(digest);
    if (reason !== undefined) throw new InvalidReferenceError(`${this.repository()}@${digest}`, reason);
    return new NormalisedReference({ ...this.#parts(), digest });
  }

  withoutDigest(): Reference {
    const { digest: _dropped, ...rest } = this.#parts();
    return rest.tag === undefined
      ? new NormalisedReference({ ...rest, tag: DEFAULT_TAG, tagDefaulted: true })
      : new NormalisedReference(rest);
  }

  toJSON(): string {
    return this.toString();
  }

  #parts(): { domain: string; path: string; tag?: string; digest?: string; tagDefaulted: boolean } {
    return {
      domain: this.domain,
      path: this.path,
      ...(this.tag === undefined ? {} : { tag: this.tag }),
      ...(this.digest === undefined ? {} : { digest: this.digest }),
      tagDefaulted: this.tagDefaulted,
    };
  }

  #suffixed(name: string): string {
    let text = name;
    if (this.tag !== undefined) text += `:${this.tag}`;
    if (this.digest !== undefined) text += `@${this.digest}`;
    return text;
  }
}

/**
 * Splits a familiar name into domain and remainder the way distribution's `splitDockerDomain` does:
 * the first component is a domain when it contains `.` or `:`, is `localhost`, or has an uppercase
 * letter; otherwise the name is on Docker Hub, and a single-component name goes under `library/`.
 */
function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const slash = name.indexOf('/');
  let domain: string;
  let remainder: string;
  if (slash === -1) {
    domain = DOCKER_HUB_DOMAIN;
    remainder = name;
  } else {
    const first = name.slice(0, slash);
    const rest = name.slice(slash + 1);
    if (first === 'localhost' || /[.:]/.test(first) || first.toLowerCase() !== first) {
      domain = first === LEGACY_DOCKER_HUB_DOMAIN ? DOCKER_HUB_DOMAIN : first;
      remainder = rest;
    } else {
      domain = DOCKER_HUB_DOMAIN;
      remainder = name;
    }
  }
  if (domain === DOCKER_HUB_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain, remainder };
}

function tagReason(tag: string): string {
  if (tag === '') return 'empty tag';
  if (tag.length > 128) return `tag is longer than 128 characters`;
  if (!/^\w/.test(tag)) return `tag ${JSON.stringify(tag)} must start with a letter, digit or underscore`;
  return `tag ${JSON.stringify(tag)} may contain only letters, digits, "_", "." and "-"`;
}

/** Why `digest` is no valid digest (go-digest's `Validate`), or undefined when it is one. */
function digestReason(digest: string): string | undefined {
  const colon = digest.indexOf(':');
  if (colon <= 0 || colon === digest.length - 1)
    return `invalid digest ${JSON.stringify(digest)}: want <algorithm>:<hex>`;
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  const length = digestHexLengths[algorithm];
  if (length === undefined) {
    if (!anchoredDigestRegExp.test(digest))
      return `invalid digest ${JSON.stringify(digest)}: want <algorithm>:<hex>`;
    return `unsupported digest algorithm ${JSON.stringify(algorithm)} (want sha256, sha384 or sha512)`;
  }
  if (hex.length !== length)
    return `invalid ${algorithm} digest: want ${length} hex digits, got ${hex.length}`;
  if (!/^[a-f0-9]+$/.test(hex)) return `invalid ${algorithm} digest: hex digits must be lowercase 0-9a-f`;
  return undefined;
}

/**
 * Says as precisely as we can why `full` (already `domain/remainder`) does not match the grammar.
 * Distribution only says "invalid reference format"; the split here is a diagnosis, not a parse.
 */
function diagnose(full: string): string {
  if (/\s/.test(full)) return 'contains whitespace';
  if (/^[a-z]+:\/\//i.test(full)) return 'a reference has no URL scheme (drop the "scheme://")';
  if (/[A-Z]/.test(full) && referenceRegExp.test(full.toLowerCase()))
    return 'repository name must be lowercase';
  const at = full.indexOf('@');
  const beforeDigest = at === -1 ? full : full.slice(0, at);
  if (at !== -1) {
    const digest = full.slice(at + 1);
    const reason = digestReason(digest);
    if (reason !== undefined) return reason;
  }
  const lastSlash = beforeDigest.lastIndexOf('/');
  const colon = beforeDigest.indexOf(':', lastSlash + 1);
  const name = colon === -1 ? beforeDigest : beforeDigest.slice(0, colon);
  if (colon !== -1) {
    const tag = beforeDigest.slice(colon + 1);
    if (!anchoredTagRegExp.test(tag)) return `invalid tag: ${tagReason(tag)}`;
  }
  if (!anchoredNameRegExp.test(name)) {
    if (name.endsWith('/') || name.includes('//')) return 'repository path has an empty component';
    return (
      'invalid repository name: path components are lowercase letters and digits, separated by ' +
      '".", "_", "__" or dashes, and may not start or end with a separator'
    );
  }
  return 'invalid reference format';
}

/**
 * Parses and normalises an image reference exactly as Docker does (distribution/reference's
 * `ParseDockerRef` grammar and `ParseNormalizedNamed` normalisation): `alpine` →
 * `docker.io/library/alpine:latest`, `user/app` → `docker.io/user/app:latest`,
 * `index.docker.io/x` → `docker.io/library/x`, `localhost:5000/x`, `[::1]:5000/x`,
 * `name@sha256:…` (no tag added), `name:tag@sha256:…` (both kept; the digest decides the pull).
 *
 * Throws {@link InvalidReferenceError} with a reason for anything else: uppercase repository
 * names, `a:b:c`, an empty string, 64-hex image IDs, bad or unsupported digests, paths over 255
 * characters.
 */
export function parseReference(text: string): Reference {
  if (typeof text !== 'string' || text === '')
    throw new InvalidReferenceError(String(text ?? ''), 'empty reference', {
      hint: 'name an image like alpine, alpine:3.20 or ghcr.io/org/app:1',
    });
  if (text.length > MAX_REFERENCE_LENGTH)
    throw new InvalidReferenceError(text, `longer than ${MAX_REFERENCE_LENGTH} characters`);
  if (anchoredIdentifierRegExp.test(text))
    throw new InvalidReferenceError(
      text,
      'a 64-digit hexadecimal string is an image ID, not a repository name',
    );

  const { domain: splitDomain, remainder } = splitDockerDomain(text);
  const colon = remainder.indexOf(':');
  const remote = colon === -1 ? remainder : remainder.slice(0, colon);
  if (remote.toLowerCase() !== remote)
    throw new InvalidReferenceError(text, `repository name (${remote}) must be lowercase`);

  const full = `${splitDomain}/${remainder}`;
  const match = referenceRegExp.exec(full);
  if (match === null) throw new InvalidReferenceError(text, diagnose(full));
  const [, name = '', tag, digest] = match;
  const nameMatch = anchoredNameRegExp.exec(name);
  const domain = nameMatch?.[1] ?? '';
  const path = nameMatch?.[2] ?? name;
  // Distribution accepts e.g. `a_b.c/x` with an *empty* domain (the first component looked like a
  // host to splitDockerDomain but is not one), which no registry can serve; we refuse it up front.
  if (domain === '')
    throw new InvalidReferenceError(text, `${JSON.stringify(splitDomain)} is not a valid registry host name`);
  if (path.length > maxPathLength)
    throw new InvalidReferenceError(
      text,
      `repository name must not be more than ${maxPathLength} characters`,
    );
  if (digest !== undefined) {
    const reason = digestReason(digest);
    if (reason !== undefined) throw new InvalidReferenceError(text, reason);
  }
  const defaulted = tag === undefined && digest === undefined;
  return new NormalisedReference({
    domain,
    path,
    ...(defaulted ? { tag: DEFAULT_TAG } : tag === undefined ? {} : { tag }),
    ...(digest === undefined ? {} : { digest }),
    tagDefaulted: defaulted,
  });
}

/** True when `text` parses as a reference (see {@link parseReference}). */
export function isReference(text: string): boolean {
  try {
    parseReference(text);
    return true;
  } catch (error) {
    if (error instanceof InvalidReferenceError) return false;
    throw error;
  }
}
