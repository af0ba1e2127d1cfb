import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InvalidInputError, isErrnoException, NotFoundError } from '../util/index.ts';
import { ContextView } from './context-view.ts';
import { loadIgnoreFile } from './dockerignore.ts';
import type { PatternMatcher } from './pattern-matcher.ts';

/** A local build context ready for COPY/ADD: its directory, its ignore file and the filtered view. */
export interface BuildContext {
  /** Absolute context directory. */
  readonly root: string;
  /** The ignore file in effect (`<Dockerfile>.dockerignore` or `.dockerignore`), if any. */
  readonly ignoreFile: string | undefined;
  /** Its compiled patterns. */
  readonly ignore: PatternMatcher;
  /** The context as the build sees it. Make one per build: it remembers what it has read. */
  readonly view: ContextView;
}

/**
 * Opens a local directory as a build context: checks it is a directory, finds and compiles its
 * ignore file (throwing `InvalidIgnorePatternError` with file:line for a bad pattern), and
 * returns the filtered view that source selection and checksums read from.
 */
export async function openBuildContext(options: {
  readonly contextDir: string;
  readonly dockerfile?: string;
}): Promise<BuildContext> {
  const root = resolve(options.contextDir);
  try {
    if (!(await stat(root)).isDirectory())
      throw new InvalidInputError(`build context ${root} is not a directory`, {
        hint: 'pass a directory as the build context',
      });
  } catch (error) {
    if (isErrnoException(error, 'ENOENT') || isErrnoException(error, 'ENOTDIR'))
      throw new NotFoundError(`build context ${root} does not exist`, { cause: error });
    throw error;
  }
  const loaded = await loadIgnoreFile({
    contextDir: root,
    ...(options.dockerfile === undefined ? {} : { dockerfile: resolve(options.dockerfile) }),
  });
  const view = new ContextView(root, loaded.matcher);
  return { root: view.root, ignoreFile: loaded.file, ignore: loaded.matcher, view };
}
