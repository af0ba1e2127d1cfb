import { DockerfileError } from './dockerfile-error.ts';

/**
 * A Git repository an ADD source names, as BuildKit's dfgitutil.ParseGitRef reads it:
 * `https://host/repo.git#ref:subdir`, `git@host:repo#ref`, `ssh://…`, `git://…`, with the
 * fragment (`#<ref>[:<subdir>]`) and the query form (`?ref=…&subdir=…&tag=…&branch=…&checksum=…
 * &keep-git-dir=…&submodules=…&mtime=checkout|commit&fetch-by-commit`).
 */
export interface GitRef {
  /** The repository's URL without fragment and query (what `git` is given). */
  readonly remote: string;
  /** `https`, `http`, `ssh` or `git`. */
  readonly scheme: 'http' | 'https' | 'ssh' | 'git';
  /** A branch, tag, other ref or commit; empty for the remote's default branch. */
  readonly ref: string;
  /** A directory inside the repository whose contents are added; empty for the root. */
  readonly subdir: string;
  /** The commit (or annotated tag) hash, or a prefix of it, the ref must resolve to. */
  readonly checksum?: string;
  readonly keepGitDir?: boolean;
  /** Whether submodules are checked out (default: yes). */
  readonly submodules?: boolean;
  /** File times: the checkout's (`checkout`, BuildKit's default) or the commit's (`commit`). */
  readonly mtime?: 'checkout' | 'commit';
  /** Trust `checksum` as the commit and fetch it directly. */
  readonly fetchByCommit: boolean;
}

