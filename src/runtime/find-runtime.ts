import { randomBytes } from 'node:crypto';
import {
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rm,
  rmdir,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Writable } from 'node:stream';
import { currentUserNamespace, isErrnoException, writeFileAtomic } from '../util/index.ts';
import { containerNofile } from './container-nofile.ts';
import { hostsFileContent } from './etc-files.ts';
import {
  execCollect,
  findExecutable,
  OciRuntime,
  type RuntimeFlavour,
  type RuntimeInfo,
  type RuntimeMode,
} from './oci-runtime.ts';
import { runBundle } from './run-bundle.ts';
import { RuntimeNotFoundError, RuntimeUnusableError } from './runtime-errors.ts';
import { generateSpec, type OciMount, withUserNamespace } from './runtime-spec.ts';

/** Where to look for a runtime and where to keep what was learnt about it. */
export interface FindRuntimeOptions {
  /** strata's runtime state directory: the probe cache file and the probe's scratch space live here. */
  readonly stateDir: string;
  /**
   * `runc`, `crun` or a path to force one (the CLI takes it from `STRATA_RUNTIME`); without it runc
   * is tried before crun (runc is what BuildKit and Docker run, so its results are the reference).
   */
  readonly runtime?: string;
}

/** The host's cgroup layout, which decides what crun accepts. */
export type CgroupLayout = 'v1' | 'hybrid' | 'v2';

interface ProbeCacheEntry {
  readonly mtimeMs: number;
  readonly size: number;
  /** The cgroup layout, plus ` userns` when probed rootless. */
  readonly cgroups: string;
  readonly result:
    | { readonly ok: true; readonly info: RuntimeInfo }
    | { readonly ok: false; readonly error: string };
}

/**
 * The probe cache's format. Version 2: before it, a store named by a relative path could have
 * every runtime recorded as unusable (the probe ran the runtime in another directory), and RUN
 * steps kept failing once that was fixed; version 1 files are ignored, so runtimes are probed again.
 */
const CACHE_VERSION = 2;

interface ProbeCacheFile {
  readonly version: typeof CACHE_VERSION;
  readonly entries: Record<string, ProbeCacheEntry>;
}

type ProbeResult = ProbeCacheEntry['result'];

const CACHE_FILE = 'runtime-probe.json';
/** Where runtimes live when PATH lacks the sbin directories (non-login shells, sudo). */
const EXTRA_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
const PROBE_EXIT_CODE = 7;
const PROBE_TIMEOUT_MS = 30_000;

/** Probes done or in flight in this process, by state dir, binary path + mtime + size, cgroup layout. */
const probes = new Map<string, Promise<ProbeResult>>();

/**
 * Finds an OCI runtime that works on this machine and how to invoke it. Each candidate is probed
 * by running a real container (the host's /bin/sh, bind-mounted read-only, exiting 7) in each mode
 * its flavour supports (see {@link RuntimeMode}); the first mode that works wins. The outcome is
 * remembered for the process and on disk under `stateDir`, keyed by the binary's path, mtime and
 * size and the cgroup layout, so a later strata run costs one stat.
 *
 * @throws RuntimeNotFoundError when no candidate is installed.
 * @throws RuntimeUnusableError when candidates exist but none can run a container here.
 */
export async function findRuntime(options: FindRuntimeOptions): Promise<RuntimeInfo> {
  const requested = options.runtime || undefined;
  const searchPath = [process.env.PATH ?? '', ...EXTRA_PATH].join(':');
  const names = requested === undefined ? ['runc', 'crun'] : [requested];
  const found: string[] = [];
  for (const name of names) {
    const path = await findExecutable(name, searchPath);
    if (path !== undefined) found.push(path);
  }
  if (found.length === 0) {
    throw new RuntimeNotFoundError(
      requested === undefined
        ? 'no OCI runtime found: looked for runc and crun on PATH'
        : `OCI runtime ${JSON.stringify(requested)} not found`,
    );
  }
  const failures: string[] = [];
  for (const path of found) {
    const result = await probeRuntime(path, options.stateDir);
    if (result.ok) return result.info;
    failures.push(`${path}: ${result.error}`);
  }
  throw new RuntimeUnusableError(`no OCI runtime can run containers here (${failures.join('; ')})`);
}

