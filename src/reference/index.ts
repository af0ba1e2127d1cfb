/**
 * reference — image references: parsing and Docker's normalisation (`alpine` →
 * `docker.io/library/alpine:latest`), tags, digests, the short "familiar" form Docker prints, and
 * the registry host to contact. Follows distribution/reference exactly. Depends on util only.
 */
export * from './parse-reference.ts';
