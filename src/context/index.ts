/**
 * context — the build context: `.dockerignore` matching with moby/patternmatcher's exact
 * semantics, the ignore-filtered view of the context directory, COPY/ADD source selection
 * (wildcards, directory contents, `--exclude`, `--parents`) that never leaves the context root,
 * and content checksums of a selection for the step cache, with a stat-keyed checksum cache;
 * Git sources (ADD <git URL>): resolving a ref with `git ls-remote` and a shallow checkout with
 * the git CLI. Depends on util, oci, archive and dockerfile.
 */
export * from './checksum-cache.ts';
export * from './content-checksum.ts';
export * from './context-view.ts';
export * from './copy-ignored.ts';
export * from './dockerignore.ts';
export * from './errors.ts';
export * from './git-source.ts';
export { BadPatternError, goMatch, hasWildcards } from './go-match.ts';
export * from './open-build-context.ts';
export * from './pattern-matcher.ts';
export * from './remote-context.ts';
export * from './select-sources.ts';
