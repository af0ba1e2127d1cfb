import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Writable } from 'node:stream';
import { type CacheMountIdentity, cacheMountDir } from '../../cache/index.ts';
import { checksumSources } from '../../context/index.ts';
import { DEFAULT_SHELL, formatPlatform } from '../../oci/index.ts';
import { type PlannedMount, type RunStep, runInvocation } from '../../plan/index.ts';
import { type ExecMount, requirePlatformRunnable } from '../../runtime/index.ts';
import { copyForBind, releaseViews, type SnapshotView } from '../../snapshot/index.ts';
import { acquireLock, InvalidInputError, LockTimeoutError, resolveInRoot } from '../../util/index.ts';
import { commitLayer } from '../commit-layer.ts';
import { ERROR_EXCERPT_CHARS, excerpt, RunFailedError } from '../errors.ts';
import { runCommandString } from '../history.ts';
import { getEnv } from '../image-state.ts';
import { openSourceRoot } from '../source-root.ts';
import type { LayerStepPlan, StepContext } from '../step-context.ts';

/** How many lines of a failed RUN's output the error shows. */
const TAIL_LINES = 10;

/**
 * A Writable that forwards output as step-log events and keeps the last lines for errors, each cut
 * to {@link ERROR_EXCERPT_CHARS} (a line without end — megabytes of progress dots — is counted,
 * not kept).
 */
