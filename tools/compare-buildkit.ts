/**
 * Builds one Dockerfile with BuildKit (`DOCKER_BUILDKIT=1 docker build`, the docker 20.10 client
 * Debian's docker.io installs) and with strata, flattens both images' root filesystems and
 * configs, and diffs them: paths, types, modes, uid/gid, content hashes, symlink targets, config
 * fields. Base images come from strata's store and are loaded into docker first, so both builders
 * start from the same bytes.
 *
 * Usage: node --import tsx tools/compare-buildkit.ts CONTEXT [-f Dockerfile] [--target T]
 *          [--build-arg K=V]… [--base name]…   (exit 1 when the images differ)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { exportRootfsDirectory } from '../src/export/index.ts';
import { canonicalJson, type ImageConfig } from '../src/oci/index.ts';
import type { Store } from '../src/store/index.ts';
import { buildImage, copyImage, openStore, registryImageResolver } from '../src/strata.ts';

/** The docker client that has the classic builder with BuildKit (a newer one may lack buildx). */
export const DOCKER = process.env.STRATA_DOCKER ?? '/usr/bin/docker';

/** What one flattened filesystem entry looks like, for comparison. */
export interface FileRecord {
  readonly type: 'file' | 'dir' | 'symlink' | 'other';
  readonly mode: string;
  readonly owner: string;
  readonly content?: string;
  readonly target?: string;
}

/** Walks a root filesystem into path → record (times are not compared: builders stamp them). */
export function flattenTree(root: string): Map<string, FileRecord> {
  const out = new Map<string, FileRecord>();
  const walk = (rel: string) => {
    for (const name of readdirSync(rel === '' ? root : join(root, rel)).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const abs = join(root, path);
      const st = lstatSync(abs);
      const base = { mode: (st.mode & 0o7777).toString(8), owner: `${st.uid}:${st.gid}` };
      if (st.isSymbolicLink()) out.set(path, { type: 'symlink', ...base, target: readlinkSync(abs) });
      else if (st.isDirectory()) {
        out.set(path, { type: 'dir', ...base });
        walk(path);
      } else if (st.isFile()) {
        out.set(path, {
          type: 'file',
          ...base,
          content: createHash('sha256').update(readFileSync(abs)).digest('hex'),
        });
      } else out.set(path, { type: 'other', ...base });
    }
  };
  walk('');
  return out;
}

/** The config fields both builders must agree on. */
export function comparableConfig(config: ImageConfig): Record<string, unknown> {
  const c = config.config ?? {};
  return {
    os: config.os,
    architecture: config.architecture,
    User: c.User ?? '',
    Env: c.Env ?? [],
    Entrypoint: c.Entrypoint ?? null,
    Cmd: c.Cmd ?? null,
    WorkingDir: c.WorkingDir ?? '',
    ExposedPorts: c.ExposedPorts ?? {},
    Volumes: c.Volumes ?? {},
    Labels: c.Labels ?? {},
    StopSignal: c.StopSignal ?? '',
    Shell: c.Shell ?? [],
    Healthcheck: c.Healthcheck ?? null,
    OnBuild: c.OnBuild ?? [],
    layers: config.rootfs.diff_ids.length,
    nonEmptyHistory: (config.history ?? []).filter((h) => !h.empty_layer).length,
  };
}

/** Differences between two flattened images, one line each. */
export function diffImages(
  a: { tree: Map<string, FileRecord>; config: Record<string, unknown> },
  b: { tree: Map<string, FileRecord>; config: Record<string, unknown> },
): string[] {
  const out: string[] = [];
  for (const [path, ra] of a.tree) {
    const rb = b.tree.get(path);
    if (!rb) out.push(`only in buildkit: ${path} (${ra.type})`);
    else if (JSON.stringify(ra) !== JSON.stringify(rb))
      out.push(`differs: ${path}: buildkit ${JSON.stringify(ra)} strata ${JSON.stringify(rb)}`);
  }
  for (const path of b.tree.keys()) if (!a.tree.has(path)) out.push(`only in strata: ${path}`);
  for (const key of Object.keys(a.config)) {
    if (canonicalJson(a.config[key]) !== canonicalJson(b.config[key])) {
      out.push(
        `config ${key}: buildkit ${JSON.stringify(a.config[key])} strata ${JSON.stringify(b.config[key])}`,
      );
    }
  }
  return out;
}

