import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { applyLayer, openDecompressed } from '../archive/index.ts';
import { InvalidInputError, NotFoundError, resolveInRoot, StrataError } from '../util/index.ts';

const execFileAsync = promisify(execFile);

/**
 * What the CONTEXT argument of `build` names, by docker's rules (cli/command/image/build.go and
 * moby's urlutil): `-` (standard input), a git repository (`git@…`, `git://…`, `github.com/…`, an
 * http(s) URL ending in `.git`, optionally with a `#ref:subdir` fragment), another http(s) URL
 * (a tarball, or a plain Dockerfile), or a local directory.
 */
export type ContextArgument =
  | { readonly kind: 'stdin' }
  | { readonly kind: 'git'; readonly url: string; readonly ref?: string; readonly subdir?: string }
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'directory'; readonly path: string };

/** Classifies a CONTEXT argument (see {@link ContextArgument}). */
export function classifyContextArgument(text: string): ContextArgument {
  if (text === '-') return { kind: 'stdin' };
  const hash = text.indexOf('#');
  const base = hash < 0 ? text : text.slice(0, hash);
  const isGit =
    text.startsWith('git@') ||
    text.startsWith('git://') ||
    text.startsWith('github.com/') ||
    (/^https?:\/\//.test(text) && /\.git$/.test(base));
  if (isGit) {
    // BuildKit's fragment: #ref:subdir (either may be empty).
    const fragment = hash < 0 ? '' : text.slice(hash + 1);
    const colon = fragment.indexOf(':');
    const ref = colon < 0 ? fragment : fragment.slice(0, colon);
    const subdir = colon < 0 ? '' : fragment.slice(colon + 1);
    const url = base.startsWith('github.com/') ? `https://${base}` : base;
    return { kind: 'git', url, ...(ref ? { ref } : {}), ...(subdir ? { subdir } : {}) };
  }
  if (/^https?:\/\//.test(text)) return { kind: 'url', url: text };
  return { kind: 'directory', path: text };
}

/** What the first bytes of a stream say it is: an archive docker reads as a context, or text. */
export type StdinContent = 'tar' | 'gzip' | 'zstd' | 'bzip2' | 'xz' | 'text';

/**
 * docker's rule for `build -` and a URL context: an archive when the bytes start with gzip, bzip2,
 * xz (or zstd) magic, or hold a tar header (`ustar` at offset 257); anything else is a Dockerfile.
 */
export function sniffContextContent(head: Uint8Array): StdinContent {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (b[0] === 0x1f && b[1] === 0x8b) return 'gzip';
  if (b.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (b.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'zstd';
  if (b.length >= 262 && b.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
  return 'text';
}

/** A context fetched or unpacked into a temporary directory; `cleanup` removes it. */
export interface MaterializedContext {
  readonly dir: string;
  /** A Dockerfile given as the whole content (a URL or stdin that held text). */
  readonly dockerfileText?: string;
  cleanup(): Promise<void>;
}

/** A remote context could not be fetched or unpacked. */
export class RemoteContextError extends StrataError {
  constructor(message: string, options: { cause?: unknown; hint?: string } = {}) {
    super('REMOTE_CONTEXT_FAILED', message, options);
  }
}

/**
 * Unpacks a context archive (tar, gzip or zstd; bzip2 and xz refused by name) or takes a
 * Dockerfile, from `bytes`, into a new directory under `tmpRoot`. The archive is unpacked as ADD
 * unpacks one: never outside the directory, `.wh.` names kept as files, owners not applied.
 */
export async function contextFromBytes(
  bytes: Uint8Array,
  tmpRoot: string,
  what: string,
  signal?: AbortSignal,
): Promise<MaterializedContext> {
  const kind = sniffContextContent(bytes.subarray(0, 512));
  await mkdir(tmpRoot, { recursive: true });
  const dir = await mkdtemp(join(tmpRoot, 'context-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    if (kind === 'text') return { dir, dockerfileText: Buffer.from(bytes).toString('utf8'), cleanup };
    if (kind === 'bzip2' || kind === 'xz')
      throw new InvalidInputError(`${what}: a ${kind} archive is not supported as a build context`, {
        hint: 'send a tar, or a gzip- or zstd-compressed tar',
      });
    await applyLayer(openDecompressed(Readable.from([Buffer.from(bytes)])), dir, {
      whiteouts: 'literal',
      preserveOwnership: false,
      ...(signal ? { signal } : {}),
    });
    return { dir, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/**
 * Clones a git context with the git CLI into a new directory under `tmpRoot`: the ref (a branch or
 * tag shallowly; a commit by fetching it), submodules too, as BuildKit does; the context is the
 * subdirectory when the fragment names one (never outside the clone).
 */
export async function contextFromGit(
  spec: Extract<ContextArgument, { kind: 'git' }>,
  tmpRoot: string,
  signal?: AbortSignal,
): Promise<MaterializedContext> {
  await mkdir(tmpRoot, { recursive: true });
  const clone = await mkdtemp(join(tmpRoot, 'git-context-'));
  const cleanup = () => rm(clone, { recursive: true, force: true });
  const git = (args: string[], cwd?: string) =>
    execFileAsync('git', args, {
      ...(cwd ? { cwd } : {}),
      ...(signal ? { signal } : {}),
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
      maxBuffer: 16 * 1024 * 1024,
    });
  try {
    try {
      await git(['init', '-q', clone]);
      await git(['remote', 'add', 'origin', spec.url], clone);
      const ref = spec.ref ?? 'HEAD';
      try {
        await git(['fetch', '-q', '--depth', '1', 'origin', ref], clone);
        await git(['checkout', '-q', 'FETCH_HEAD'], clone);
      } catch {
        // A commit the server will not send by itself (no allowReachableSHA1InWant): fetch
        // everything and check the commit out. A ref that does not exist fails here too.
        await git(['fetch', '-q', '--tags', 'origin', '+refs/heads/*:refs/remotes/origin/*'], clone);
        await git(['checkout', '-q', ref], clone);
      }
      await git(['submodule', 'update', '-q', '--init', '--recursive', '--depth', '1'], clone);
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr?.trim();
      throw new RemoteContextError(
        `cloning ${spec.url}${spec.ref ? `#${spec.ref}` : ''}${stderr ? `: ${stderr.split('\n').pop()}` : ''}`,
        { cause: error },
      );
    }
    // The context is the tree as committed, without the repository's own metadata (BuildKit
    // leaves .git out unless BUILDKIT_CONTEXT_KEEP_GIT_DIR is set).
    await rm(join(clone, '.git'), { recursive: true, force: true });
    const dir = spec.subdir ? resolveInRoot(clone, spec.subdir) : clone;
    const found = await stat(dir).catch(() => undefined);
    if (!found?.isDirectory())
      throw new NotFoundError(
        `git context ${spec.url}: no directory ${JSON.stringify(spec.subdir)} at ${spec.ref ?? 'HEAD'}`,
      );
    return { dir, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
