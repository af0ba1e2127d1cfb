import { readFile, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { layerOrigins, readLayerContents } from '../analyze/index.ts';
import { openDecompressed } from '../archive/index.ts';
import { parseDockerfile } from '../dockerfile/index.ts';
import type { Digest, Image } from '../oci/index.ts';
import type { ProgressSink } from '../progress/index.ts';
import { parseReference } from '../reference/index.ts';
import {
  type ChangedPath,
  ImageRoot,
  planSlim,
  renderSlimDockerfile,
  SlimNotApplicableError,
  type SlimPlan,
  SlimUnprovenError,
} from '../slim/index.ts';
import { openSnapshotter, type SnapshotView } from '../snapshot/index.ts';
import type { Store } from '../store/index.ts';
import { AbortedError, InvalidInputError, isErrnoException, NotFoundError } from '../util/index.ts';
import { buildImage, type ImageResolver, storeImageResolver } from './build.ts';
import { runImage } from './run-image.ts';
import { processSettings, type StrataSettings } from './settings.ts';

/** How `--verify` decides an image works. */
export type SlimCheck =
  /** The container is still running after `seconds` (default). */
  | { readonly kind: 'alive'; readonly seconds: number }
  /** `GET http://127.0.0.1:<port><path>` answers (host network) with a status below 500. */
  | { readonly kind: 'http'; readonly port: number; readonly path: string; readonly timeoutSeconds: number }
  /** The command, run in a fresh container of the image, exits 0. */
  | { readonly kind: 'command'; readonly command: string };

/** Inputs of {@link slimDockerfile}: `strata slim`'s flags as data. */
export interface SlimOptions {
  readonly context: string;
  /** The single-stage Dockerfile (default `<context>/Dockerfile`). */
  readonly dockerfile?: string;
  /** Where to write the result (default `Dockerfile.slim` beside the Dockerfile); `-` for none (the caller prints it). */
  readonly output?: string;
  /** Write even when a fact is missing, marked unverified; and overwrite a file strata did not write. */
  readonly force?: boolean;
  readonly buildArgs?: ReadonlyMap<string, string>;
  readonly secrets?: ReadonlyMap<string, Uint8Array>;
  /** Build both images and run `check` on each. */
  readonly verify?: { readonly check: SlimCheck; readonly env?: readonly string[]; readonly tag?: string };
  readonly settings?: StrataSettings;
  readonly resolveImage?: ImageResolver;
  readonly events?: ProgressSink;
  /** Progress lines ("building the single-stage image…"). */
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
}

/** One image's numbers for the table. */
export interface SlimImageStats {
  readonly digest: Digest;
  readonly uncompressedBytes: number;
  readonly compressedBytes: number;
  readonly layers: number;
  readonly buildMs: number;
}

/** A check's outcome on one image. */
export interface SlimCheckResult {
  readonly passed: boolean;
  readonly detail: string;
}

/** What `strata slim` did. */
export interface SlimOutcome {
  readonly plan: SlimPlan;
  readonly text: string;
  /** The file written, if any. */
  readonly written?: string;
  readonly unverified: boolean;
  readonly single: SlimImageStats;
  readonly verify?: {
    readonly slim: SlimImageStats;
    readonly check: SlimCheck;
    readonly singleResult: SlimCheckResult;
    readonly slimResult: SlimCheckResult;
  };
}

const HEADER_MARK = 'Made by `strata slim`';

/** Uncompressed layer sizes by diff_id, measured once per process. */
const uncompressedSizes = new Map<string, number>();

/** A layer's uncompressed tar size: its bytes decompressed and counted (nothing parsed). */
async function uncompressedSize(layer: Image['layers'][number], signal?: AbortSignal): Promise<number> {
  const known = uncompressedSizes.get(layer.diffId);
  if (known !== undefined) return known;
  let n = 0;
  for await (const chunk of openDecompressed(await layer.open(signal))) n += (chunk as Buffer).length;
  uncompressedSizes.set(layer.diffId, n);
  return n;
}

async function imageStats(image: Image, buildMs: number, signal?: AbortSignal): Promise<SlimImageStats> {
  let uncompressed = 0;
  for (const layer of image.layers) uncompressed += await uncompressedSize(layer, signal);
  return {
    digest: image.digest,
    uncompressedBytes: uncompressed,
    compressedBytes: image.manifest.config.size + image.layers.reduce((n, l) => n + l.descriptor.size, 0),
    layers: image.layers.length,
    buildMs,
  };
}

/** The paths the image's layers above its base's added and that are still visible. */
async function changedPaths(
  image: Image,
  baseLayers: number,
  signal?: AbortSignal,
): Promise<Map<string, ChangedPath>> {
  const origins = layerOrigins(image.config);
  const changes = new Map<string, ChangedPath>();
  for (let i = baseLayers; i < image.layers.length; i++) {
    const contents = await readLayerContents(image.layers[i]!, signal);
    uncompressedSizes.set(image.layers[i]!.diffId, contents.uncompressedSize);
    const createdBy = origins[i]?.createdBy;
    for (const e of contents.entries) {
      if (e.kind === 'whiteout' || e.kind === 'opaque') {
        for (const p of [...changes.keys()]) {
          if ((e.kind === 'whiteout' && p === e.path) || p.startsWith(`${e.path}/`)) changes.delete(p);
        }
        continue;
      }
      changes.set(e.path, { path: e.path, type: e.type, size: e.size, ...(createdBy ? { createdBy } : {}) });
    }
  }
  return changes;
}

/**
 * `strata slim`: builds a single-stage Dockerfile, reads the facts of the image it makes (what
 * CMD runs, its ELF libraries, the packages and files the steps added), writes the multi-stage
 * rewrite, and with `verify` builds it and runs the same check on both images.
 */
export async function slimDockerfile(store: Store, options: SlimOptions): Promise<SlimOutcome> {
  const log = options.log ?? (() => undefined);
  const dockerfilePath = resolve(options.dockerfile ?? join(options.context, 'Dockerfile'));
  let text: string;
  try {
    text = await readFile(dockerfilePath, 'utf8');
  } catch (error) {
    throw new NotFoundError(`cannot read Dockerfile ${dockerfilePath}`, { cause: error });
  }
  const dockerfile = parseDockerfile(text, { file: dockerfilePath });
  if (dockerfile.stages.length !== 1) {
    throw new SlimNotApplicableError(
      `${dockerfilePath} has ${dockerfile.stages.length} stages: strata slim rewrites a single-stage Dockerfile`,
    );
  }
  const output =
    options.output === '-'
      ? undefined
      : resolve(options.output ?? join(dirname(dockerfilePath), 'Dockerfile.slim'));
  if (output) await checkOverwrite(output, options.force === true);
  const settings = options.settings ?? processSettings();
  const resolveImage = options.resolveImage ?? storeImageResolver(store);
  const common = {
    context: options.context,
    settings,
    resolveImage,
    ...(options.buildArgs ? { buildArgs: options.buildArgs } : {}),
    ...(options.secrets ? { secrets: options.secrets } : {}),
    ...(options.events ? { events: options.events } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };

  log(`building ${basename(dockerfilePath)} (the single-stage image) to read its facts…`);
  let started = Date.now();
  const built = await buildImage(store, { ...common, dockerfile: dockerfilePath });
  const singleMs = Date.now() - started;
  const stage = built.graph.stages[built.graph.target]!;
  let baseLayers = 0;
  if (stage.base.kind === 'image') {
    baseLayers = (await resolveImage(stage.base.ref, stage.platform, options.signal)).layers.length;
  }
  const changes = await changedPaths(built.image, baseLayers, options.signal);

  const snapshotter = openSnapshotter(store.root, settings.snapshotter);
  const views: SnapshotView[] = [];
  const view = async (image: Image) => {
    const snapshot = await snapshotter.unpack(image.layers, options.signal);
    const v = await snapshotter.view(snapshot, options.signal);
    views.push(v);
    return new ImageRoot(v.path);
  };
  let plan: SlimPlan;
  let rendered: string;
  let unverified: boolean;
  try {
    const root = await view(built.image);
    const facts = {
      dockerfile,
      text,
      graph: built.graph,
      config: built.image.config.config ?? {},
      root,
      changes,
      openImage: async (name: string) => {
        const ref = parseReference(name);
        const descriptor = await store.refs.get(ref.toString());
        if (!descriptor) return undefined;
        return view(await store.image(descriptor, stage.platform));
      },
    };
    plan = await planSlim(facts);
    unverified = plan.missing.length > 0;
    if (unverified && !options.force) throw new SlimUnprovenError(dockerfilePath, plan.missing);
    rendered = renderSlimDockerfile(facts, plan, { source: basename(dockerfilePath), unverified });
  } finally {
    for (const v of views.reverse()) await v.release();
  }
  if (output) await writeFile(output, rendered);
  const single = options.verify
    ? await imageStats(built.image, singleMs, options.signal)
    : {
        digest: built.image.digest,
        uncompressedBytes: 0,
        compressedBytes: 0,
        layers: built.image.layers.length,
        buildMs: singleMs,
      };
  const outcome = { plan, text: rendered, unverified, single, ...(output ? { written: output } : {}) };
  if (!options.verify) return outcome;

  log(`building the slim Dockerfile${output ? ` (${basename(output)})` : ''}…`);
  started = Date.now();
  const slimBuilt = await buildImage(store, {
    ...common,
    dockerfile: { text: rendered, name: output ?? `${dockerfilePath}.slim` },
    ...(options.verify.tag ? { tags: [options.verify.tag] } : {}),
  });
  const slim = await imageStats(slimBuilt.image, Date.now() - started, options.signal);
  const check = options.verify.check;
  const runCheck = (digest: Digest) =>
    checkImage(store, digest, check, {
      settings,
      env: options.verify?.env ?? [],
      ...(options.signal ? { signal: options.signal } : {}),
    });
  log(`checking the single-stage image (${describeCheck(check)})…`);
  const singleResult = await runCheck(built.image.digest);
  log(`checking the slim image (${describeCheck(check)})…`);
  const slimResult = await runCheck(slimBuilt.image.digest);
  return { ...outcome, verify: { slim, check, singleResult, slimResult } };
}

async function checkOverwrite(output: string, force: boolean): Promise<void> {
  let existing: string;
  try {
    existing = await readFile(output, 'utf8');
  } catch (error) {
    if (isErrnoException(error, 'ENOENT')) return;
    throw error;
  }
  if (!existing.includes(HEADER_MARK) && !force) {
    throw new InvalidInputError(`${output} exists and strata slim did not write it`, {
      hint: 'name another file with -o, or pass --force to overwrite it',
    });
  }
}

/** The check in words, for progress lines and the table. */
export function describeCheck(check: SlimCheck): string {
  switch (check.kind) {
    case 'alive':
      return `main process still running after ${check.seconds} s`;
    case 'http':
      return `GET http://127.0.0.1:${check.port}${check.path} answers`;
    case 'command':
      return `\`${check.command}\` exits 0`;
  }
}

/** A sink for a container's output that keeps its last 4 kB (for the failure's detail). */
function tail(): { stream: Writable; text: () => string } {
  let kept = '';
  return {
    stream: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        kept = (kept + chunk.toString('utf8')).slice(-4096);
        callback();
      },
    }),
    text: () => kept.trim(),
  };
}