/** The host's cgroup layout and its cgroup2 mounts below /sys/fs/cgroup (hybrid mode's "unified"). */
export async function cgroupLayout(): Promise<{ layout: CgroupLayout; hybridMounts: string[] }> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  let rootIsV2 = false;
  const hybridMounts: string[] = [];
  for (const line of mountinfo.split('\n')) {
    // "<id> <parent> <dev> <root> <mount point> <options> [optional…] - <fstype> <source> <super options>"
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const mountPoint = unescapeMountinfo(left.split(' ')[4] ?? '');
    const fsType = right.split(' ')[0];
    if (fsType !== 'cgroup2') continue;
    if (mountPoint === '/sys/fs/cgroup') rootIsV2 = true;
    else if (mountPoint.startsWith('/sys/fs/cgroup/')) hybridMounts.push(mountPoint);
  }
  if (rootIsV2) return { layout: 'v2', hybridMounts: [] };
  return { layout: hybridMounts.length > 0 ? 'hybrid' : 'v1', hybridMounts };
}

/** Probes one runtime binary, through the process and disk caches. */
async function probeRuntime(path: string, stateDir: string): Promise<ProbeResult> {
  const info = await stat(path);
  const { layout, hybridMounts } = await cgroupLayout();
  // What works as a user namespace's root differs from what works as real root (sysfs, rlimits).
  const setting = currentUserNamespace() ? `${layout} userns` : layout;
  const key = `${stateDir}\0${path}\0${info.mtimeMs}\0${info.size}\0${setting}`;
  let probe = probes.get(key);
  if (probe === undefined) {
    probe = (async () => {
      const cached = await readCache(stateDir);
      const entry = cached.entries[path];
      if (entry && entry.mtimeMs === info.mtimeMs && entry.size === info.size && entry.cgroups === setting) {
        return entry.result;
      }
      const result = await probeUncached(path, stateDir, layout, hybridMounts);
      const latest = await readCache(stateDir); // others may have written meanwhile
      const entries = {
        ...latest.entries,
        [path]: { mtimeMs: info.mtimeMs, size: info.size, cgroups: setting, result },
      };
      await writeFileAtomic(
        join(stateDir, CACHE_FILE),
        `${JSON.stringify({ version: CACHE_VERSION, entries }, null, 2)}\n`,
      );
      return result;
    })();
    probes.set(key, probe);
    probe.catch(() => probes.delete(key)); // a failed probe (I/O error) is retried next time
  }
  return probe;
}

async function probeUncached(
  path: string,
  stateDir: string,
  layout: CgroupLayout,
  hybridMounts: readonly string[],
): Promise<ProbeResult> {
  const versionRun = await execCollect(path, ['--version'], 10_000);
  if (versionRun.exitCode !== 0) {
    return { ok: false, error: `${basename(path)} --version failed: ${versionRun.stderr.trim()}` };
  }
  const version = versionRun.stdout.split('\n')[0]?.trim() ?? '';
  const flavour: RuntimeFlavour = /crun/i.test(version) || basename(path).includes('crun') ? 'crun' : 'runc';
  const modes: RuntimeMode[] = flavour === 'runc' ? ['default'] : ['default', 'no-cgroups'];
  const unshare = await findExecutable('unshare', [process.env.PATH ?? '', ...EXTRA_PATH].join(':'));
  if (flavour === 'crun' && layout === 'hybrid' && unshare !== undefined) modes.push('no-cgroups-hidden-v2');
  const errors: string[] = [];
  for (const mode of modes) {
    const info: RuntimeInfo = {
      flavour,
      path,
      version,
      mode,
      hiddenMounts: mode === 'no-cgroups-hidden-v2' ? hybridMounts : [],
      ...(mode === 'no-cgroups-hidden-v2' && unshare !== undefined ? { unshare } : {}),
    };
    const error = await tryRuntime(info, stateDir);
    if (error === undefined) return { ok: true, info };
    errors.push(`${mode}: ${error}`);
  }
  return { ok: false, error: errors.join('; ') };
}

