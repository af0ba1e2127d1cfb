import { spawn } from 'node:child_process';
import { chmodSync, lstatSync, lutimesSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GitRef } from '../dockerfile/index.ts';
import { AbortedError, StrataError, type StrataErrorOptions } from '../util/index.ts';

/** Fetching a Git source failed: the remote, the ref or the checkout. */
export class GitSourceError extends StrataError {
  constructor(message: string, options: StrataErrorOptions = {}) {
    super('GIT_SOURCE', message, options);
  }
}

/** What a Git reference resolved to on its remote. */
export interface ResolvedGitRef {
  /** The full hash of the commit the checkout will have. */
  readonly commit: string;
  /** The ref that was matched (`refs/heads/main`), or the commit itself. */
  readonly ref: string;
}

/** A checked-out Git source on disk, to be disposed of once copied. */
export interface GitCheckout {
  /** The directory whose contents ADD copies (the subdirectory, when one is named). */
  readonly dir: string;
  readonly commit: string;
  dispose(): void;
}

const COMMIT = /^([0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * Resolves a Git reference to a commit without cloning, as BuildKit's git source does for its
 * cache key: a full commit hash is taken as it is; otherwise `git ls-remote` lists the ref
 * (the remote's default branch when none is given), a branch winning over a tag of the same
 * name, an annotated tag standing for the commit it points to. `checksum` must be a prefix of
 * the commit (or of the annotated tag's object).
 */
export async function resolveGitRef(ref: GitRef, signal?: AbortSignal): Promise<ResolvedGitRef> {
  validateRef(ref.ref);
  const checksum = ref.checksum?.toLowerCase();
  if (ref.fetchByCommit && !COMMIT.test(ref.ref)) {
    if (checksum === undefined || !COMMIT.test(checksum))
      throw new GitSourceError(
        `fetch-by-commit requires a full commit SHA checksum, got ${JSON.stringify(ref.checksum ?? '')}`,
      );
    // BuildKit's canonical form: an unqualified name is a branch (a tag must say refs/tags/).
    const name = ref.ref === '' ? checksum : ref.ref.startsWith('refs/') ? ref.ref : `refs/heads/${ref.ref}`;
    return { commit: checksum, ref: name };
  }
  if (COMMIT.test(ref.ref)) {
    if (checksum !== undefined && !ref.ref.startsWith(checksum))
      throw new GitSourceError(`expected checksum to match ${checksum}, got ${ref.ref}`);
    return { commit: ref.ref, ref: ref.ref };
  }
  const name = ref.ref === '' ? await defaultBranch(ref, signal) : ref.ref;
  const listed = await git(['ls-remote', '--', ref.remote, name, `${name}^{}`], {
    remote: ref.remote,
    signal,
  });
  const bare = name.replace(/^refs\//, '');
  const partial = `refs/${bare}`;
  const head = `refs/heads/${name.replace(/^refs\/heads\//, '')}`;
  const tag = `refs/tags/${name.replace(/^refs\/tags\//, '')}`;
  let exact: string | undefined;
  let headSha: string | undefined;
  let tagSha: string | undefined;
  let peeled: string | undefined;
  for (const line of listed.split('\n')) {
    const [sha, lineRef] = line.split('\t');
    if (sha === undefined || lineRef === undefined) continue;
    if (lineRef === head) headSha = sha;
    else if (lineRef === tag) tagSha = sha;
    else if (lineRef === `${tag}^{}`) peeled = sha;
    else if (lineRef === partial) exact = sha;
  }
  let sha = exact ?? headSha;
  let used = exact !== undefined ? partial : head;
  if (sha !== undefined) peeled = undefined;
  else {
    sha = tagSha;
    used = tag;
  }
  if (sha === undefined)
    throw new GitSourceError(`repository ${redact(ref.remote)} does not contain ref ${name}`, {
      hint: 'check the branch, tag or commit after # in the source',
    });
  // What the remote listed is given to git as a commit: only a hash will do (BuildKit: IsCommitSHA).
  for (const hash of peeled === undefined ? [sha] : [sha, peeled])
    if (!COMMIT.test(hash)) throw new GitSourceError(`invalid commit sha ${JSON.stringify(hash)}`);
  if (checksum !== undefined && !sha.startsWith(checksum) && !(peeled ?? '').startsWith(checksum)) {
    throw new GitSourceError(
      `expected checksum to match ${checksum}, got ${sha}${peeled === undefined ? '' : ` or ${peeled}`}`,
    );
  }
  // An annotated tag's object is not a commit: the checkout has the commit it points to.
  return { commit: peeled ?? sha, ref: used };
}

/**
 * Checks out `commit` of a Git source into a new temporary directory, as BuildKit's git source
 * does: fetched shallow (`--depth=1`, falling back to a full fetch for a commit the server will
 * not hand out by itself), submodules included unless `?submodules=false`, the `.git` directory
 * removed unless `keepGitDir` (and only kept when no subdirectory is taken). Files get the modes a
 * checkout under umask 022 gives (0644, 0755 for executables; directories 0755) and, with
 * `?mtime=commit`, the commit's time instead of the checkout's. A subdirectory must be a real
 * directory: no component may be a symlink (BuildKit's validateDirsOnly).
 */
export async function checkoutGitRef(
  ref: GitRef,
  options: { readonly resolved: ResolvedGitRef; readonly keepGitDir: boolean; readonly signal?: AbortSignal },
): Promise<GitCheckout> {
  const { resolved, signal } = options;
  validateRef(ref.ref);
  validateRef(resolved.ref);
  if (!COMMIT.test(resolved.commit))
    throw new GitSourceError(`invalid commit sha ${JSON.stringify(resolved.commit)}`);
  const work = mkdtempSync(join(tmpdir(), 'strata-git-'));
  const dispose = () => rmSync(work, { recursive: true, force: true });
  try {
    const repo = join(work, 'checkout');
    const run = (args: readonly string[]) =>
      git(['-C', repo, ...args], { remote: ref.remote, ...(signal ? { signal } : {}) });
    await git(['-c', 'init.defaultBranch=master', 'init', '-q', repo], {
      remote: ref.remote,
      ...(signal ? { signal } : {}),
    });
    // `--` before each argument that comes from the source, so that none is read as an option.
    await run(['remote', 'add', '--', 'origin', ref.remote]);
    const keepGit = options.keepGitDir && ref.subdir === '';
    // A kept .git has the branch or tag as a ref of its own (BuildKit fetches `<ref>:<ref>`), so
    // that `git describe` and the like work in the image; an annotated tag comes with its object.
    const named = resolved.ref.startsWith('refs/') ? resolved.ref : undefined;
    const byCommit = ref.fetchByCommit || named === undefined;
    const wanted = byCommit ? resolved.commit : keepGit ? `+${named}:${named}` : named!;
    const fetch = (spec: string) =>
      tryFetch(run, ['fetch', '-q', '-u', '--depth=1', '--no-tags', '--', 'origin', spec]);
    let fetched = await fetch(wanted);
    if (fetched && !byCommit && (await revParse(run, 'FETCH_HEAD')) !== resolved.commit) {
      // The ref moved since it was resolved: fetch the commit itself.
      fetched = await fetch(resolved.commit);
    }
    if (!fetched) {
      // A server that does not serve unadvertised commits: fetch everything and look for it.
      await run(['fetch', '-q', '--tags', '--', 'origin', '+refs/heads/*:refs/remotes/origin/*']);
    }
    await run(['-c', 'advice.detachedHead=false', 'checkout', '-q', resolved.commit, '--']);
    if (ref.submodules !== false)
      await run(['submodule', 'update', '-q', '--init', '--recursive', '--depth=1']);
    const commitTime = Number((await run(['log', '-1', '--format=%ct', resolved.commit, '--'])).trim());
    if (keepGit && named !== undefined && (await tryRevParse(run, named)) !== resolved.commit) {
      // Fetched by commit (fetch-by-commit, a moved ref, a server that wants everything): the
      // ref the source named still points at the commit checked out.
      await run(['update-ref', '--no-deref', named, resolved.commit]);
    }
    if (keepGit) {
      await run(['remote', 'set-url', 'origin', redact(ref.remote)]);
      await run(['reflog', 'expire', '--all', '--expire=now']);
      rmSync(join(repo, '.git', 'FETCH_HEAD'), { force: true });
    } else {
      // Git never tracks a `.git` path, so every one is git's own: the repository's and each
      // submodule's pointer to it (BuildKit leaves those pointers, dangling, in the layer).
      removeGitEntries(repo);
    }
    const dir = ref.subdir === '' ? repo : subdirectory(repo, ref.subdir, ref.remote);
    normalizeTree(repo, { mtime: ref.mtime === 'commit' ? commitTime : undefined, gitDir: '.git' });
    return { dir, commit: resolved.commit, dispose };
  } catch (error) {
    dispose();
    throw error;
  }
}

/** The remote's default branch (`git ls-remote --symref <remote> HEAD`). */
async function defaultBranch(ref: GitRef, signal?: AbortSignal): Promise<string> {
  const out = await git(['ls-remote', '--symref', '--', ref.remote, 'HEAD'], {
    remote: ref.remote,
    ...(signal ? { signal } : {}),
  });
  const m = /^ref: (\S+)\tHEAD$/m.exec(out);
  if (m === null)
    throw new GitSourceError(`could not find the default branch of ${redact(ref.remote)}`, {
      hint: 'name a branch, tag or commit after # in the source',
    });
  return m[1]!;
}

async function tryFetch(
  run: (args: readonly string[]) => Promise<string>,
  args: readonly string[],
): Promise<boolean> {
  try {
    await run(args);
    return true;
  } catch (error) {
    // A refused fetch is answered by the fallback; an abort is not a refusal.
    if (error instanceof GitSourceError) return false;
    throw error;
  }
}

async function revParse(run: (args: readonly string[]) => Promise<string>, name: string): Promise<string> {
  return (await run(['rev-parse', '--verify', '--end-of-options', `${name}^{commit}`])).trim();
}

/** The commit `name` points to in the checkout, or undefined when it names nothing. */
async function tryRevParse(
  run: (args: readonly string[]) => Promise<string>,
  name: string,
): Promise<string | undefined> {
  try {
    return await revParse(run, name);
  } catch (error) {
    // No such ref (yet): the caller creates it.
    if (error instanceof GitSourceError) return undefined;
    throw error;
  }
}

/** BuildKit's validateGitRef: a ref is given to git as an argument, where `-…` is an option. */
function validateRef(name: string): void {
  if (name.startsWith('-')) throw new GitSourceError(`invalid git ref ${JSON.stringify(name)}`);
}

/** Removes every `.git` file or directory under `dir`, without following symlinks. */
function removeGitEntries(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.name === '.git') rmSync(path, { recursive: true, force: true });
    else if (entry.isDirectory()) removeGitEntries(path);
  }
}

/** `root/subdir`, each component a directory and none a symlink. */
function subdirectory(root: string, subdir: string, remote: string): string {
  let dir = root;
  for (const part of subdir.split('/')) {
    dir = join(dir, part);
    const st = lstatSync(dir, { throwIfNoEntry: false });
    if (st === undefined || !st.isDirectory())
      throw new GitSourceError(`invalid subdir ${subdir} of ${redact(remote)}: ${part} is not a directory`, {
        hint: 'the part after : in the source must be a directory of the repository (not a symlink)',
      });
  }
  return dir;
}

/**
 * Modes as a checkout under umask 022 makes them, whatever strata's umask; every time set to
 * `mtime` when given. A kept `.git` directory (`gitDir`, at the top) keeps git's own modes but
 * gets the time too, as BuildKit's resetSnapshotMtimes walks the whole checkout.
 */
function normalizeTree(dir: string, options: { mtime: number | undefined; gitDir?: string }): void {
  const { mtime } = options;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.name === options.gitDir) {
      if (mtime !== undefined) setTimes(path, mtime);
      continue;
    }
    if (entry.isDirectory()) {
      normalizeTree(path, { mtime });
      chmodSync(path, 0o755);
    } else if (entry.isFile()) {
      chmodSync(path, (statSync(path).mode & 0o100) !== 0 ? 0o755 : 0o644);
    }
    if (mtime !== undefined) lutimesSync(path, mtime, mtime);
  }
  if (mtime !== undefined) lutimesSync(dir, mtime, mtime);
}

/** Sets the times of `path` and, for a directory, of everything under it; no symlink followed. */
function setTimes(path: string, mtime: number): void {
  if (lstatSync(path).isDirectory()) for (const name of readdirSync(path)) setTimes(join(path, name), mtime);
  lutimesSync(path, mtime, mtime);
}

/** A URL with its password (or token) taken out, for messages and the kept `.git/config`. */
export function redact(remote: string): string {
  return remote.replace(/^([a-z0-9+.-]+:\/\/)([^/@:]*):[^/@]*@/i, '$1$2:xxxxx@');
}

/** The git subcommand of an argument list (`fetch` in `-C dir -c x=y fetch …`). */
function subcommand(args: readonly string[]): string {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '-C' || args[i] === '-c') i++;
    else if (!args[i]!.startsWith('-')) return args[i]!;
  }
  return 'git';
}