/** Options of {@link compareWithBuildkit}. */
export interface CompareOptions {
  readonly context: string;
  readonly dockerfile?: string;
  readonly target?: string;
  readonly buildArgs?: ReadonlyMap<string, string>;
  /** Images in strata's store the Dockerfile uses as bases: loaded into docker first. */
  readonly bases?: readonly string[];
}

/** Loads images from strata's store into docker (so BuildKit builds from the same bases). */
export async function loadIntoDocker(store: Store, names: readonly string[], work: string): Promise<void> {
  for (const name of names) {
    const file = join(work, `base-${createHash('sha256').update(name).digest('hex').slice(0, 8)}.tar`);
    await copyImage(`strata:${name}`, `docker-archive:${file}:${name}`, { store });
    execFileSync(DOCKER, ['load', '-i', file], { stdio: 'pipe' });
  }
}

/** Builds with both, flattens both, and returns the differences (empty: the images match). */
export async function compareWithBuildkit(store: Store, options: CompareOptions): Promise<string[]> {
  const work = mkdtempSync(join(tmpdir(), 'strata-compare-'));
  const tag = `strata-compare-bk:${process.pid}-${Date.now()}`;
  try {
    await loadIntoDocker(store, options.bases ?? [], work);
    const args = ['build', '-q', '-t', tag];
    if (options.dockerfile) args.push('-f', options.dockerfile);
    if (options.target) args.push('--target', options.target);
    for (const [k, v] of options.buildArgs ?? []) args.push('--build-arg', `${k}=${v}`);
    const bk = spawnSync(DOCKER, [...args, options.context], {
      env: { ...process.env, DOCKER_BUILDKIT: '1' },
      encoding: 'utf8',
    });
    if (bk.status !== 0) throw new Error(`BuildKit build failed: ${bk.stderr}`);
    execFileSync(DOCKER, ['save', '-o', join(work, 'bk.tar'), tag]);
    await copyImage(
      `docker-archive:${join(work, 'bk.tar')}`,
      `strata:compare-buildkit-result:${process.pid}`,
      { store },
    );
    const bkImage = await store.image(
      await store.resolve(`docker.io/library/compare-buildkit-result:${process.pid}`),
    );
    await exportRootfsDirectory(bkImage, join(work, 'bk-root'));

    const strata = await buildImage(store, {
      context: options.context,
      ...(options.dockerfile ? { dockerfile: options.dockerfile } : {}),
      ...(options.target ? { target: options.target } : {}),
      ...(options.buildArgs ? { buildArgs: options.buildArgs } : {}),
      resolveImage: registryImageResolver(store, { policy: 'never' }),
    });
    await exportRootfsDirectory(strata.image, join(work, 'strata-root'));
    return diffImages(
      { tree: flattenTree(join(work, 'bk-root')), config: comparableConfig(bkImage.config) },
      { tree: flattenTree(join(work, 'strata-root')), config: comparableConfig(strata.image.config) },
    );
  } finally {
    spawnSync(DOCKER, ['rmi', '-f', tag], { stdio: 'ignore' });
    await store.refs.delete(`docker.io/library/compare-buildkit-result:${process.pid}`);
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const options: {
    context?: string;
    dockerfile?: string;
    target?: string;
    buildArgs: Map<string, string>;
    bases: string[];
  } = { buildArgs: new Map(), bases: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-f') options.dockerfile = resolve(argv[++i]!);
    else if (a === '--target') options.target = argv[++i]!;
    else if (a === '--build-arg') {
      const [k, ...v] = argv[++i]!.split('=');
      options.buildArgs.set(k!, v.join('='));
    } else if (a === '--base') options.bases.push(argv[++i]!);
    else options.context = resolve(a);
  }
  if (!options.context) {
    process.stderr.write(
      'usage: compare-buildkit.ts CONTEXT [-f Dockerfile] [--target T] [--build-arg K=V] [--base image]\n',
    );
    process.exit(2);
  }
  const store = await openStore();
  try {
    const diffs = await compareWithBuildkit(store, { ...options, context: options.context });
    for (const d of diffs) process.stdout.write(`${d}\n`);
    process.stdout.write(diffs.length === 0 ? 'no differences\n' : `${diffs.length} differences\n`);
    process.exitCode = diffs.length === 0 ? 0 : 1;
  } finally {
    await store.close();
  }
}
