/**
 * The programmatic API of strata and its composition root: every CLI command calls one of these.
 * Functions take an open {@link Store} or a root directory, and options objects.
 */

export { type ImageSummary, imageNameOf, listImages, removeImage, tagImage } from './api/images.ts';
export { createdTime, type ImportOptions, type ImportResult, importImage } from './api/import-image.ts';
export { openStore } from './api/open-store.ts';
export { buildImage, type BuildOptions, type BuildResult, type ImageResolver, storeImageResolver } from './api/build.ts';
