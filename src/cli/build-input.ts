import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { openContextArgument } from '../api/build-remote-context.ts';
import { InvalidInputError, isErrnoException, NotFoundError, resolveInRoot } from '../util/index.ts';

/** The context and Dockerfile a `strata build` reads, checked before any work starts. */
export interface BuildInput {
  /** Absolute context directory (a temporary one for `-`, a git or an http(s) context). */
  readonly context: string;
  /** The Dockerfile's path, or its text when it came from standard input or a URL. */
  readonly dockerfile?: string | { readonly text: string; readonly name: string };
  /** Removes what was made for the build (a fetched or unpacked context). */
  release(): Promise<void>;
}

/**
 * Checks and prepares `strata build`'s inputs up front, as docker's CLI does before it talks to
 * the daemon (the caller checks for root first when it builds): a context directory that does not exist is docker's `unable to prepare context: path "…" not
 * found` even when `-f` names a Dockerfile elsewhere. `-`, a git URL and an http(s) URL are
 * fetched or unpacked first (docker's rule for `-`: an archive is the context, anything else the
 * Dockerfile with an empty context); in such a context `-f` names a file inside it.
 */
export async function prepareBuildInput(contextArg: string, file: string | undefined): Promise<BuildInput> {
  // docker's own message for asking stdin for two things.
  if (contextArg === '-' && file === '-')
    throw new InvalidInputError("invalid argument: can't use stdin for both build context and dockerfile");
  const source = await openContextArgument(contextArg, { tmpRoot: tmpdir() });
  if (source.remote) {
    const context = resolve(source.dir);
    if (source.dockerfileText !== undefined && file !== undefined) {
      await source.cleanup();
      throw new InvalidInputError(
        `-f ${file} cannot be used when ${contextArg === '-' ? 'standard input' : contextArg} is a Dockerfile`,
        { hint: `strata build -f ${file} DIR, or strata build - < ${file}` },
      );
    }
    const dockerfile =
      file === '-'
        ? { text: readFileSync(0, 'utf8'), name: 'Dockerfile' }
        : file !== undefined
          ? resolveInRoot(context, file)
          : source.dockerfileText !== undefined
            ? { text: source.dockerfileText, name: 'Dockerfile' }
            : undefined;
    return { context, ...(dockerfile ? { dockerfile } : {}), release: () => source.cleanup() };
  }
  const context = resolve(source.dir);
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(context);
  } catch (error) {
    if (isErrnoException(error, 'ENOENT') || isErrnoException(error, 'ENOTDIR'))
      throw new NotFoundError(`unable to prepare context: path ${JSON.stringify(contextArg)} not found`);
    throw new InvalidInputError(`unable to prepare context: cannot read ${context}`, { cause: error });
  }
  if (!info.isDirectory())
    throw new InvalidInputError(`unable to prepare context: context must be a directory: ${context}`);
  const dockerfile =
    file === '-'
      ? { text: readFileSync(0, 'utf8'), name: 'Dockerfile' }
      : file !== undefined
        ? resolve(file)
        : undefined;
  return { context, ...(dockerfile ? { dockerfile } : {}), release: async () => undefined };
}
