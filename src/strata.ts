/**
 * The programmatic API of strata and its composition root: every CLI command calls one of these.
 * Functions take an open {@link Store} or a root directory, and options objects.
 */

export {
  type BuildOptions,
  type BuildResult,
  type BuiltIndex,
  buildImage,
  type CacheExport,
  type CacheLocation,
  type ImageResolver,
  type PlatformBuild,
  type PullPolicy,
  storeImageResolver,
} from './api/build.ts';
export {
  type CopyImageOptions,
  type CopyImageResult,
  copyImage,
  imageReaderFor,
  imageWriterFor,
} from './api/copy.ts';
export { registryImageResolver } from './api/image-resolver.ts';
export { type ImageSummary, imageNameOf, listImages, removeImage, tagImage } from './api/images.ts';
export { createdTime, type ImportOptions, type ImportResult, importImage } from './api/import-image.ts';
export { type InspectImageOptions, type InspectResult, inspectImage } from './api/inspect.ts';
export { login, loginHost, logout } from './api/login.ts';
export { openStore } from './api/open-store.ts';
export {
  type DiskUsage,
  diskUsage,
  type PruneOptions,
  type PruneResult,
  parseDuration,
  parseSize,
  prune,
} from './api/prune.ts';
export { type PullImageOptions, type PullImageResult, pull } from './api/pull.ts';
export { type PushImageOptions, type PushImageResult, push } from './api/push.ts';
export { type RegistryAccess, registryPoolFor, withRegistryPool } from './api/registry-access.ts';
export {
  containerArgs,
  containerEnv,
  type RunImageOptions,
  type RunImageResult,
  runImage,
} from './api/run-image.ts';
export {
  type InitOptions,
  type InitResult,
  initProject,
  PROJECT_KINDS,
  type ProjectKind,
} from './init/index.ts';
export {
  DockerArchiveReader,
  DockerArchiveWriter,
  formatImageLocation,
  type ImageLocation,
  OciLayoutReader,
  OciLayoutWriter,
  parseImageLocation,
  StoreImageReader,
  StoreImageWriter,
} from './transport/index.ts';
