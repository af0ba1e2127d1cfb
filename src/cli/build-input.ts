import { readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { InvalidInputError, isErrnoException, NotFoundError } from '../util/index.ts';
import { requireRoot } from './cli-context.ts';

/** The context and Dockerfile a `strata build` reads, checked before any work starts. */
export interface BuildInput {
  /** Absolute context directory (an empty temporary one for `build -`). */
  readonly context: string;
  /** The Dockerfile's path, or its text when it came from standard input. */
  readonly dockerfile?: string | { readonly text: string; readonly name: string };
  /** Removes what was made for the build (the empty context of `build -`). */
  release(): Promise<void>;
}

/**
 * Checks and prepares `strata build`'s inputs up front, as docker's CLI does before it talks to
 * the daemon: the build needs root (it unpacks layers with their owners and runs steps in runc);
 * a context directory that does not exist is docker's `unable to prepare context: path "…" not
 * found` even when `-f` names a Dockerfile elsewhere; `build -` reads the Dockerfile from standard
 * input and has no context (`docker build - < Dockerfile`: COPY finds nothing).
 */
export async function prepareBuildInput(contextArg: string, file: string | undefined): Promise<BuildInput> {
  requireRoot('build');
  if (contextArg === '-') return dockerfileFromStdin(file);
  const context = resolve(contextArg);
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

async function dockerfileFromStdin(file: string | undefined): Promise<BuildInput> {
  // docker's own messages for the two ways of asking stdin for two things.
  if (file === '-')
    throw new InvalidInputError("invalid argument: can't use stdin for both build context and dockerfile");
  if (file !== undefined)
    throw new InvalidInputError(
      `-f ${file} cannot be used with build -: the Dockerfile is read from standard input`,
      {
        hint: `strata build -f ${file} DIR, or strata build - < ${file}`,
      },
    );
  const bytes = readFileSync(0);
  if (isArchive(bytes))
    throw new InvalidInputError('a build context as a tar stream on standard input is not supported', {
      hint: 'extract it and pass the directory: strata build DIR',
    });
  // An empty directory of our own: COPY and ADD of local files find nothing, as with docker.
  const context = await mkdtemp(join(tmpdir(), 'strata-stdin-context-'));
  return {
    context,
    dockerfile: { text: bytes.toString('utf8'), name: 'Dockerfile' },
    release: () => rm(context, { recursive: true, force: true }),
  };
}

/** gzip, bzip2, xz, zstd or a tar header: what docker's DetectArchiveReader takes for a context archive. */
function isArchive(bytes: Buffer): boolean {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return true;
  if (bytes.subarray(0, 3).toString('latin1') === 'BZh') return true;
  if (bytes.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return true;
  if (bytes.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return true;
  return bytes.length >= 262 && bytes.subarray(257, 262).toString('latin1') === 'ustar';
}
