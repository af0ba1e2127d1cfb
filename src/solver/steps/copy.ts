import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { ContextView, checksumSources, type ResolvedGitRef, resolveGitRef } from '../../context/index.ts';
import { type ChmodMode, DockerfileError, parseChmodMode } from '../../dockerfile/index.ts';
import type { AddStep, CopyStep, FileSource } from '../../plan/index.ts';
import { releaseViews, type SnapshotView } from '../../snapshot/index.ts';
import { commitLayer } from '../commit-layer.ts';
import { CopyError } from '../errors.ts';
import { openSourceRoot } from '../source-root.ts';
import type { LayerStepPlan, StepContext } from '../step-context.ts';
import { addGitRef, type CopyOwnership, isUrl, writeCopy } from './copy-writer.ts';
import { resolveChown } from './resolve-chown.ts';

/**
 * The destination as docker 20.10's BuildKit makes it (dispatchCopyFileOp): joined to the working
 * directory and cleaned; a directory when it ends in `/` or is `.` or empty. `dest/.` is cleaned
 * to `dest` and names the file itself, as in 0.8 (current BuildKit keeps `/.` as a directory
 * marker; docs/buildkit-differences.md).
 */
export function copyDestination(workdir: string | undefined, dest: string): { path: string; isDir: boolean } {
  const raw = dest === '.' || dest === '' ? './' : dest;
  const isDir = raw.endsWith('/');
  const joined = posix.isAbsolute(raw) ? raw : posix.join(workdir || '/', raw);
  return { path: posix.normalize(joined).replace(/(.)\/$/, '$1'), isDir };
}

/**
 * `--chmod`: octal bits (`0755`) or a symbolic mode (`u=rwX,go=rX`), parsed as BuildKit does; the
 * planner has checked it already, so an error here means a value that reached the solver unchecked.
 */
export function parseChmod(text: string): ChmodMode {
  try {
    return parseChmodMode(text);
  } catch (error) {
    if (!(error instanceof DockerfileError)) throw error;
    throw new CopyError(error.message, { cause: error });
  }
}

/** The octal bits of an octal `--chmod`, for the context checksum (a symbolic one is keyed by its text). */
function octalChmod(text: string): number | undefined {
  const mode = parseChmod(text);
  return mode.kind === 'octal' ? mode.bits : undefined;
}

/**
 * COPY and ADD with BuildKit's semantics: sources from the context (seen through .dockerignore),
 * a stage, or an image; wildcards; a directory copies its contents; a trailing slash or several
 * sources make the destination a directory; missing parents are created; `--chown` resolved in
 * the target rootfs; `--chmod`; symlinks copied as symlinks; hardlinks kept; ADD extracts local
 * tar archives (gzip, bzip2, xz, zstd) and downloads URLs (checked against `--checksum`).
 */
export async function planCopy(ctx: StepContext, step: CopyStep | AddStep): Promise<LayerStepPlan> {
  const { image, options, deps } = ctx;
  const dest = copyDestination(image.config.WorkingDir, step.dest);
  // A stage's or image's files are opened once (a read-only view: an overlay mount) for both the
  // content key and the copy, and released when the step is done (dispose).
  const sourceViews: SnapshotView[] = [];
  const gitRefs = new Map<string, ResolvedGitRef>();
  let sourceRoot: Promise<string | undefined> | undefined;
  const openSource = (from: FileSource) => {
    sourceRoot ??= openSourceRoot(ctx, from, sourceViews);
    return sourceRoot;
  };
  return {
    createdBy: copyHistory(step),
    inputs: await copyKeyInputs(ctx, step, { dest, gitRefs }),
    ...(step.kind === 'copy' && step.from.kind === 'stage'
      ? {
          contentInputs: async () =>
            stageContentInputs(step, dest, (await openSource(step.from))!, ctx.signal),
        }
      : {}),
    dispose: async () => {
      await releaseViews(sourceViews);
    },
    execute: async () => {
      const active = await deps.snapshotter.prepare(await ctx.snapshot(), ctx.signal);
      try {
        // From another stage or an image, files keep their owners; from the context they become root's.
        const fromFilesystem =
          step.kind === 'copy' && (step.from.kind === 'stage' || step.from.kind === 'image');
        const view =
          step.kind === 'copy' && fromFilesystem
            ? new ContextView((await openSource(step.from))!)
            : options.context.view;
        const keepOwner = fromFilesystem;
        const ownership: CopyOwnership = {
          ...(step.chown ? { owner: await resolveChown(active.rootfs, step.chown) } : {}),
          ...(step.chmod ? { mode: parseChmod(step.chmod) } : {}),
        };
        await writeCopy({
          rootfs: active.rootfs,
          view,
          step,
          dest,
          ownership,
          keepOwner,
          ...(options.layers.sourceDateEpoch !== undefined
            ? { epochSeconds: options.layers.sourceDateEpoch }
            : {}),
          ...(options.fetchUrl ? { fetchUrl: options.fetchUrl } : {}),
          gitRefs,
          ...(ctx.signal ? { signal: ctx.signal } : {}),
        });
        return await commitLayer(active, deps.store, options.layers, ctx.signal);
      } catch (error) {
        await active.discard();
        throw error;
      }
    },
  };
}

/**
 * What decides a COPY/ADD's output: the destination, ownership and mode options, and the content
 * of exactly the files selected (content, mode, ownership after --chown/--chmod, never mtimes) —
 * for a stage source, the stage's cache key; for an image, its digest; for a URL, the content.
 */
