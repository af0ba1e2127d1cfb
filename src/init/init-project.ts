import { stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { InvalidInputError, NotFoundError, StrataError } from '../util/index.ts';
import { goGenerator } from './go-generator.ts';
import { nodeGenerator } from './node-generator.ts';
import { exists } from './project-files.ts';
import type { ProjectGenerator, ProjectKind } from './project-generator.ts';
import { pythonGenerator } from './python-generator.ts';

/** The generator for each project kind. */
const GENERATORS: Readonly<Record<ProjectKind, ProjectGenerator>> = {
  go: goGenerator,
  python: pythonGenerator,
  node: nodeGenerator,
};

/** The project kinds, for validation and help text. */
export const PROJECT_KINDS: readonly ProjectKind[] = ['go', 'python', 'node'];

/** Inputs of {@link initProject}. */
export interface InitOptions {
  readonly kind: ProjectKind;
  /** The project directory (default: the current directory). */
  readonly dir?: string;
  /** The Dockerfile's name in `dir` (default `Dockerfile`). */
  readonly dockerfileName?: string;
  /** Overwrite an existing Dockerfile / .dockerignore instead of refusing. */
  readonly overwrite?: boolean;
}

/** One file {@link initProject} wrote or left alone. */
export interface InitFile {
  readonly path: string;
  /** `written`, or `kept` when a .dockerignore already existed (never overwritten without `overwrite`). */
  readonly action: 'written' | 'kept';
}

/** What {@link initProject} did and what it had to assume. */
export interface InitResult {
  readonly files: readonly InitFile[];
  /** What was detected in the project, one line each (`module example.com/app (go.mod)`). */
  readonly detected: readonly string[];
  /** What was assumed because nothing said otherwise, one line each; worth checking. */
  readonly assumed: readonly string[];
  /** Things that will probably need a hand edit (e.g. cgo in a FROM scratch image). */
  readonly warnings: readonly string[];
  /** The command that builds the result. */
  readonly buildCommand: string;
}

/** `strata init` would overwrite a file the user has. */
export class InitConflictError extends StrataError {
  constructor(path: string) {
    super('INIT_EXISTS', `${path} already exists`, {
      hint: 'pass --force to overwrite it, or -f to pick another name',
    });
  }
}

/**
 * `strata init go|python|node [dir]`: writes a commented multi-stage Dockerfile and a
 * .dockerignore for the project in `dir`, detecting what it can (go.mod's module and Go version and
 * the main package; requirements.txt or pyproject.toml and the WSGI/ASGI app; package.json's
 * scripts, engines and lockfile) and reporting what it assumed. Never overwrites a Dockerfile
 * unless `overwrite` is set; an existing .dockerignore is kept.
 */
export async function initProject(options: InitOptions): Promise<InitResult> {
  if (!PROJECT_KINDS.includes(options.kind)) {
    throw new InvalidInputError(`unknown project kind ${JSON.stringify(options.kind)}`, {
      hint: PROJECT_KINDS.join(', '),
    });
  }
  const dir = resolve(options.dir ?? '.');
  const info = await stat(dir).catch((error: unknown) => {
    throw new NotFoundError(`project directory ${dir} does not exist`, { cause: error });
  });
  if (!info.isDirectory()) throw new InvalidInputError(`${dir} is not a directory`);
  const generated = await GENERATORS[options.kind].generate(dir);
  const dockerfileName = options.dockerfileName ?? 'Dockerfile';
  const dockerfilePath = join(dir, dockerfileName);
  const ignorePath = join(dir, '.dockerignore');
  if (!options.overwrite && (await exists(dockerfilePath))) throw new InitConflictError(dockerfilePath);
  await writeFile(dockerfilePath, generated.dockerfile);
  const files: InitFile[] = [{ path: dockerfilePath, action: 'written' }];
  if (options.overwrite || !(await exists(ignorePath))) {
    await writeFile(ignorePath, generated.dockerignore);
    files.push({ path: ignorePath, action: 'written' });
  } else files.push({ path: ignorePath, action: 'kept' });
  const name =
    basename(dir)
      .toLowerCase()
      .replace(/[^a-z0-9._-]/g, '') || 'app';
  const fileFlag = dockerfileName === 'Dockerfile' ? '' : ` -f ${join(dir, dockerfileName)}`;
  return {
    files,
    detected: generated.detected,
    assumed: generated.assumed,
    warnings: generated.warnings,
    buildCommand: `strata build${fileFlag} -t ${name} ${dir}`,
  };
}
