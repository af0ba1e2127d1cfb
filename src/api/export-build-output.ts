import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { packDirectory } from '../archive/index.ts';
import type { OutputSpec } from '../cli/build-flags.ts';
import { exportRootfsDirectory, exportRootfsTar } from '../export/index.ts';
import type { ProgressSink } from '../progress/index.ts';
import type { Store } from '../store/index.ts';
import { imageNameOf } from '../transport/index.ts';
import { InvalidInputError, isErrnoException, StrataError, tempSiblingPath } from '../util/index.ts';
import type { BuildResult } from './build.ts';

/** What an exporter reports for `--metadata-file`. */
export interface ExportedOutput {
  readonly key: string;
  readonly value: unknown;
}

/** Thrown when `docker load` refuses what strata wrote (or docker is missing). */
export class DockerLoadError extends StrataError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('DOCKER_LOAD_FAILED', message, {
      ...options,
      hint: '--load needs the docker CLI and a running daemon',
    });
  }
}

/** Writing a build output (`-o …,dest=`) failed because the file system refused: no space, no permission. */
export class OutputWriteError extends StrataError {
  constructor(dest: string, cause: unknown) {
    super('OUTPUT_WRITE_FAILED', `writing ${dest}`, { cause });
  }
}

/**
 * Runs `write`; a file-system error it throws (ENOSPC, EACCES, EROFS …) becomes an
 * {@link OutputWriteError} naming `dest` — the user's to fix, not a bug. Other errors pass as they are.
 */
async function writingOutput<T>(dest: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isErrnoException(error) && !(error instanceof StrataError)) throw new OutputWriteError(dest, error);
    throw error;
  }
}

/**
 * Writes the file `dest` through `write` under a temporary name beside it, renamed into place once
 * whole: a failed or interrupted export leaves no partial file at `dest`, nor anything beside it.
 */
async function writeWhole(dest: string, write: (path: string) => Promise<void>): Promise<void> {
  const temp = tempSiblingPath(dest);
  await writingOutput(dest, async () => {
    try {
      await write(temp);
      await rename(temp, dest);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  });
}

/** The names an output pushes or labels: `name=` (comma-separated) or the build's `-t` tags. */
function outputNames(output: OutputSpec, tags: readonly string[]): string[] {
  const names = output.attrs.get('name');
  return names ? names.split(',').filter(Boolean) : [...tags];
}

/** Pipes a docker-archive into `docker load`. */
async function dockerLoad(archive: string): Promise<void> {
  const child = spawn('docker', ['load'], { stdio: ['pipe', 'inherit', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (error) => reject(new DockerLoadError('cannot run docker', { cause: error })));
    child.on('close', (code) => resolve(code ?? 1));
  });
  await pipeline(createReadStream(archive), child.stdin).catch(() => undefined); // exit status tells
  const code = await exited;
  if (code !== 0) throw new DockerLoadError(`docker load failed (exit ${code}): ${stderr.trim()}`);
}

/**
 * Sends a built image to one `--output`, with buildx's types: `image` (strata's store, already
 * done), `local` and `tar` (the root filesystem), `oci` (an OCI layout, a tar unless `tar=false`),
 * `docker` (a docker-archive file; `--load` pipes it to `docker load`), `registry` (`--push`).
 */
export async function exportBuildOutput(
  store: Store,
  result: BuildResult,
  output: OutputSpec,
  options: {
    tags: readonly string[];
    events?: ProgressSink;
    insecureRegistries?: readonly string[];
    signal?: AbortSignal;
  },
): Promise<ExportedOutput | undefined> {
  const source = `strata:${result.descriptor.digest}`;
  // Loaded only for outputs that need the transports (and with them the registry client).
  const copyImage = async (...args: Parameters<typeof import('./copy.ts').copyImage>) =>
    (await import('./copy.ts')).copyImage(...args);
  const names = outputNames(output, options.tags);
  const signal = options.signal;
  const common = {
    store,
    ...(options.events ? { events: options.events } : {}),
    ...(signal ? { signal } : {}),
  };
  switch (output.type) {
    case 'image':
    case 'cacheonly':
      return undefined; // already in strata's store under its -t names
    case 'local':
      await exportRootfsDirectory(result.image, output.dest!, signal);
      return { key: 'local.dest', value: output.dest };
    case 'tar':
      if (output.dest === '-')
        await exportRootfsTar(result.image, process.stdout, join(store.root, 'tmp'), signal);
      else
        await writeWhole(output.dest!, (path) =>
          exportRootfsTar(result.image, path, join(store.root, 'tmp'), signal),
        );
      return { key: 'tar.dest', value: output.dest };
    case 'docker': {
      const load = output.attrs.get('load') === 'true' || output.dest === undefined;
      const tmp = await mkdtemp(join(store.root, 'tmp', 'docker-'));
      const file = output.dest && output.dest !== '-' ? output.dest : join(tmp, 'image.tar');
      try {
        const ref = names[0] ? `:${imageNameOf(names[0]).short}` : '';
        // The docker-archive writer itself writes beside `file` and renames it into place.
        await writingOutput(file, () => copyImage(source, `docker-archive:${file}${ref}`, common));
        if (output.dest === '-')
          await pipeline(createReadStream(file), process.stdout, ...(signal ? [{ signal }] : []));
        if (load) await dockerLoad(file);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
      return { key: 'docker.dest', value: output.dest ?? 'docker load' };
    }
    case 'oci': {
      const asTar = output.attrs.get('tar') !== 'false';
      const tag = names[0] ? imageNameOf(names[0]).short : undefined;
      if (!asTar) {
        await copyImage(source, `oci:${output.dest}${tag ? `:${tag}` : ''}`, common);
        return { key: 'oci.dest', value: output.dest };
      }
      const tmp = await mkdtemp(join(store.root, 'tmp', 'oci-'));
      try {
        await copyImage(source, `oci:${join(tmp, 'layout')}${tag ? `:${tag}` : ''}`, common);
        const pack = (sink: Writable) =>
          pipeline(packDirectory(join(tmp, 'layout')), sink, ...(signal ? [{ signal }] : []));
        if (output.dest === '-') await pack(process.stdout);
        else await writeWhole(output.dest!, (path) => pack(createWriteStream(path)));
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
      return { key: 'oci.dest', value: output.dest };
    }
    case 'registry': {
      if (names.length === 0) throw new InvalidInputError('--push needs a name: add -t registry/repo:tag');
      const pushed: string[] = [];
      for (const name of names) {
        const ref = imageNameOf(name).full;
        await copyImage(source, `docker://${ref}`, {
          ...common,
          ...(options.insecureRegistries ? { insecureRegistries: options.insecureRegistries } : {}),
        });
        pushed.push(ref);
      }
      return { key: 'image.pushed', value: pushed };
    }
  }
}