function portInUse(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolvePromise(true);
    });
    socket.once('error', () => resolvePromise(false));
  });
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      r();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/** Runs one image under `check` with `strata run`'s API and reports whether it passed. */
export async function checkImage(
  store: Store,
  digest: Digest,
  check: SlimCheck,
  options: { settings: StrataSettings; env: readonly string[]; signal?: AbortSignal },
): Promise<SlimCheckResult> {
  const out = tail();
  const controller = new AbortController();
  const stop = () => controller.abort();
  options.signal?.addEventListener('abort', stop);
  const base = {
    settings: options.settings,
    image: digest,
    env: options.env,
    stdout: out.stream,
    stderr: out.stream,
    signal: controller.signal,
  };
  try {
    if (check.kind === 'command') {
      const shell = /[;&|<>$`*?(){}]/.test(check.command);
      const words = check.command.trim().split(/\s+/);
      const result = await runImage(store, {
        ...base,
        entrypoint: shell ? ['/bin/sh', '-c'] : [words[0]!],
        command: shell ? [check.command] : words.slice(1),
      });
      return result.exitCode === 0
        ? { passed: true, detail: 'exit 0' }
        : {
            passed: false,
            detail: `exit ${result.exitCode}${out.text() ? `: ${out.text().slice(-300)}` : ''}`,
          };
    }
    if (check.kind === 'http' && (await portInUse(check.port))) {
      throw new InvalidInputError(`port ${check.port} on 127.0.0.1 is in use before the container started`, {
        hint: 'stop what listens there, or check another port (--http PORT/path, with -e PORT=… if the program reads it)',
      });
    }
    let exited: { code: number } | { error: unknown } | undefined;
    const running = runImage(store, base).then(
      (r) => {
        exited = { code: r.exitCode };
      },
      (error: unknown) => {
        exited = { error };
      },
    );
    try {
      if (check.kind === 'alive') {
        const deadline = Date.now() + check.seconds * 1000;
        while (!exited && Date.now() < deadline) await sleep(200, options.signal);
        if (options.signal?.aborted) throw new AbortedError('strata slim was interrupted');
        if (!exited) return { passed: true, detail: `running after ${check.seconds} s` };
      } else {
        const deadline = Date.now() + check.timeoutSeconds * 1000;
        while (!exited && Date.now() < deadline && !options.signal?.aborted) {
          try {
            const response = await fetch(`http://127.0.0.1:${check.port}${check.path}`, {
              signal: AbortSignal.timeout(2000),
            });
            await response.arrayBuffer();
            return response.status < 500
              ? { passed: true, detail: `HTTP ${response.status}` }
              : { passed: false, detail: `HTTP ${response.status}` };
          } catch {
            await sleep(250, options.signal); // not listening yet
          }
        }
        if (options.signal?.aborted) throw new AbortedError('strata slim was interrupted');
        if (!exited) return { passed: false, detail: `no answer within ${check.timeoutSeconds} s` };
      }
      const how =
        'error' in exited!
          ? `failed to start: ${String((exited as { error: unknown }).error)}`
          : `exited with code ${(exited as { code: number }).code}`;
      return { passed: false, detail: `${how}${out.text() ? `: ${out.text().slice(-300)}` : ''}` };
    } finally {
      controller.abort();
      await running;
    }
  } finally {
    options.signal?.removeEventListener('abort', stop);
  }
}