async function copyKeyInputs(
  ctx: StepContext,
  step: CopyStep | AddStep,
  target: {
    readonly dest: { path: string; isDir: boolean };
    /** Filled with the commit each Git source resolves to, for the copy to check out. */
    readonly gitRefs: Map<string, ResolvedGitRef>;
  },
): Promise<unknown> {
  const { dest, gitRefs } = target;
  const base = copyOptionInputs(step, dest);
  if (step.kind === 'copy' && step.from.kind === 'stage')
    return { ...base, stage: (await ctx.stageResult(step.from.stage)).cacheKey };
  if (step.kind === 'copy' && step.from.kind === 'image') {
    return {
      ...base,
      image: (await ctx.deps.resolveImage(step.from.ref, ctx.stage.platform, ctx.signal)).digest,
    };
  }
  const urls = step.kind === 'add' ? step.sources.filter(isUrl) : [];
  const gitSources =
    step.kind === 'add'
      ? step.sources.flatMap((source) => {
          const ref = addGitRef(step, source);
          return ref === undefined ? [] : [{ source, ref }];
        })
      : [];
  const paths = step.sources.filter((s) => !urls.includes(s) && !gitSources.some((g) => g.source === s));
  // A Git source is keyed by the commit its ref resolves to now (one `git ls-remote`), so a
  // rebuild at the same commit is a cache hit without a clone; the copy checks out that commit.
  const git: unknown[] = [];
  for (const { source, ref } of gitSources) {
    const resolved = await resolveGitRef(ref, ctx.signal);
    gitRefs.set(source, resolved);
    git.push({
      remote: ref.remote,
      commit: resolved.commit,
      subdir: ref.subdir,
      keepGitDir: ref.keepGitDir ?? false,
      submodules: ref.submodules ?? true,
      mtime: ref.mtime ?? 'checkout',
    });
  }
  const sum = await checksumSources({
    view: ctx.options.context.view,
    sources: paths,
    excludes: step.exclude,
    parents: step.kind === 'copy' && step.parents,
    // A symbolic mode is a function of each file's own mode, which the checksum covers; the
    // mode's text is in the step's option inputs.
    ...(step.chmod && octalChmod(step.chmod) !== undefined ? { chmod: octalChmod(step.chmod)! } : {}),
    ...(ctx.options.cache?.checksums ? { cache: ctx.options.cache.checksums } : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  const urlSums: string[] = [];
  for (const url of urls) {
    if (step.kind === 'add' && step.checksum) {
      urlSums.push(step.checksum);
      continue;
    }
    // Without --checksum the download decides: fetch and hash it (BuildKit checks the content too).
    if (!ctx.options.fetchUrl) throw new CopyError(`ADD ${url}: downloading is not available in this build`);
    const hash = createHash('sha256');
    for await (const chunk of await ctx.options.fetchUrl(url, ctx.signal)) hash.update(chunk as Buffer);
    urlSums.push(`sha256:${hash.digest('hex')}`);
  }
  return { ...base, context: sum.digest, urls: urlSums, ...(git.length > 0 ? { git } : {}) };
}

/** The key inputs every COPY/ADD has: destination and options, not yet what it copies. */
function copyOptionInputs(step: CopyStep | AddStep, dest: { path: string; isDir: boolean }) {
  return {
    kind: step.kind,
    // Bumped when what a copy writes for the same inputs changes (2: per-source destinations
    // through symlinks, empty wildcards, ADD's archive test and literal whiteouts; 3: --chown by
    // name takes the passwd group, a directory source's new destination is 0755, ADD skips an
    // archive's root entry, octal --chmod drops set-id bits, downloads are named by the decoded
    // URL path), so records of older strata are not
    // reused.
    semantics: 3,
    dest,
    chown: step.chown ?? null,
    chmod: step.chmod ?? null,
    link: step.link,
    exclude: step.exclude,
    sources: step.sources,
    inline: step.inline,
    ...(step.kind === 'copy'
      ? { parents: step.parents }
      : {
          checksum: step.checksum ?? null,
          // Only when given, so the keys of ADDs without the flags stay as they were.
          ...(step.unpack === undefined ? {} : { unpack: step.unpack }),
          ...(step.keepGitDir === undefined ? {} : { keepGitDir: step.keepGitDir }),
        }),
  };
}

/**
 * A COPY --from=<stage>'s content inputs: the checksum of exactly the files it selects from the
 * stage's filesystem — path, type, permission bits, owner (kept from the stage), link target,
 * xattrs and content, never mtimes — as BuildKit keys a copy by the content it reads.
 */
async function stageContentInputs(
  step: CopyStep,
  dest: { path: string; isDir: boolean },
  stageRoot: string,
  signal?: AbortSignal,
): Promise<unknown> {
  const sum = await checksumSources({
    view: new ContextView(stageRoot),
    sources: step.sources,
    excludes: step.exclude,
    parents: step.parents,
    keepOwnership: true,
    ...(step.chmod && octalChmod(step.chmod) !== undefined ? { chmod: octalChmod(step.chmod)! } : {}),
    ...(signal ? { signal } : {}),
  });
  return { ...copyOptionInputs(step, dest), content: sum.digest };
}

/** BuildKit's history text for COPY/ADD: `COPY [--parents] [--chown=…] [--chmod=…] src… [<<doc…] dest`. */
export function copyHistory(step: CopyStep | AddStep): string {
  const parts = [step.kind === 'add' ? 'ADD' : 'COPY'];
  if (step.kind === 'copy' && step.parents) parts.push('--parents');
  if (step.chown) parts.push(`--chown=${step.chown}`);
  if (step.chmod) parts.push(`--chmod=${step.chmod}`);
  parts.push(...step.sources);
  for (const inline of step.inline) parts.push(`<<${inline.name}`);
  parts.push(step.dest);
  return parts.join(' ');
}