class StepOutput extends Writable {
  readonly tail: string[] = [];
  /** The start of the line being written, at most one character over the limit. */
  #partial = '';
  /** The length of that line so far. */
  #partialLength = 0;
  readonly #forward: (text: string) => void;
  constructor(forward: (text: string) => void) {
    super();
    this.#forward = forward;
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (error?: Error | null) => void): void {
    const text = chunk.toString('utf8');
    this.#forward(text);
    const lines = text.split('\n');
    const last = lines.pop() ?? '';
    for (const line of lines) {
      this.#extend(line);
      this.#push(excerpt(this.#partial, this.#partialLength));
      this.#partial = '';
      this.#partialLength = 0;
    }
    this.#extend(last);
    cb();
  }
  #extend(text: string): void {
    if (this.#partial.length <= ERROR_EXCERPT_CHARS)
      this.#partial += text.slice(0, ERROR_EXCERPT_CHARS + 1 - this.#partial.length);
    this.#partialLength += text.length;
  }
  #push(line: string): void {
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
  }
  lastLines(): string[] {
    return this.#partialLength > 0
      ? [...this.tail, excerpt(this.#partial, this.#partialLength)].slice(-TAIL_LINES)
      : [...this.tail];
  }
}

/**
 * The argv a RUN runs (heredocs applied as BuildKit's dispatchRun does, see plan's runInvocation),
 * with the SHELL the image has at this point (its own SHELL instructions and the base image's).
 */
function runArgs(
  ctx: StepContext,
  step: RunStep,
): { args: string[]; scriptFiles: Array<{ name: string; content: string }> } {
  const shell =
    ctx.image.config.Shell && ctx.image.config.Shell.length > 0 ? ctx.image.config.Shell : DEFAULT_SHELL;
  const invocation = runInvocation(step, shell);
  const scriptFiles = invocation.script
    ? [{ name: posix.basename(invocation.script.path), content: invocation.script.content }]
    : [];
  return { args: [...invocation.args], scriptFiles };
}

/**
 * The environment a RUN sees: the stage's variables as the planner tracked them — BuildKit's
 * llb state env, not the image config's Env. The two differ in two ways BuildKit shows: an ARG
 * declared after an ENV of the same name gives the ARG's value (dispatchArg adds it to the state
 * env; the config keeps the ENV), and a variable set again (by ENV or ARG) moves to the end of the
 * list (llb's EnvList.AddOrReplace deletes and appends), where the config replaces it in place.
 * Config entries the plan does not know (a base image's env it could not see) come first.
 */
export function runEnvironment(ctx: StepContext, step: RunStep): string[] {
  const planned = new Set(step.env.map((v) => v.name));
  const env = (ctx.image.config.Env ?? []).filter((e) => {
    const eq = e.indexOf('=');
    return !planned.has(eq === -1 ? e : e.slice(0, eq));
  });
  for (const v of step.env) env.push(`${v.name}=${v.value}`);
  return env;
}

/**
 * RUN: runs the command in a fresh container over the stage's filesystem (crun/runc via the
 * executor), then commits what it changed as a layer (on a cache miss). A non-zero exit fails the build with the
 * exit code, the command and the last lines of output; mounts, views and the writable layer are
 * released whatever happens.
 */
export async function planRun(ctx: StepContext, step: RunStep): Promise<LayerStepPlan> {
  const { deps, options, image } = ctx;
  const { args, scriptFiles } = runArgs(ctx, step);
  const env = runEnvironment(ctx, step);
  const createdBy = `RUN ${runCommandString(args, step.buildArgs, (k) => getEnv(env, k))}`;
  const user = image.config.User ?? '';
  const cwd = image.config.WorkingDir || '/';
  const network = step.network === 'default' ? (options.network ?? 'default') : step.network;
  const run = options.run ?? {};
  for (const proxy of options.graph.proxyEnv)
    if (getEnv(env, proxy.name) === undefined) env.push(`${proxy.name}=${proxy.value}`);
  // The cache mounts this RUN declares: `--cache-to …,mounts=` exports them even when the step
  // hits, and on a miss their restore from `--cache-from` starts beside the filesystem's unpack.
  const cacheMounts = options.cache?.mounts;
  const declared = step.mounts.flatMap((m) => (m.type === 'cache' ? [cacheMountOf(ctx, m)] : []));
  for (const c of declared) cacheMounts?.declare(c.identity, c.dir);
  return {
    ...(cacheMounts && declared.length > 0
      ? {
          prepare: () => {
            for (const c of declared) cacheMounts.prefetch(c.identity, c.dir, ctx.signal);
          },
        }
      : {}),
    createdBy,
    inputs: {
      args,
      // Proxy variables are left out of the key, as BuildKit leaves them out (they change no output).
      env: env.filter((e) => !options.graph.proxyEnv.some((p) => e.startsWith(`${p.name}=`))),
      user,
      cwd,
      network,
      // An insecure step may make what a sandboxed one cannot: BuildKit keys on its security mode too.
      ...(step.security === 'insecure' ? { security: step.security } : {}),
      scripts: scriptFiles,
      mounts: await Promise.all(step.mounts.map((m) => mountKeyInputs(ctx, m))),
      // Only when set, so the keys of builds without them stay as they were.
      ...(run.extraHosts?.length ? { extraHosts: run.extraHosts } : {}),
      ...(run.ulimits?.length ? { ulimits: run.ulimits } : {}),
      ...(run.shmSizeBytes !== undefined ? { shmSizeBytes: run.shmSizeBytes } : {}),
    },
    execute: async () => {
      const views: SnapshotView[] = [];
      const locks: Array<() => Promise<void>> = [];
      let pipesDir: string | undefined;
      // Another architecture's programs run only through an emulator (binfmt_misc): without one,
      // say so and how to register it, before anything starts (not runc's "exec format error").
      // The programs are the image's: a base of another platform than the stage's (BuildKit's
      // InvalidBaseImagePlatform warning) runs as what it is.
      await requirePlatformRunnable(
        image.architecture
          ? {
              os: image.os,
              architecture: image.architecture,
              ...(image.variant ? { variant: image.variant } : {}),
            }
          : ctx.stage.platform,
      );
      const active = await deps.snapshotter.prepare(await ctx.snapshot(), ctx.signal);
      try {
        // --shm-size: BuildKit adds a tmpfs mount of that size at /dev/shm, before the step's own.
        const mounts: ExecMount[] =
          run.shmSizeBytes !== undefined
            ? [{ type: 'tmpfs', target: '/dev/shm', sizeBytes: run.shmSizeBytes }]
            : [];
        const processEnv = [...env];
        for (const m of step.mounts) {
          const mount = await execMount(ctx, m, views, locks, processEnv);
          if (mount) mounts.push(mount);
        }
        if (scriptFiles.length > 0) {
          pipesDir = join(deps.stateDir, 'tmp', `pipes-${process.pid}-${ctx.stepId.replace(/\W/g, '_')}`);
          await mkdir(pipesDir, { recursive: true });
          for (const f of scriptFiles) {
            await writeFile(join(pipesDir, f.name), f.content);
            await chmod(join(pipesDir, f.name), 0o755);
          }
          mounts.push({ type: 'bind', source: pipesDir, target: '/dev/pipes', readonly: true });
        }
        const stdout = new StepOutput((text) =>
          deps.events.emit({ type: 'step-log', step: ctx.stepId, stream: 'stdout', text, at: Date.now() }),
        );
        const stderr = new StepOutput((text) =>
          deps.events.emit({ type: 'step-log', step: ctx.stepId, stream: 'stderr', text, at: Date.now() }),
        );
        const executor = await deps.executor();
        const result = await executor.run(
          {
            rootfs: active.rootfs,
            process: {
              args,
              env: processEnv,
              cwd,
              user,
              // host only when granted: checkEntitlements refused the build otherwise.
              network: network === 'default' ? 'sandbox' : network,
              // Granted by --allow security.insecure: checkEntitlements refused the build otherwise.
              ...(step.security === 'insecure' ? { security: 'insecure' as const } : {}),
              mounts,
              ...(run.extraHosts?.length ? { extraHosts: run.extraHosts } : {}),
              ...(run.ulimits?.length ? { ulimits: run.ulimits } : {}),
            },
            stdout,
            stderr,
          },
          ctx.signal,
        );
        if (result.exitCode !== 0) {
          const output = [...stdout.lastLines(), ...stderr.lastLines()].slice(-TAIL_LINES);
          throw new RunFailedError({
            exitCode: result.exitCode,
            command: commandText(step),
            lastOutput: output,
            location: ctx.location,
          });
        }
        return await commitLayer(active, deps.store, options.layers, ctx.signal);
      } catch (error) {
        await active.discard();
        throw error;
      } finally {
        try {
          await releaseViews(views);
        } finally {
          for (const release of locks) await release();
        }
        if (pipesDir) await rm(pipesDir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * What of a `RUN --mount` is known only when the step runs: where bind sources come from (a stage
 * by its cache key, an image by its digest, context files by their checksum). The mount's options
 * are in the step's definition (stepDefinition, which leaves out a cache mount's id and sharing as
 * BuildKit does); secret contents are never in a key (test/solver/run-mount-keys.test.ts).
 */
async function mountKeyInputs(ctx: StepContext, m: PlannedMount): Promise<unknown> {
  const base = { type: m.type, target: m.target, readOnly: m.readOnly, source: m.source };
  if (m.type !== 'bind') return base;
  if (m.from.kind === 'stage') return { ...base, stage: (await ctx.stageResult(m.from.stage)).cacheKey };
  if (m.from.kind === 'image') {
    return {
      ...base,
      image: (await ctx.deps.resolveImage(m.from.ref, ctx.stage.platform, ctx.signal)).digest,
    };
  }
  if (m.from.kind === 'context') {
    const sum = await checksumSources({
      view: ctx.options.context.view,
      sources: [m.source || '.'],
      ...(ctx.options.cache?.checksums ? { cache: ctx.options.cache.checksums } : {}),
    });
    return { ...base, context: sum.digest };
  }
  return { ...base, from: m.from.kind };
}

/** The command as the user wrote it, for error messages. */
export function commandText(step: RunStep): string {
  return step.command.form === 'exec' ? JSON.stringify(step.command.args) : step.command.text;
}

/**
 * Turns a planned `RUN --mount` into what the executor mounts. A secret with `env=` is put into
 * `processEnv` (replacing a variable of that name); it is also a file only when it names a target,
 * as in BuildKit.
 */
async function execMount(
  ctx: StepContext,
  m: PlannedMount,
  views: SnapshotView[],
  locks: Array<() => Promise<void>>,
  processEnv: string[],
): Promise<ExecMount | undefined> {
  const target = posix.isAbsolute(m.target)
    ? m.target
    : posix.join(ctx.image.config.WorkingDir || '/', m.target);
  switch (m.type) {
    case 'tmpfs':
      return { type: 'tmpfs', target, ...(m.sizeBytes !== undefined ? { sizeBytes: m.sizeBytes } : {}) };
    case 'secret': {
      const id = m.id ?? posix.basename(m.target);
      const content = ctx.options.secrets?.get(id);
      if (content === undefined) {
        if (m.required)
          throw new InvalidInputError(`secret ${id} is required but was not given`, {
            hint: `pass --secret id=${id},src=<file>`,
          });
        return undefined; // BuildKit skips a missing optional secret mount
      }
      if (m.env !== undefined) {
        const at = processEnv.findIndex((e) => e.startsWith(`${m.env}=`));
        if (at !== -1) processEnv.splice(at, 1);
        processEnv.push(`${m.env}=${Buffer.from(content).toString('utf8')}`);
        if (!m.target) return undefined;
      }
      return {
        type: 'secret',
        target: m.target || `/run/secrets/${id}`,
        content,
        ...(m.uid !== undefined ? { uid: m.uid } : {}),
        ...(m.gid !== undefined ? { gid: m.gid } : {}),
        ...(m.mode !== undefined ? { mode: m.mode } : {}),
      };
    }
    case 'cache': {
      const { identity, dir: shared } = cacheMountOf(ctx, m);
      const mounts = join(ctx.deps.stateDir, 'cache-mounts');
      let dir = shared;
      await mkdir(mounts, { recursive: true });
      if (m.sharing === 'locked' || m.sharing === 'private') {
        // locked: one step at a time uses the cache, others wait. private: a step that finds the
        // cache in use gets a fresh directory of its own instead (BuildKit's sharing modes).
        try {
          const release = await acquireLock(`${dir}.lock`, {
            timeoutMs: m.sharing === 'locked' ? 24 * 3600_000 : 0,
            ...(ctx.signal ? { signal: ctx.signal } : {}),
          });
          locks.push(release);
        } catch (error) {
          if (!(error instanceof LockTimeoutError) || m.sharing !== 'private') throw error;
          dir = await mkdtemp(join(mounts, 'private-'));
          const temp = dir;
          locks.push(() => rm(temp, { recursive: true, force: true }));
        }
      }
      const tracked = ctx.options.cache?.mounts;
      // The shared directory (not a private step's own): restored from --cache-from if this
      // machine has none, and marked in use so `strata prune` leaves it while the step runs.
      if (tracked && dir === shared) locks.push(await tracked.use(identity, dir, ctx.signal));
      if (!existsSync(dir) && m.from.kind !== 'scratch') {
        // `from=`/`source=`: a new cache starts as a copy of that directory.
        await seedCacheMount(ctx, m, dir, views);
      }
      return {
        type: 'cache',
        source: dir,
        target,
        ...(m.uid !== undefined ? { uid: m.uid } : {}),
        ...(m.gid !== undefined ? { gid: m.gid } : {}),
        ...(m.mode !== undefined ? { mode: m.mode } : {}),
        readonly: m.readOnly,
      };
    }
    case 'bind': {
      let source: string;
      let hidden: string[] = [];
      if (m.from.kind === 'context') {
        // The context as BuildKit receives it: resolved and seen through .dockerignore.
        const view = ctx.options.context.view;
        const node = view.resolve(m.source || '.');
        if (node === undefined) {
          throw new InvalidInputError(
            `bind mount source ${JSON.stringify(m.source || '.')} is not in the build context`,
            { hint: 'check the path, and that .dockerignore does not exclude it' },
          );
        }
        source = node.absPath;
        hidden = view.hiddenBelow(node);
      } else {
        // from=scratch binds an empty directory.
        let root = await openSourceRoot(ctx, m.from, views);
        if (root === undefined) {
          root = join(ctx.deps.stateDir, 'tmp', 'empty');
          await mkdir(root, { recursive: true });
        }
        source = resolveInRoot(root, m.source || '/');
      }
      // Read-only and nothing to hide: the source itself, bound read-only. Otherwise a view that
      // hides the ignored files and, for `rw`, takes the writes and throws them away — a step
      // must never write into the context or into another stage's snapshot.
      if (m.readOnly && hidden.length === 0) return { type: 'bind', source, target, readonly: true };
      const bound = await ctx.deps.snapshotter.bindView(source, { hidden, writable: !m.readOnly });
      views.push(bound);
      return { type: 'bind', source: bound.path, target, readonly: m.readOnly };
    }
    case 'ssh':
      throw new InvalidInputError('RUN --mount=type=ssh is not supported yet', {
        hint: 'use a secret mount for keys, or build with docker buildx',
      });
  }
}

/**
 * A cache mount's identity (its id — the target when it has none — with the stage's platform and
 * the uid/gid/mode its directory is created with, BuildKit's defaults 0/0/0755) and its local
 * directory, which is keyed by the id alone, as BuildKit shares a cache by id.
 */
function cacheMountOf(ctx: StepContext, m: PlannedMount): { identity: CacheMountIdentity; dir: string } {
  const target = posix.isAbsolute(m.target)
    ? m.target
    : posix.join(ctx.image.config.WorkingDir || '/', m.target);
  const id = m.id ?? target;
  return {
    identity: {
      id,
      platform: formatPlatform(ctx.stage.platform),
      uid: m.uid ?? 0,
      gid: m.gid ?? 0,
      mode: (m.mode ?? 0o755) & 0o7777,
    },
    dir: cacheMountDir(ctx.deps.stateDir, id),
  };
}

/** Fills a new cache mount directory from its `from=` stage, image or context at `source=`. */
async function seedCacheMount(
  ctx: StepContext,
  m: PlannedMount,
  dir: string,
  views: SnapshotView[],
): Promise<void> {
  const root = await openSourceRoot(ctx, m.from, views);
  if (root === undefined) return;
  await copyForBind(resolveInRoot(root, m.source || '/'), dir, []);
}
