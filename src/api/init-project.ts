// `strata init`: the generators live in init/ (one per language behind `ProjectGenerator`).
export {
  InitConflictError,
  type InitFile,
  type InitOptions,
  type InitResult,
  initProject,
  PROJECT_KINDS,
  type ProjectKind,
} from '../init/index.ts';