const PASSED_ENV = [
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'all_proxy',
  'SSH_AUTH_SOCK',
];

/**
 * The environment git runs in, built from nothing as BuildKit's GitCLI builds it: none of the
 * host's git configuration (system, global, `HOME`'s, `GIT_CONFIG_*`) and no `GIT_DIR` and the
 * like, which would let a repository's submodules reach local files or redirect the commands;
 * no prompts (`GIT_TERMINAL_PROMPT=0`, ssh in batch mode), so a source that wants a password
 * fails instead of hanging. The proxy variables and the SSH agent pass through.
 */
function gitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    GIT_TERMINAL_PROMPT: '0',
    // Unlike BuildKit (`ssh -F /dev/null -o StrictHostKeyChecking=no`), strata runs as the user:
    // their ssh config and known hosts apply, as for `git clone`; only prompts are turned off.
    GIT_SSH_COMMAND: 'ssh -o BatchMode=yes',
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    HOME: '/dev/null',
  };
  for (const name of PASSED_ENV) if (process.env[name] !== undefined) env[name] = process.env[name];
  return env;
}

/**
 * Options before every command: no `file` transport at all (BuildKit allows it for the top-level
 * remote only, `user`; a strata source is never a local path, so `never` loses nothing and a
 * submodule can never read the machine's repositories), and no `ext` (arbitrary commands).
 */
