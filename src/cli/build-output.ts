// Exporting a build's outputs is an operation of the API (api/export-build-output.ts); cli/build.ts loads it from here.
export {
  DockerLoadError,
  type ExportedOutput,
  exportBuildOutput,
  OutputWriteError,
} from '../api/export-build-output.ts';