/**
 * Runs `/bin/sh -c 'exit 7'` from the host's own binaries in a throwaway container; undefined when
 * that worked (exit 7 came back), else what went wrong.
 */
async function tryRuntime(info: RuntimeInfo, stateDir: string): Promise<string | undefined> {
  const dir = join(stateDir, `probe-${randomBytes(6).toString('hex')}`);
  const rootfs = join(dir, 'rootfs');
  const id = `strata-probe-${randomBytes(6).toString('hex')}`;
  const runtime = new OciRuntime(info, join(dir, 'state'));
  const timeout = AbortSignal.timeout(PROBE_TIMEOUT_MS);
  const bound: string[] = [];
  try {
    await mkdir(rootfs, { recursive: true });
    const mounts: OciMount[] = [];
    for (const name of ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32', 'usr']) {
      const host = `/${name}`;
      const entry = await lstat(host).catch((error: unknown) => {
        if (isErrnoException(error, 'ENOENT')) return undefined;
        throw error;
      });
      if (entry?.isSymbolicLink()) await symlink(await readlink(host), join(rootfs, name));
      else if (entry?.isDirectory()) {
        await mkdir(join(rootfs, name));
        bound.push(name);
        mounts.push({ destination: host, type: 'bind', source: host, options: ['rbind', 'ro'] });
      }
    }
    await writeFile(join(dir, 'hosts'), hostsFileContent());
    await writeFile(join(dir, 'resolv.conf'), '');
    const spec = generateSpec({
      rootfs,
      args: ['/bin/sh', '-c', `exit ${PROBE_EXIT_CODE}`],
      env: [],
      cwd: '/',
      user: { uid: 0, gid: 0, additionalGids: [], home: '/' },
      hostname: 'strata-probe',
      network: 'host',
      hostsPath: join(dir, 'hosts'),
      resolvConfPath: join(dir, 'resolv.conf'),
      mounts,
      nofile: await containerNofile(),
      ...withUserNamespace(),
    });
    await writeFile(join(dir, 'config.json'), JSON.stringify(spec));
    let output = '';
    const collect = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        if (output.length < 4096) output += chunk.toString();
        callback();
      },
    });
    const outcome = await runBundle(
      runtime,
      { bundle: dir, id, logPath: join(dir, 'runtime.log'), stdout: collect, stderr: collect },
      timeout,
    );
    if (outcome.aborted) return `timed out after ${PROBE_TIMEOUT_MS / 1000} s`;
    if (outcome.exitCode === PROBE_EXIT_CODE && outcome.runtimeError === undefined) return undefined;
    const detail = (outcome.runtimeError ?? output.trim()) || 'no error message';
    return `exit code ${outcome.exitCode}: ${detail}`;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await removeProbeDir(dir, rootfs, bound);
  }
}

/**
 * Removes the probe's scratch directory. The host directories were bind-mounted only inside the
 * container's mount namespace, but their mount points are never removed recursively all the same:
 * they are rmdir'ed, so a mount that somehow leaked could never take host files with it.
 */
async function removeProbeDir(dir: string, rootfs: string, bound: readonly string[]): Promise<void> {
  for (const name of bound) await rmdir(join(rootfs, name));
  const rest = await readdir(rootfs).catch(() => []);
  for (const name of rest) await rm(join(rootfs, name), { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
}

async function readCache(stateDir: string): Promise<ProbeCacheFile> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  try {
    const parsed = JSON.parse(await readFile(join(stateDir, CACHE_FILE), 'utf8')) as unknown;
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      (parsed as { version?: unknown }).version === CACHE_VERSION &&
      typeof (parsed as { entries?: unknown }).entries === 'object'
    ) {
      return parsed as ProbeCacheFile;
    }
  } catch (error) {
    // A missing or corrupt cache only means probing again.
    if (!isErrnoException(error, 'ENOENT') && !(error instanceof SyntaxError)) throw error;
  }
  return { version: CACHE_VERSION, entries: {} };
}

/** mountinfo escapes space, tab, newline and backslash as octal (\040…). */
function unescapeMountinfo(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_match, octal: string) =>
    String.fromCharCode(Number.parseInt(octal, 8)),
  );
}
