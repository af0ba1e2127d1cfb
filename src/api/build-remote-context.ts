import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  classifyContextArgument,
  contextFromBytes,
  contextFromGit,
  type MaterializedContext,
  RemoteContextError,
} from '../context/index.ts';
import { urlFetcher } from './fetch-url.ts';

/** The build context a CONTEXT argument names, ready to build from; `cleanup` removes what was fetched. */
export interface BuildContextSource {
  readonly dir: string;
  /** The Dockerfile's text when the context was one (stdin or a URL that held text). */
  readonly dockerfileText?: string;
  /** True for a context strata fetched or unpacked (then `-f` is a path inside it, as docker has it). */
  readonly remote: boolean;
  cleanup(): Promise<void>;
}

/**
 * Opens the context `docker build` would for `arg`: a local directory as it is; `-` read from
 * standard input (a tar, gzip or zstd archive, or else a Dockerfile with an empty context); a git
 * URL cloned with the git CLI (`#ref:subdir`); an http(s) URL downloaded (an archive, or else a
 * Dockerfile). Remote contexts go into a temporary directory under `tmpRoot`.
 */
export async function openContextArgument(
  arg: string,
  options: { readonly tmpRoot: string; readonly signal?: AbortSignal },
): Promise<BuildContextSource> {
  const spec = classifyContextArgument(arg);
  let context: MaterializedContext;
  switch (spec.kind) {
    case 'directory':
      return { dir: spec.path, remote: false, cleanup: async () => undefined };
    case 'stdin':
      context = await contextFromBytes(readFileSync(0), options.tmpRoot, 'standard input', options.signal);
      break;
    case 'git':
      context = await contextFromGit(spec, options.tmpRoot, options.signal);
      break;
    case 'url': {
      const fetcher = urlFetcher(join(options.tmpRoot));
      try {
        const chunks: Buffer[] = [];
        try {
          for await (const chunk of await fetcher.fetch(spec.url, options.signal))
            chunks.push(Buffer.from(chunk));
        } catch (error) {
          throw new RemoteContextError(`downloading the context ${spec.url}`, { cause: error });
        }
        context = await contextFromBytes(Buffer.concat(chunks), options.tmpRoot, spec.url, options.signal);
      } finally {
        await fetcher.close();
      }
      break;
    }
  }
  return {
    dir: context.dir,
    ...(context.dockerfileText !== undefined ? { dockerfileText: context.dockerfileText } : {}),
    remote: true,
    cleanup: context.cleanup,
  };
}
