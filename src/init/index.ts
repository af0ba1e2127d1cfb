/**
 * init — `strata init`: a commented multi-stage Dockerfile and a .dockerignore for a Go, Python or
 * Node project, from what the project's files say (go.mod, requirements.txt or pyproject.toml,
 * package.json) and with what was assumed reported. One `ProjectGenerator` per language
 * (`go-generator.ts`, `python-generator.ts`, `node-generator.ts`) over the shared detection in
 * `project-files.ts`; `initProject` picks one and writes its files. Depends on util only.
 */
export * from './go-generator.ts';
export * from './init-project.ts';
export * from './node-generator.ts';
export * from './project-generator.ts';
export * from './python-generator.ts';
