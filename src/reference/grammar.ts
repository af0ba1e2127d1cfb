/**
 * The grammar of image references, as distribution/reference (`regexp.go`) defines it:
 *
 * ```
 * reference       := name [ ":" tag ] [ "@" digest ]
 * name            := [domain "/"] remote-name
 * domain          := host [":" port]
 * host            := domain-name | "[" ipv6 "]"
 * domain-name     := component ("." component)*        component: [a-zA-Z0-9] or [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
 * remote-name     := path-component ("/" path-component)*
 * path-component  := [a-z0-9]+ (separator [a-z0-9]+)*  separator: "." | "_" | "__" | "-"+
 * tag             := [\w][\w.-]{0,127}
 * digest          := algorithm ":" hex{32,}           algorithm: [A-Za-z][A-Za-z0-9]* ([-_+.] [A-Za-z][A-Za-z0-9]*)*
 * ```
 *
 * The expressions below are built from the same parts so that a JS RegExp matches exactly the
 * strings Go's RE2 expression does (no construct here differs between the two engines).
 */

const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const optionalPort = '(?::[0-9]+)?';
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const host = `(?:${domainName}|${ipv6address})`;
const domainAndPort = `${host}${optionalPort}`;
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const namePattern = `(?:${domainAndPort}/)?${remoteName}`;
const tagPattern = '[\\w][\\w.-]{0,127}';
const digestPattern = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';

/** A whole reference: captures name, tag, digest. */
export const referenceRegExp = new RegExp(`^(${namePattern})(?::(${tagPattern}))?(?:@(${digestPattern}))?$`);
/** A name split into domain (optional) and path. */
export const anchoredNameRegExp = new RegExp(`^(?:(${domainAndPort})/)?(${remoteName})$`);
/** A tag on its own. */
export const anchoredTagRegExp = new RegExp(`^${tagPattern}$`);
/** A domain (host and optional port) on its own. */
export const anchoredDomainRegExp = new RegExp(`^${domainAndPort}$`);
/** A digest on its own (grammar only; algorithm and length are checked separately). */
export const anchoredDigestRegExp = new RegExp(`^${digestPattern}$`);
/** 64 hex digits: an image ID, which Docker refuses as a repository name. */
export const anchoredIdentifierRegExp = /^[a-f0-9]{64}$/;

/** Hex lengths of the digest algorithms go-digest makes available (sha256, sha384, sha512). */
export const digestHexLengths: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

/** The longest repository path distribution accepts (`RepositoryNameTotalLengthMax`). */
export const maxPathLength = 255;