const PROTOCOLS = ['-c', 'protocol.file.allow=never', '-c', 'protocol.ext.allow=never'];

/** Runs git in its own environment (`gitEnv`); fails with its stderr. */
function git(
  args: readonly string[],
  options: { remote: string; signal?: AbortSignal | undefined },
): Promise<string> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new AbortedError('git stopped: the build was interrupted'));
      return;
    }
    const child = spawn('git', [...PROTOCOLS, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: gitEnv(),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.name === 'AbortError') reject(new AbortedError('git stopped: the build was interrupted'));
      else if (error.code === 'ENOENT')
        reject(new GitSourceError('git is not installed', { hint: 'install git to ADD a Git repository' }));
      else reject(new GitSourceError(`git ${args[0]}: ${error.message}`, { cause: error }));
    });
    child.on('close', (code) => {
      if (code === 0) {
        resolve(Buffer.concat(out).toString('utf8'));
        return;
      }
      const stderr = Buffer.concat(err)
        .toString('utf8')
        .trim()
        .replaceAll(options.remote, redact(options.remote));
      const command = subcommand(args);
      reject(
        new GitSourceError(
          `failed to ${args.includes('ls-remote') ? 'read' : 'fetch'} ${redact(options.remote)}: git ${command} exited with code ${code}${stderr === '' ? '' : `: ${stderr.split('\n').slice(-3).join(' ')}`}`,
        ),
      );
    });
  });
}
