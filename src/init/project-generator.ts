/** The kinds of project `strata init` writes a Dockerfile for. */
export type ProjectKind = 'go' | 'python' | 'node';

/** The text of a generated project: Dockerfile plus .dockerignore, and what was detected/assumed. */
export interface GeneratedProject {
  readonly dockerfile: string;
  readonly dockerignore: string;
  /** What was detected in the project, one line each (`module example.com/app (go.mod)`). */
  readonly detected: string[];
  /** What was assumed because nothing said otherwise, one line each. */
  readonly assumed: string[];
  /** Things that will probably need a hand edit. */
  readonly warnings: string[];
}

/**
 * One language `strata init` knows: it reads the project in a directory (never writes) and
 * returns the Dockerfile and .dockerignore for it, saying what it detected and what it assumed.
 */
export interface ProjectGenerator {
  readonly kind: ProjectKind;
  generate(dir: string): Promise<GeneratedProject>;
}
