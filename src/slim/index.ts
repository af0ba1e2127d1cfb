/**
 * slim — `strata slim`'s decisions: from a single-stage Dockerfile and the image it builds (its
 * config, its merged filesystem read through {@link ImageRoot}, the paths its own layers added),
 * find what CMD runs (an ELF binary and the libraries it loads, or a Node or Python program), which
 * Debian packages and files it needs and which are build tools, pick the smallest final base that
 * can run it, and write the commented multi-stage Dockerfile. Building, running and comparing
 * the images is `api/slim-dockerfile.ts`'s. See docs/slim.md.
 */
export * from './dpkg-database.ts';
export * from './elf.ts';
export * from './image-root.ts';
export * from './plan-slim.ts';
export * from './render-dockerfile.ts';
export * from './shared-libraries.ts';
export * from './slim-base.ts';
export * from './slim-errors.ts';
export * from './slim-facts.ts';