const SUPPORTED = new Set(['http', 'https', 'ssh', 'git']);
const PROTOCOL = /^[a-zA-Z0-9]+:\/\//;
// sshutil's gitSSHRegex: user@host:path[?query][#fragment]; stricter in that neither the user
// nor the host may start with `-`, which ssh would read as an option.
const SCP_STYLE = /^([a-zA-Z0-9_][a-zA-Z0-9-_]*)@([a-zA-Z0-9.][a-zA-Z0-9-.]*):(.*?)(?:\?(.*?))?(?:#(.*))?$/;

/**
 * Reads an ADD source as a Git reference with BuildKit's rules, or undefined when it is none: a
 * URL with a scheme other than http(s)/ssh/git, an http(s) URL whose path does not end in `.git`,
 * `./…`, and the deprecated `github.com/…` form (a local path for ADD) are not Git sources.
 *
 * @throws DockerfileError for a Git reference whose query BuildKit refuses (unknown or repeated
 *   keys, conflicting ref or subdir, bad boolean values).
 */
export function parseGitRef(source: string): GitRef | undefined {
  if (source.startsWith('./') || source.startsWith('../') || source.startsWith('github.com/'))
    return undefined;
  let scheme: GitRef['scheme'];
  let remote: string;
  let path: string;
  let query: string;
  let fragment: string;
  const protocol = PROTOCOL.exec(source)?.[0];
  if (protocol !== undefined) {
    const name = protocol.slice(0, -3).toLowerCase();
    if (!SUPPORTED.has(name)) return undefined;
    let url: URL;
    try {
      url = new URL(source);
    } catch {
      // Go's url.Parse failed: BuildKit treats the source as no Git reference.
      return undefined;
    }
    scheme = name as GitRef['scheme'];
    path = decodeURIComponent(url.pathname);
    query = url.search.slice(1);
    fragment = decodeURIComponent(url.hash.slice(1));
    url.hash = '';
    url.search = '';
    remote = url.toString();
    if ((scheme === 'http' || scheme === 'https') && !path.endsWith('.git')) return undefined;
  } else {
    const m = SCP_STYLE.exec(source);
    if (m === null) return undefined;
    scheme = 'ssh';
    path = m[3]!;
    query = m[4] ?? '';
    fragment = m[5] ?? '';
    remote = `${m[1]}@${m[2]}:${path}`;
  }
  let ref = '';
  let subdir = '';
  if (fragment !== '') {
    const colon = fragment.indexOf(':');
    ref = colon === -1 ? fragment : fragment.slice(0, colon);
    subdir = cleanSubdir(colon === -1 ? '' : fragment.slice(colon + 1));
  }
  const fields = readQuery(source, query, { ref, subdir });
  // BuildKit's validateGitRef: the ref reaches git's command line, where `-…` is an option.
  if (fields.ref.startsWith('-'))
    throw new DockerfileError(
      `invalid git source ${JSON.stringify(source)}: invalid git ref ${JSON.stringify(fields.ref)}`,
    );
  return { remote, scheme, ...fields };
}

/** Whether an ADD source is a Git repository (BuildKit's isGitSource). */
export function isGitSource(source: string): boolean {
  try {
    return parseGitRef(source) !== undefined;
  } catch (error) {
    if (error instanceof DockerfileError) return true; // a Git reference, if a bad one
    throw error;
  }
}

/** Whether an ADD source is a URL to download: http(s) and not a Git repository. */
export function isHttpSource(source: string): boolean {
  return /^https?:\/\//.test(source) && !isGitSource(source);
}

/** `path.Join("/", subdir)` without the leading slash: `a/../b/` → `b`. */
function cleanSubdir(subdir: string): string {
  const parts: string[] = [];
  for (const part of subdir.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts.join('/');
}

type QueryFields = Omit<GitRef, 'remote' | 'scheme'>;

/** dfgitutil's loadQuery: the query form's keys over the fragment's ref and subdir. */
function readQuery(source: string, query: string, start: { ref: string; subdir: string }): QueryFields {
  let { ref, subdir } = start;
  const fail = (message: string) =>
    new DockerfileError(`invalid git source ${JSON.stringify(source)}: ${message}`);
  const out: { -readonly [K in keyof QueryFields]?: QueryFields[K] } = {};
  let fetchByCommit = false;
  if (query === '') return { ref, subdir, fetchByCommit };
  const values = new Map<string, string[]>();
  for (const [key, value] of new URLSearchParams(query)) values.set(key, [...(values.get(key) ?? []), value]);
  let tag = '';
  let branch = '';
  const flag = (key: string, v: string | undefined): boolean => {
    if (v === undefined) return true;
    const parsed = parseGoBool(v);
    if (parsed === undefined) throw fail(`invalid ${key} value: ${JSON.stringify(v)}`);
    return parsed;
  };
  for (const [key, list] of values) {
    if (list.length > 1) throw fail(`query ${JSON.stringify(key)} has multiple values`);
    let v: string | undefined = list[0];
    if (v === '') {
      if (key === 'submodules' || key === 'keep-git-dir' || key === 'fetch-by-commit') v = undefined;
      else throw fail(`query ${JSON.stringify(key)} has no value`);
    }
    switch (key) {
      case 'ref':
        if (ref !== '' && ref !== v)
          throw fail(`ref conflicts: ${JSON.stringify(ref)} vs ${JSON.stringify(v)}`);
        ref = v!;
        break;
      case 'tag':
        tag = v!;
        break;
      case 'branch':
        branch = v!;
        break;
      case 'subdir':
        if (subdir !== '' && subdir !== v)
          throw fail(`subdir conflicts: ${JSON.stringify(subdir)} vs ${JSON.stringify(v)}`);
        subdir = cleanSubdir(v!);
        break;
      case 'checksum':
      case 'commit':
        out.checksum = v!;
        break;
      case 'keep-git-dir':
        out.keepGitDir = flag(key, v);
        break;
      case 'submodules':
        out.submodules = flag(key, v);
        break;
      case 'mtime':
        if (v !== 'checkout' && v !== 'commit')
          throw fail(`invalid mtime value: ${JSON.stringify(v)} (must be "checkout" or "commit")`);
        out.mtime = v;
        break;
      case 'fetch-by-commit':
        fetchByCommit = flag(key, v);
        break;
      default:
        throw fail(`unexpected query ${JSON.stringify(key)}`);
    }
  }
  if (tag !== '') {
    const full = tag.startsWith('refs/tags/') ? tag : `refs/tags/${tag}`;
    if (ref !== '' && ref !== full)
      throw fail(`ref conflicts: ${JSON.stringify(ref)} vs ${JSON.stringify(full)}`);
    ref = full;
  }
  if (branch !== '') {
    if (tag !== '') throw fail('branch conflicts with tag');
    const full = branch.startsWith('refs/heads/') ? branch : `refs/heads/${branch}`;
    if (ref !== '' && ref !== full)
      throw fail(`ref conflicts: ${JSON.stringify(ref)} vs ${JSON.stringify(full)}`);
    ref = full;
  }
  return { ...out, ref, subdir, fetchByCommit };
}

/** Go's strconv.ParseBool. */
function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}
