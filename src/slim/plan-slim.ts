import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { cachedTool, installedPackages, isCompilerPackage, simpleCommands } from '../analyze/index.ts';
import type { Instruction, RunInstruction } from '../dockerfile/index.ts';
import type { Stage } from '../plan/index.ts';
import { InvalidInputError } from '../util/index.ts';
import { DpkgDatabase } from './dpkg-database.ts';
import type { ElfInfo } from './elf.ts';
import { envMap, type ImageRoot } from './image-root.ts';
import { libraryClosure } from './shared-libraries.ts';
import { readOsRelease, slimDistroImage, slimVariantOf } from './slim-base.ts';
import type { ChangedPath, SlimFacts } from './slim-facts.ts';

/** What the program the image runs is, as far as the final stage is concerned. */
export type ProgramKind = 'static-binary' | 'dynamic-binary' | 'node' | 'python';

/** A path the final stage takes from the builder, and why. */
export interface SlimCopy {
  readonly path: string;
  readonly why: string;
}

/** A step added to the end of the builder stage. */
export interface BuilderStep {
  readonly comment: readonly string[];
  readonly text: string;
  /**
   * The cache (as `strata lint` names it) the step's tool reads: when the build's install step
   * has a cache mount there, this step mounts it too, or it would find the cache empty.
   */
  readonly cacheOf?: string;
}

/** Bytes the Dockerfile's layers added that the final stage leaves behind. */
export interface LeftBehind {
  readonly path: string;
  readonly bytes: number;
  readonly why: string;
}

/** The rewrite {@link planSlim} decided on, with the reasons for each choice. */
export interface SlimPlan {
  readonly kind: ProgramKind;
  /** The program CMD/ENTRYPOINT runs, resolved in the image. */
  readonly program: string;
  readonly builderName: string;
  readonly finalBase: string;
  readonly finalBaseReason: string;
  /** Whether the final base image was found in the local store (its files were checked). */
  readonly finalBaseChecked: boolean;
  /** RUN lines (1-based line of the instruction) → cache mount targets added to them. */
  readonly cacheMounts: ReadonlyMap<number, readonly string[]>;
  readonly builderSteps: readonly BuilderStep[];
  /** Steps inserted into the builder before the instruction on this (1-based) line. */
  readonly builderInserts: ReadonlyMap<number, BuilderStep>;
  readonly copies: readonly SlimCopy[];
  /** Debian packages the final stage installs, with why. */
  readonly aptPackages: ReadonlyMap<string, string>;
  /** A RUN for the final stage that creates the image's user, when the final base lacks it. */
  readonly createUser?: string;
  /** The ENTRYPOINT the base image set and the final stage inherits from its own base. */
  readonly inheritedEntrypoint?: readonly string[];
  /**
   * Gather the copies in the builder with `cp -a --parents` and take them with one COPY: there
   * are many, or some are symlinks that must stay links (COPY follows a source symlink). Needs
   * GNU cp in the builder.
   */
  readonly collect: boolean;
  /**
   * The shell-form CMD or ENTRYPOINT (its 1-based line) written in exec form in the final stage,
   * which has no shell: its command is plain words, so `/bin/sh -c` would run exactly `args`.
   */
  readonly execForm?: { readonly line: number; readonly args: readonly string[]; readonly why: string };
  /** `ENV PATH` for the final stage, which does not inherit the builder's base's PATH. */
  readonly addedPath?: { readonly value: string; readonly why: string };
  /** USER for the final stage that the original did not have (scratch runs as nobody). */
  readonly addedUser?: { readonly user: string; readonly why: string };
  /** One line per decision, for comments and the terminal. */
  readonly decisions: readonly string[];
  readonly leftBehind: readonly LeftBehind[];
  /** Facts strata could not establish; non-empty means the rewrite is unverified. */
  readonly missing: readonly string[];
  /** The stage's instructions the final stage re-declares (ENV, LABEL, EXPOSE, …). */
  readonly kept: readonly Instruction[];
}

/** The single-stage Dockerfile cannot be slimmed at all (not merely unproven). */
export class SlimNotApplicableError extends InvalidInputError {}

/** Bytes of unexplained files strata keeps before it stops guessing (see step 10 of planSlim). */
const UNEXPLAINED_LIMIT = 20_000_000;
const SHELL_BUILTINS = new Set([
  'exit',
  'true',
  'false',
  'test',
  '[',
  'echo',
  'cd',
  'set',
  'export',
  ':',
  'return',
  'printf',
  'read',
  'kill',
  'exec',
]);
const WRAPPERS = new Set(['tini', 'tini-static', 'dumb-init', 'catatonit']);
const KEPT_KINDS = new Set([
  'env',
  'label',
  'expose',
  'user',
  'volume',
  'healthcheck',
  'stopsignal',
  'entrypoint',
  'cmd',
]);
/** Where compilers, package managers and caches keep what only a build needs. */
const BUILD_ONLY_PREFIXES = [
  '/tmp/',
  '/var/tmp/',
  '/root/.cache/',
  '/root/.npm/',
  '/root/.cargo/',
  '/root/.rustup/',
  '/root/.m2/',
  '/root/.gradle/',
  '/root/go/',
  '/go/',
  '/usr/local/go/',
  '/usr/local/cargo/',
  '/usr/local/rustup/',
  '/usr/local/share/.cache/',
  '/root/.local/share/pnpm/',
  '/root/.local/state/pnpm/',
  // Tools' own settings under ~/.config; any other directory there may be the program's.
  '/root/.config/configstore/',
  '/root/.config/yarn/',
  '/root/.config/pnpm/',
  '/root/.config/pip/',
  '/root/.config/go/',
  '/root/.config/git/',
  '/root/.config/npm/',
  '/root/.config/node-gyp/',
  '/var/lib/apt/',
  '/var/lib/dpkg/',
  // Tools' caches under /var/cache; another directory there may be the program's data.
  '/var/cache/apt/',
  '/var/cache/debconf/',
  '/var/cache/ldconfig/',
  '/var/cache/man/',
  '/var/cache/fontconfig/',
  '/var/log/',
  '/usr/share/doc/',
  '/usr/local/share/man/',
  '/usr/local/share/doc/',
  '/root/.yarn/',
  '/root/.node-gyp/',
  '/usr/local/share/.config/',
  '/usr/share/man/',
  '/usr/share/info/',
  '/usr/share/locale/',
  '/usr/src/',
  '/usr/include/',
  '/usr/local/include/',
  '/run/',
  '/etc/apt/',
  '/etc/ld.so.cache',
  '/root/.wget-hsts',
  '/root/.bash_history',
  '/root/.python_history',
];
const SYSTEM_DIRS = new Set([
  '/',
  '/usr',
  '/usr/local',
  '/usr/bin',
  '/usr/local/bin',
  '/etc',
  '/bin',
  '/opt',
  '/srv',
  '/var',
  '/home',
  '/root',
  '/lib',
  '/usr/lib',
]);
/** Files a compiled program does not read at run time (sources, build files, docs). */
const SOURCE_FILE =
  /\.(go|c|h|cc|cpp|cxx|hpp|hh|rs|o|a|obj|s|S|mod|sum|lock|mk|cmake|md|rst|in|am|ac|m4)$|^(Cargo\.toml|pyproject\.toml|rust-toolchain(\.toml)?|rustfmt\.toml|clippy\.toml|Makefile|makefile|GNUmakefile|CMakeLists\.txt|configure|Dockerfile.*|\.dockerignore|\.git.*|README.*|LICENSE.*|COPYING.*|CHANGELOG.*|\.editorconfig)$/;
const BUILD_DIRS = new Set([
  'target',
  'vendor',
  '.git',
  'build',
  'CMakeFiles',
  'obj',
  'node_modules',
  '.cache',
]);

function isBuildOnlyPath(path: string): boolean {
  return BUILD_ONLY_PREFIXES.some((p) => path === p.replace(/\/$/, '') || path.startsWith(p));
}

function under(path: string, dir: string): boolean {
  return dir === '/' || path === dir || path.startsWith(`${dir}/`);
}

interface Context {
  readonly facts: SlimFacts;
  readonly root: ImageRoot;
  readonly env: Map<string, string>;
  readonly workdir: string;
  readonly db: DpkgDatabase | undefined;
  readonly decisions: string[];
  readonly missing: string[];
  readonly copies: SlimCopy[];
  readonly apt: Map<string, string>;
  readonly builderSteps: BuilderStep[];
  readonly builderInserts: Map<number, BuilderStep>;
}

function copy(ctx: Context, given: string, why: string): void {
  // The parent's symlinks resolved (`/lib64/x` → `/usr/lib64/x`): COPY and cp then agree on where it lands.
  const parent = posix.dirname(given);
  const path = given === '/' ? given : posix.join(ctx.root.realPath(parent), posix.basename(given));
  if (ctx.copies.some((c) => under(path, c.path))) return;
  for (let i = ctx.copies.length - 1; i >= 0; i--)
    if (under(ctx.copies[i]!.path, path)) ctx.copies.splice(i, 1);
  ctx.copies.push({ path, why });
}

function copied(ctx: Context, path: string): boolean {
  return ctx.copies.some((c) => under(path, c.path));
}

/** The command line the container runs, as argv, with the shell form's single command unwrapped. */
function programArgs(
  facts: SlimFacts,
  ctx: { missing: string[] },
  skipEntrypoint: boolean,
): { argv: string[]; shell: boolean; plain: boolean } | undefined {
  const c = facts.config;
  const args = [...(skipEntrypoint ? [] : (c.Entrypoint ?? [])), ...(c.Cmd ?? [])];
  if (args.length === 0) {
    ctx.missing.push('the image has no CMD or ENTRYPOINT: strata cannot tell which program it runs');
    return undefined;
  }
  const shellPrefix = (c.Shell && c.Shell.length > 0 ? c.Shell : ['/bin/sh', '-c']) as readonly string[];
  const isShell =
    (shellPrefix.every((w, i) => args[i] === w) && args.length === shellPrefix.length + 1) ||
    (/^(\/usr)?(\/bin\/)?(sh|bash|dash)$/.test(args[0] ?? '') && args[1] === '-c' && args.length === 3);
  if (!isShell) return { argv: args, shell: false, plain: false };
  const script = args[args.length - 1]!;
  const commands = simpleCommands(script);
  if (commands.length !== 1 || /[;&|`<>]|\$\(/.test(script)) {
    ctx.missing.push(
      `CMD/ENTRYPOINT is a shell command line (${JSON.stringify(script)}): strata cannot tell every program it runs`,
    );
    return undefined;
  }
  // Plain words (no quotes, expansions, globs or escapes): `sh -c` would run exactly this argv.
  const plain =
    /^\s*[A-Za-z0-9_./:=@%+,-]+(\s+[A-Za-z0-9_./:=@%+,-]+)*\s*$/.test(script) &&
    !SHELL_BUILTINS.has(commands[0]![0]!) &&
    !/=/.test(commands[0]![0]!);
  return { argv: [...commands[0]!], shell: true, plain };
}

function dockerfileStage(facts: SlimFacts): Stage {
  const stages = facts.graph.stages;
  if (facts.dockerfile.stages.length !== 1 || stages.length !== 1) {
    throw new SlimNotApplicableError(
      `${facts.dockerfile.file} has ${facts.dockerfile.stages.length} stages: strata slim rewrites a single-stage Dockerfile`,
      { hint: 'it is multi-stage already; `strata lint` and `strata analyze` show what else to trim' },
    );
  }
  const stage = stages[0]!;
  if (stage.base.kind !== 'image') {
    throw new SlimNotApplicableError(
      `${facts.dockerfile.file} builds FROM scratch: there is no builder to split off`,
    );
  }
  return stage;
}

/** Packages the Dockerfile's RUN steps name in `apt-get install` and that are installed in the image. */
function explicitAptPackages(stage: Stage, db: DpkgDatabase | undefined): string[] {
  if (!db) return [];
  const names = new Set<string>();
  for (const step of stage.steps) {
    if (step.kind !== 'run') continue;
    const script = step.command.form === 'shell' ? step.command.text : step.command.args.join(' ');
    for (const c of simpleCommands([script, ...step.heredocs.map((h) => h.content)].join('\n'))) {
      const installed = installedPackages(c);
      if (installed?.manager !== 'apt') continue;
      for (const p of installed.packages) {
        const bare = p.replace(/[=:].*$/, '');
        if (db.packages.has(bare)) names.add(bare);
      }
    }
  }
  return [...names];
}

/** Toolchain packages besides compilers and headers: what builds need and programs do not. */
function isBuildPackage(name: string): boolean {
  return (
    isCompilerPackage(name) ||
    /^(binutils.*|cpp(-\d+)?|pkg-config|pkgconf|git|ninja-build|meson|bison|flex|patch|dpkg-dev|libtool-bin|golang(-\d+\.\d+)?(-go)?|rustc(-\d.*)?|cargo(-\d.*)?|nodejs-dev|npm|yarnpkg|python3-pip|python3-venv|python3-dev|python3-setuptools|python3-wheel|build-essential|default-jdk.*|openjdk-\d+-jdk.*|maven|gradle|ca-certificates-java)$/.test(
      name,
    )
  );
}

/**
 * Decides the multi-stage rewrite of a single-stage Dockerfile from facts: what its CMD runs (an
 * ELF binary — static or dynamic, and which libraries it loads — or a Node or Python program),
 * which files its steps added, which Debian packages own them and whether they are build tools,
 * and what the candidate final base has. Every decision is recorded with its reason; whatever it
 * cannot establish goes to `missing`, and the caller refuses to write (or marks the result
 * unverified with --force).
 */
export async function planSlim(facts: SlimFacts): Promise<SlimPlan> {
  const stage = dockerfileStage(facts);
  const base = stage.base.kind === 'image' ? stage.base : undefined;
  const root = facts.root;
  const env = envMap(facts.config.Env);
  const workdir = facts.config.WorkingDir || '/';
  const db = DpkgDatabase.read(root);
  const ctx: Context = {
    facts,
    root,
    env,
    workdir,
    db,
    decisions: [],
    missing: [],
    copies: [],
    apt: new Map(),
    builderSteps: [],
    builderInserts: new Map(),
  };
  const builderName = stage.name ?? 'build';
  const os = readOsRelease(root);

  // 1. What the container runs. An ENTRYPOINT the base image set (node's docker-entrypoint.sh) is
  // the base's wrapper around CMD: the program is CMD's, and the final stage must keep the wrapper.
  const entrypointSet = stage.steps.some((s) => s.kind === 'entrypoint');
  const baseEntrypoint =
    !entrypointSet && (facts.config.Entrypoint?.length ?? 0) > 0 ? [...facts.config.Entrypoint!] : undefined;
  if (baseEntrypoint) {
    const path = root.which(baseEntrypoint[0]!, env, workdir);
    if (path && facts.changes.has(root.realPath(path))) {
      ctx.missing.push(
        `the ENTRYPOINT ${baseEntrypoint[0]} of ${stage.from.image} was changed by a step: strata cannot tell what it runs`,
      );
    }
  }
  const parsed = programArgs(facts, ctx, baseEntrypoint !== undefined);
  let argv = parsed?.argv ?? [];
  const wrappers: string[] = [];
  while (argv.length > 0 && WRAPPERS.has(posix.basename(argv[0]!))) {
    wrappers.push(argv[0]!);
    let i = 1;
    while (i < argv.length && argv[i]!.startsWith('-') && argv[i] !== '--') i++;
    if (argv[i] === '--') i++;
    argv = argv.slice(i);
  }
  // An entrypoint script that ends by running its arguments (`exec "$@"`, the docker-entrypoint.sh
  // pattern) wraps CMD's program: the program is CMD's, and the script's own commands are checked
  // one by one against the final stage (step 5c).
  const scriptWrappers: string[] = [];
  while (argv.length > 1) {
    const first = root.which(argv[0]!, env, workdir);
    if (!first || (await root.elf(first))) break;
    const shebang = root.shebang(first) ?? [];
    const text = root.readText(first) ?? '';
    if (!/^(\/usr)?\/bin\/(ba|da)?sh$/.test(shebang[0] ?? '') || !/^\s*exec\s+"\$(@|\{@\})"\s*$/m.test(text))
      break;
    scriptWrappers.push(first);
    wrappers.push(argv[0]!);
    argv = argv.slice(1);
  }
  const program = argv.length > 0 ? root.which(argv[0]!, env, workdir) : undefined;
  if (parsed && argv.length > 0 && !program) {
    ctx.missing.push(`CMD runs ${argv[0]}, which is not an executable file in the built image`);
  }
  let kind: ProgramKind = 'dynamic-binary';
  let predictedStatic = false;
  let interpreter: string | undefined;
  let script: string | undefined;
  if (program) {
    const elf = await root.elf(program);
    const name = posix.basename(root.realPath(program));
    if (elf && /^node(js)?$/.test(name)) {
      kind = 'node';
      interpreter = program;
      script = argv.slice(1).find((a) => !a.startsWith('-'));
    } else if (elf && /^python[0-9.]*$/.test(name)) {
      kind = 'python';
      interpreter = program;
      const m = argv.indexOf('-m');
      script = m > 0 ? undefined : argv.slice(1).find((a) => !a.startsWith('-'));
    } else if (elf) {
      kind = elf.isStatic ? 'static-binary' : 'dynamic-binary';
      if (!elf.isStatic && goStaticCandidate(elf)) {
        const step = producingRun(stage, facts.changes.get(root.realPath(program))?.createdBy);
        if (step) {
          kind = 'static-binary';
          predictedStatic = true;
          ctx.builderInserts.set(step.range.line, {
            comment: [
              `${program} is a Go binary that uses cgo only in the standard library (${elf.cgoPackages!.join(', ') || 'no package'}: DNS and user lookups) and links only libc: without cgo Go uses its own resolvers and links statically, so the final stage needs no libc.`,
            ],
            text: 'ENV CGO_ENABLED=0',
          });
          ctx.decisions.push(
            `${program} is a Go binary whose only cgo calls are the standard library's (${elf.cgoPackages!.join(', ') || 'none'}), linking nothing but libc: built with CGO_ENABLED=0 it is static (line ${step.range.line})`,
          );
        }
      }
      if (elf.interpreter && !/ld-linux|ld64\.so/.test(elf.interpreter)) {
        ctx.missing.push(
          `${program} is linked against ${elf.interpreter}, not glibc: strata only picks Debian-based final stages for dynamic binaries`,
        );
      }
      if (!predictedStatic)
        ctx.decisions.push(
          elf.isStatic
            ? `${program} is a statically linked ELF binary${elf.isGo ? ' (Go)' : ''}: it needs no libc or shared libraries`
            : `${program} is a dynamically linked ELF binary (interpreter ${elf.interpreter}, needs ${elf.needed.join(', ') || 'nothing else'})`,
        );
    } else {
      const shebang = root.shebang(program);
      let words = shebang ?? [];
      if (words[0] && posix.basename(words[0]) === 'env')
        words = words.slice(1).filter((w) => !w.startsWith('-'));
      const interp = words[0] ? root.which(words[0], env, '/') : undefined;
      const interpName = interp ? posix.basename(root.realPath(interp)) : '';
      if (interp && /^node(js)?$/.test(interpName)) {
        kind = 'node';
        interpreter = interp;
        script = program;
      } else if (interp && /^python[0-9.]*$/.test(interpName)) {
        kind = 'python';
        interpreter = interp;
        script = program;
      } else {
        const calls =
          shebang && interp && /^(ba|da|z|k)?sh$/.test(interpName) ? scriptCalls(ctx, program) : '';
        ctx.missing.push(
          shebang
            ? `CMD runs ${program}, a script for ${shebang.join(' ')}${calls ? `${calls} (as far as its text shows)` : ''}: strata does not prove what a shell script runs (variables, functions, sourced files), so it cannot prove the final stage has it`
            : `CMD runs ${program}, which is neither an ELF binary nor a script strata can read`,
        );
      }
    }
    if (interpreter) {
      ctx.decisions.push(
        `CMD runs ${kind === 'node' ? 'Node.js' : 'Python'} (${interpreter}${script ? ` with ${script}` : ''})`,
      );
    }
  }

  // Where the program comes from: a build step, a Debian package a step installed, or the base image.
  const programReal = program ? root.realPath(program) : undefined;
  const programFromBase = programReal !== undefined && !facts.changes.has(programReal);
  const programPackages = programReal && !programFromBase ? [...(db?.owners(programReal) ?? [])] : [];
  const programBuilt = programReal !== undefined && !programFromBase && programPackages.length === 0;

  // 2. The final base.
  let finalBase: string;
  let finalBaseReason: string;
  const distroSlim = slimDistroImage(os);
  const explicit = explicitAptPackages(stage, db);
  const runtimePackages = explicit.filter((p) => !isBuildPackage(p) && !/^lib.*/.test(p));
  // A shell-form CMD of plain words runs the same argv without a shell: on scratch it is written
  // in exec form instead (a static binary then needs no /bin/sh).
  const shellNeeded = parsed?.shell === true && !parsed.plain;
  if (
    kind === 'static-binary' &&
    runtimePackages.filter((p) => p !== 'ca-certificates' && p !== 'tzdata').length === 0 &&
    !shellNeeded &&
    wrappers.length === 0
  ) {
    finalBase = 'scratch';
    finalBaseReason = 'a static binary needs no operating system: the final stage starts empty';
  } else if ((kind === 'static-binary' || kind === 'dynamic-binary') && programFromBase) {
    finalBase = base?.text ?? 'scratch';
    finalBaseReason = `${program} comes from ${base?.text} itself, not from a step of the Dockerfile: the final stage keeps that image and leaves behind what the steps added only for the build`;
  } else if (kind === 'static-binary' || kind === 'dynamic-binary') {
    if (!distroSlim) {
      ctx.missing.push(
        `the builder is not Debian or Ubuntu (os-release ${os?.id ?? 'missing'}): strata knows no slim base with the same C library`,
      );
    }
    finalBase = distroSlim ?? 'debian:stable-slim';
    finalBaseReason =
      kind === 'static-binary'
        ? `the static binary runs with ${shellNeeded ? 'a shell (CMD is in shell form)' : wrappers.length > 0 ? `a wrapper around CMD (${wrappers.join(', ')})` : `packages the Dockerfile installed (${runtimePackages.join(', ')})`}: the smallest image of the builder's release (${os?.id} ${os?.codename ?? os?.versionId ?? ''})`
        : `the binary needs glibc and shared libraries: the smallest image of the builder's release (${os?.id} ${os?.codename ?? os?.versionId ?? ''}), so the libraries' versions match the ones it was linked against`;
    if (programPackages.length > 0) {
      for (const pkg of programPackages) ctx.apt.set(pkg, `provides ${program}, the program CMD runs`);
    }
  } else {
    const variant = base ? slimVariantOf(base.ref) : undefined;
    const interpreterChanged = interpreter ? facts.changes.has(root.realPath(interpreter)) : false;
    if (variant && !interpreterChanged) {
      finalBase = variant.name;
      finalBaseReason = variant.already
        ? `${base!.text} is already the slim variant: the final stage uses it too`
        : `the -slim variant of ${base!.text}: the same ${kind === 'node' ? 'Node.js' : 'Python'} without compilers and headers`;
    } else if (interpreter && db?.owned(root.realPath(interpreter)) && distroSlim) {
      finalBase = distroSlim;
      finalBaseReason = `${interpreter} is Debian's (package ${db.owners(root.realPath(interpreter)).join(', ')}): the smallest image of the same release, with that package installed`;
      for (const pkg of db.owners(root.realPath(interpreter)))
        ctx.apt.set(pkg, `the interpreter ${interpreter}`);
      if (kind === 'python') {
        const stdlib = `/usr/lib/${posix.basename(root.realPath(interpreter))}`;
        for (const entry of root.list(stdlib).slice(0, 200)) {
          for (const pkg of db.owners(posix.join(stdlib, entry)))
            ctx.apt.set(pkg, `Python's standard library (${stdlib})`);
        }
      }
    } else {
      finalBase = base?.text ?? 'scratch';
      finalBaseReason = `${interpreter ?? 'the interpreter'} comes from ${base?.text}, and strata knows no slimmer image that has it: the final stage keeps that image and leaves behind what the steps added only for the build`;
    }
  }
  ctx.decisions.push(`final stage FROM ${finalBase}: ${finalBaseReason}`);
  let execForm: SlimPlan['execForm'];
  if (finalBase === 'scratch' && parsed?.shell) {
    const shellStep = [...stage.steps]
      .reverse()
      .find((s) => (s.kind === 'cmd' || s.kind === 'entrypoint') && s.command.form === 'shell');
    if (shellStep) {
      const line = shellStep.instruction.range.line;
      execForm = {
        line,
        args: [...parsed.argv],
        why: `line ${line} is in shell form, and scratch has no /bin/sh; its command is plain words (no quotes, variables or globs), so the exec form runs exactly what \`/bin/sh -c\` ran`,
      };
      ctx.decisions.push(`${shellStep.kind.toUpperCase()} ${execForm.why}`);
    }
  }
  const finalRoot = finalBase === 'scratch' ? undefined : await facts.openImage(finalBase);
  const finalDb = finalRoot ? DpkgDatabase.read(finalRoot) : undefined;
  const debianFinal = finalBase !== 'scratch' && (finalDb !== undefined || !finalRoot);
  if (finalBase !== 'scratch') {
    ctx.decisions.push(
      finalRoot
        ? `${finalBase} is in the local store: its files were checked`
        : `${finalBase} is not in the local store: the build pulls it; its contents are assumed from its name`,
    );
  }

  // 3. The interpreter must be where the program expects it (through a venv's symlinks, at the
  // path they lead to in the builder).
  if (interpreter && finalRoot) {
    const target = root.realPath(interpreter);
    if (!finalRoot.isFile(target)) {
      ctx.missing.push(
        `${finalBase} has no ${target}, the interpreter the program runs with (${interpreter})`,
      );
    }
  }
  if (baseEntrypoint) {
    const sameFamily = finalBase !== 'scratch' && (kind === 'node' || kind === 'python' || programFromBase);
    const has = finalRoot ? finalRoot.which(baseEntrypoint[0]!, env, workdir) !== undefined : sameFamily;
    if (sameFamily && has) {
      ctx.decisions.push(
        `ENTRYPOINT ${JSON.stringify(baseEntrypoint)} comes from ${stage.from.image}; ${finalBase} ${finalRoot ? 'has it too (checked)' : 'is the same family and sets it too'}, so the final stage inherits it`,
      );
    } else {
      ctx.missing.push(
        `the ENTRYPOINT ${JSON.stringify(baseEntrypoint)} comes from ${stage.from.image}, and ${finalBase} ${finalBase === 'scratch' ? 'cannot run it' : 'may not have it'}`,
      );
    }
  }

  // 4. What to copy.
  const appRoots = applicationRoots(stage, workdir, facts.changes);
  if (kind === 'node' || kind === 'python' || !programBuilt) {
    for (const dir of appRoots)
      copy(
        ctx,
        dir,
        'the application (what COPY/ADD and WORKDIR put there, and what the build wrote into it)',
      );
  }
  if (program && kind !== 'node' && kind !== 'python' && programBuilt) {
    copy(ctx, root.realPath(program) === program ? program : program, 'the program CMD runs');
    if (root.lstat(program)?.isSymbolicLink()) copy(ctx, root.realPath(program), `${program} links to it`);
    for (const dir of appRoots) {
      for (const entry of root.list(dir)) {
        const path = posix.join(dir, entry);
        if (SOURCE_FILE.test(entry) || BUILD_DIRS.has(entry) || copied(ctx, path)) continue;
        const st = root.lstat(path);
        if (st?.isDirectory() && allSources(root, path)) continue;
        if (path === program) continue;
        if (st?.isFile() && sameContent(root, path, root.realPath(program))) {
          ctx.decisions.push(
            `${path} is the same file as ${program} (the build made it, an install step copied it): not copied twice`,
          );
          continue;
        }
        copy(ctx, path, `not source code: the program may read it at run time`);
      }
    }
  }
  if (program && (kind === 'static-binary' || kind === 'dynamic-binary')) {
    const elf = await root.elf(program);
    const strip = root.which('strip', env, '/');
    if (elf?.hasSymbols && programBuilt && strip) {
      ctx.builderSteps.push({
        comment: [
          `${program} carries its symbol table and debug information, which only debuggers read: strip them (what go build -ldflags="-s -w" or gcc -s would have left out). Delete this step to keep them.`,
        ],
        text: `RUN ${posix.basename(strip)} --strip-unneeded ${root.realPath(program)}`,
      });
      ctx.decisions.push(
        `${program} is stripped in the builder (${strip} is there): its symbols and DWARF data stay behind`,
      );
    } else if (elf?.hasSymbols) {
      ctx.decisions.push(`${program} keeps its symbols: the builder has no strip`);
    }
  }
  if (script && facts.changes.has(script) && !db?.owned(script)) copy(ctx, script, 'the script CMD runs');
  if (kind === 'python') pythonPackages(ctx);
  if (kind === 'node') nodeGlobals(ctx, program, nodeCommandsRun(ctx, argv, appRoots));
  for (const w of wrappers) {
    const path = root.which(w, env, workdir);
    if (path && !db?.owned(root.realPath(path)))
      copy(
        ctx,
        path,
        scriptWrappers.includes(path)
          ? 'the entrypoint script, which runs CMD with exec "$@"'
          : 'the init wrapper CMD runs',
      );
  }
  if (kind === 'node') nodeProduction(ctx, appRoots);

  // 5. Packages the Dockerfile installed: build tools stay behind, the rest is installed again.
  if (db) {
    for (const name of explicit) {
      if (isBuildPackage(name)) {
        ctx.decisions.push(`apt package ${name}: a build tool or headers, left in the builder`);
      } else if (/^lib/.test(name)) {
        // Libraries: kept only if something the program loads needs them (step 6).
      } else if (finalBase === 'scratch') {
        if (name === 'ca-certificates') {
          // The certificate bundle is copied below.
        } else if (name === 'tzdata') copy(ctx, '/usr/share/zoneinfo', 'time zone data (apt package tzdata)');
      } else if (!finalDb?.packages.has(name)) {
        ctx.apt.set(name, 'the Dockerfile installs it and the program may run it');
      }
    }
  }

  // 6. Shared libraries: of the program, and of every compiled module the copies carry.
  const objects: string[] = [];
  // 5b. What HEALTHCHECK runs must be in the final stage too (curl on a slim base is a classic).
  const health = [...facts.dockerfile.stages[0]!.instructions]
    .reverse()
    .find((i) => i.kind === 'healthcheck');
  if (health?.kind === 'healthcheck' && health.test.type === 'cmd') {
    const cmd = health.test.command;
    if (cmd.form === 'shell' && finalBase === 'scratch') {
      ctx.missing.push(
        `HEALTHCHECK at line ${health.range.line} runs a shell command, and scratch has no shell`,
      );
    }
    const commands = cmd.form === 'exec' ? [cmd.args] : simpleCommands(cmd.text);
    for (const c of commands) {
      const name = c[0];
      if (!name || SHELL_BUILTINS.has(name)) continue;
      const path = root.which(name, env, workdir);
      if (!path) {
        ctx.decisions.push(`warning: HEALTHCHECK runs ${name}, which the built image does not have either`);
        continue;
      }
      const real = root.realPath(path);
      if (copied(ctx, real) || copied(ctx, path) || finalRoot?.which(name, env, workdir)) continue;
      const owner = db?.owners(real)[0];
      if (owner && debianFinal && finalBase !== 'scratch') {
        if (!finalRoot && db?.isInMinbase(owner)) continue;
        ctx.apt.set(owner, `HEALTHCHECK runs ${name}`);
      } else if (facts.changes.has(real)) {
        copy(ctx, path, `HEALTHCHECK runs it`);
        objects.push(path);
      } else {
        ctx.missing.push(`HEALTHCHECK runs ${name} (${real}), and strata cannot put it in ${finalBase}`);
      }
    }
  }
  // 5c. What an entrypoint script calls: each command must be in the final stage.
  for (const script of scriptWrappers) {
    const text = (root.readText(script) ?? '').replace(/^#!.*\n/, '');
    const shell = root.shebang(script)?.[0];
    const commands = [...(shell ? [[shell]] : []), ...simpleCommands(text)];
    const unknown: string[] = [];
    for (const words of commands) {
      const name = words.find((x) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(x));
      if (!name || SHELL_WORDS.has(name) || /^[-0-9]/.test(name)) continue;
      if (/^"?\$(@|\{@\})"?$/.test(name)) continue; // CMD, decided above
      if (name.includes('$')) {
        unknown.push(`${name} (a command named by a variable)`);
        continue;
      }
      const path = root.which(name, env, workdir);
      if (!path) {
        unknown.push(`${name} (not in the image)`);
        continue;
      }
      const real = root.realPath(path);
      if (copied(ctx, real) || copied(ctx, path)) continue;
      if (finalRoot && (finalRoot.which(name, env, workdir) || finalRoot.isFile(real))) continue;
      const owner = db?.owners(real)[0];
      if (owner && debianFinal && finalBase !== 'scratch') {
        if (!finalRoot && db?.isInMinbase(owner)) continue;
        if (!ctx.apt.has(owner)) ctx.apt.set(owner, `${script} calls ${name}`);
      } else if (facts.changes.has(real)) {
        copy(ctx, path, `${script} calls it`);
        objects.push(path);
      } else {
        unknown.push(`${name} (${real}, from ${stage.from.image}, which ${finalBase} may lack)`);
      }
    }
    if (unknown.length > 0)
      ctx.missing.push(
        `the entrypoint script ${script} calls ${unknown.join(', ')}: strata cannot put it in the final stage`,
      );
    else
      ctx.decisions.push(
        `${script} is an entrypoint script that ends with exec "$@": the program is CMD's, and every command the script calls is in the final stage`,
      );
  }
  if (program && kind === 'dynamic-binary' && programBuilt) objects.push(program);
  for (const w of wrappers) {
    const path = root.which(w, env, workdir);
    if (path) objects.push(path);
  }
  for (const [path, change] of facts.changes) {
    if (change.type !== 'file' || !copied(ctx, path) || objects.includes(path)) continue;
    if (program && path === root.realPath(program)) continue; // decided above
    if (/\.so(\.[0-9.]+)?$|\.node$/.test(path) || (path.includes('/bin/') && (await root.elf(path))))
      objects.push(path);
  }
  await libraries(ctx, objects, { finalRoot, finalBase, debianFinal });

  // 7. scratch needs what a libc-less program still reads from /etc.
  let addedUser: SlimPlan['addedUser'];
  if (finalBase === 'scratch') {
    if (root.isFile('/etc/ssl/certs/ca-certificates.crt')) {
      copy(
        ctx,
        '/etc/ssl/certs/ca-certificates.crt',
        'CA certificates, for TLS connections (scratch has none)',
      );
    } else {
      ctx.decisions.push(
        'the builder has no /etc/ssl/certs/ca-certificates.crt: the final stage has no CA certificates',
      );
    }
    if (root.isFile('/etc/passwd')) {
      copy(ctx, '/etc/passwd', "user names (scratch has none): the builder's /etc/passwd");
      if (root.isFile('/etc/group')) copy(ctx, '/etc/group', "group names: the builder's /etc/group");
    }
    const hasUser = stage.steps.some((s) => s.kind === 'user');
    const lowPorts = Object.keys(facts.config.ExposedPorts ?? {}).filter(
      (p) => Number.parseInt(p, 10) < 1024,
    );
    if (!hasUser && lowPorts.length === 0) {
      addedUser = {
        user: '65534:65534',
        why: 'runs as nobody (65534), not root: nothing in scratch needs root, and the single-stage image set no USER',
      };
    } else if (!hasUser) {
      ctx.decisions.push(`stays root: the image exposes ${lowPorts.join(', ')}, below 1024`);
    }
  }

  // 7b. A program CMD names without a path must be found on the final stage's PATH. The builder's
  // PATH may come from its base image (golang's /go/bin), which the final stage does not inherit.
  let addedPath: SlimPlan['addedPath'];
  const pathSet = stage.steps.some((s) => s.kind === 'env' && s.pairs.some((p) => p.name === 'PATH'));
  if (program && argv[0] && !argv[0].includes('/') && !pathSet) {
    const dir = posix.dirname(program);
    const finalPath = DEFAULT_PATH.split(':');
    if (!finalPath.includes(dir)) {
      addedPath = {
        value: [dir, ...finalPath].join(':'),
        why: `CMD runs ${argv[0]} from ${dir}, which is on the builder's PATH (from ${stage.from.image}) but not on the default PATH the final stage has`,
      };
      ctx.decisions.push(addedPath.why);
    }
  }

  // 8. The image's user.
  let createUser: string | undefined;
  const user = (facts.config.User ?? '').split(':')[0] ?? '';
  if (user && !/^\d+$/.test(user) && finalBase !== 'scratch') {
    const entry = passwdEntry(root, user);
    const inFinal = finalRoot ? passwdEntry(finalRoot, user) !== undefined : false;
    if (entry && !inFinal && (facts.changes.has('/etc/passwd') || finalRoot)) {
      const group = groupName(root, entry.gid) ?? user;
      createUser = `RUN (getent group ${group} >/dev/null || groupadd --system --gid ${entry.gid} ${group}) && useradd --system --no-create-home --uid ${entry.uid} --gid ${entry.gid} --home-dir ${entry.home} --shell ${entry.shell} ${user}`;
      ctx.decisions.push(
        `user ${user} (${entry.uid}:${entry.gid}) is not in ${finalBase}: the final stage creates it`,
      );
      if (facts.changes.has(entry.home) && !copied(ctx, entry.home) && entry.home !== '/') {
        copy(ctx, entry.home, `the home directory of ${user}`);
      }
    } else if (!entry) {
      ctx.missing.push(`USER ${user} is not in the built image's /etc/passwd`);
    }
  }

  // 9. Cache mounts where the lint recommends them, unless they would hide what is copied.
  const cacheMounts = new Map<number, string[]>();
  let runWorkdir = '/';
  let runUser = 'root';
  for (const step of stage.steps) {
    if (step.kind === 'workdir') runWorkdir = posix.resolve(runWorkdir, step.path);
    if (step.kind === 'user') runUser = step.user.split(':')[0] || 'root';
    if (step.kind !== 'run' || step.mounts.some((m) => m.type === 'cache')) continue;
    const instruction = step.instruction as RunInstruction;
    const script = step.command.form === 'shell' ? step.command.text : step.command.args.join(' ');
    const commands = simpleCommands([script, ...step.heredocs.map((h) => h.content)].join('\n'));
    const targets: string[] = [];
    for (const c of commands) {
      const tool = cachedTool(c);
      if (!tool) continue;
      for (const lintTarget of tool.mounts) {
        const t = cacheTargetHere(lintTarget, { root, env, workdir: runWorkdir, user: runUser });
        if (targets.includes(t)) continue;
        if (ctx.copies.some((c) => under(c.path, t) || under(t, c.path))) {
          ctx.decisions.push(
            `no cache mount on ${t} at line ${instruction.range.line}: the final stage copies from there`,
          );
          continue;
        }
        targets.push(t);
      }
    }
    if (targets.length > 0) cacheMounts.set(instruction.range.line, targets);
  }
  // The prune steps read their tool's cache: the same cache mount as the install, when it has one.
  for (const [i, step] of ctx.builderSteps.entries()) {
    if (!step.cacheOf) continue;
    const t = cacheTargetHere(step.cacheOf, { root, env, workdir, user: 'root' }); // they run as root
    const mounted =
      [...cacheMounts.values()].some((ts) => ts.includes(t)) ||
      stage.steps.some((s) => s.kind === 'run' && s.mounts.some((m) => m.type === 'cache' && m.target === t));
    if (mounted)
      ctx.builderSteps[i] = { ...step, text: step.text.replace(/^RUN /, `RUN ${cacheMountFlag(t)} `) };
  }
  if (cacheMounts.size > 0) {
    ctx.decisions.push(
      `cache mounts added to ${[...cacheMounts.keys()].map((l) => `line ${l}`).join(', ')}, as strata lint recommends (no-cache-mount)`,
    );
  }

  // 10. What stays behind, and what nobody can account for.
  const leftBehind = summarizeLeftBehind(ctx);
  const unexplained: ChangedPath[] = [];
  for (const [path, change] of facts.changes) {
    if (change.type === 'directory' || copied(ctx, path) || isBuildOnlyPath(path)) continue;
    if (db?.owned(path)) continue;
    if (appRoots.some((d) => under(path, d))) continue;
    if (/\/(site|dist)-packages\/|\/node_modules\//.test(path)) continue;
    if (/\.pyc$|__pycache__/.test(path)) continue;
    if (
      path === '/etc/passwd' ||
      path === '/etc/group' ||
      path === '/etc/shadow' ||
      path === '/etc/gshadow' ||
      // useradd/groupadd's other files: backups, the lock, subordinate ids (user namespaces only).
      /^\/etc\/((passwd|group|shadow|gshadow|subuid|subgid)-|subuid|subgid|\.pwd\.lock)$/.test(path)
    )
      continue;
    if (path.startsWith('/etc/ssl/certs/') || path.startsWith('/usr/local/share/ca-certificates/')) continue;
    if (path.startsWith('/etc/alternatives/') || path.startsWith('/etc/skel/')) continue;
    // useradd -m copies /etc/skel into the new home: shell start-up files nothing else reads.
    if (/^\/(home\/[^/]+|root)\/\.(bashrc|profile|bash_logout)$/.test(path)) continue;
    if (change.type === 'symlink') {
      const target = root.realPath(path);
      if (
        target.startsWith('/etc/alternatives/') ||
        // The command of a package left behind (a global npm package only the build ran).
        /\/node_modules\/|\/(site|dist)-packages\//.test(target) ||
        db?.owned(target) ||
        copied(ctx, target) ||
        !root.exists(path)
      )
        continue;
    }
    // What a package's maintainer scripts generate (/etc/papersize, /var/lib/ucf, caches) is
    // written by the step that ran apt-get install, under the system's directories.
    if (
      change.createdBy !== undefined &&
      /\bapt(-get)?\s+(-\S+\s+)*install\b|\bdpkg\s+-i\b/.test(change.createdBy) &&
      /^\/(etc|var|usr\/share|usr\/lib)\//.test(path)
    )
      continue;
    unexplained.push(change);
  }
  // Files a step wrote outside the application, the packages and the known caches: the program
  // may read them, so they are kept — unless they are many megabytes, which is a build's output
  // more likely than a program's data, and strata will not guess which.
  const unexplainedBytes = unexplained.reduce((n, c) => n + c.size, 0);
  const step = (c: ChangedPath) =>
    c.createdBy ? `\`${c.createdBy.replace(/^RUN \/bin\/sh -c /, 'RUN ').slice(0, 80)}\`` : 'a step';
  if (unexplained.length > 0 && unexplainedBytes <= UNEXPLAINED_LIMIT) {
    for (const c of unexplained)
      copy(
        ctx,
        c.path,
        `written by ${step(c)}, outside the application and the known caches: the program may read it`,
      );
    ctx.decisions.push(
      `${unexplained.length} file(s) a step wrote outside the application (${unexplained
        .slice(0, 3)
        .map((c) => c.path)
        .join(', ')}${unexplained.length > 3 ? ', …' : ''}) are kept: the program may read them`,
    );
  } else if (unexplained.length > 0) {
    const shown = unexplained
      .sort((a, b) => b.size - a.size)
      .slice(0, 5)
      .map((c) => `${c.path} (${step(c)})`);
    ctx.missing.push(
      `steps wrote ${unexplained.length} file(s), ${(unexplainedBytes / 1e6).toFixed(1)} MB, outside the application, the packages and the known caches, e.g. ${shown.join(', ')}: strata cannot tell which of them the program reads`,
    );
  }

  const kept = stage.steps.map((s) => s.instruction).filter((i) => KEPT_KINDS.has(i.kind));
  return {
    kind,
    program: program ?? argv[0] ?? '',
    builderName,
    finalBase,
    finalBaseReason,
    finalBaseChecked: finalRoot !== undefined,
    cacheMounts,
    ...(baseEntrypoint ? { inheritedEntrypoint: baseEntrypoint } : {}),
    collect:
      db?.packages.has('coreutils') === true &&
      (ctx.copies.length > 6 || ctx.copies.some((c) => root.lstat(c.path)?.isSymbolicLink())),
    builderSteps: ctx.builderSteps,
    builderInserts: ctx.builderInserts,
    copies: ctx.copies,
    aptPackages: ctx.apt,
    ...(createUser ? { createUser } : {}),
    ...(addedUser ? { addedUser } : {}),
    ...(execForm ? { execForm } : {}),
    ...(addedPath ? { addedPath } : {}),
    decisions: ctx.decisions,
    leftBehind,
    missing: ctx.missing,
    kept,
  };
}

/**
 * Where a tool keeps its cache in this image, for the target `strata lint` names after the
 * official images' defaults: the same variables and defaults the tools read (GOCACHE, GOMODCACHE
 * and GOPATH, npm_config_cache, PIP_CACHE_DIR, CARGO_HOME and CARGO_TARGET_DIR, YARN_CACHE_FOLDER),
 * the RUN's user's home and, for cargo's `target/`, the RUN's working directory.
 */
function cacheTargetHere(
  lintTarget: string,
  at: { root: ImageRoot; env: ReadonlyMap<string, string>; workdir: string; user: string },
): string {
  const { env } = at;
  const home =
    at.user === 'root' || at.user === '0'
      ? '/root'
      : ((/^\d+$/.test(at.user) ? undefined : passwdEntry(at.root, at.user)?.home) ?? '/root');
  const fromHome = (rest: string) => posix.join(env.get('HOME') || home, rest);
  switch (lintTarget) {
    case '/root/.cache/go-build':
      return env.get('GOCACHE') || fromHome('.cache/go-build');
    case '/go/pkg/mod':
      return (
        env.get('GOMODCACHE') ||
        posix.join((env.get('GOPATH') ?? '').split(':')[0] || fromHome('go'), 'pkg/mod')
      );
    case '/root/.npm':
      return env.get('npm_config_cache') || env.get('NPM_CONFIG_CACHE') || fromHome('.npm');
    case '/root/.cache/pip':
      return env.get('PIP_CACHE_DIR') || fromHome('.cache/pip');
    case '/usr/local/share/.cache/yarn':
      return env.get('YARN_CACHE_FOLDER') || (home === '/root' ? lintTarget : fromHome('.cache/yarn'));
    case '/root/.local/share/pnpm/store':
      return fromHome('.local/share/pnpm/store');
    case '/usr/local/cargo/registry':
      return posix.join(env.get('CARGO_HOME') || fromHome('.cargo'), 'registry');
    case '/app/target':
      return posix.resolve(at.workdir, env.get('CARGO_TARGET_DIR') || 'target');
    default:
      return lintTarget;
  }
}

/** The PATH a container gets when its image sets none (moby's oci.DefaultPathEnv for Linux). */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const LIBC = /^(libc|libpthread|libdl|librt|libm|libresolv)\.so\.\d+$/;
const GO_STD_CGO = new Set(['net', 'os/user', 'runtime/cgo', 'plugin', 'crypto/x509']);

/** A dynamic Go binary that would link statically without cgo: libc only, cgo only in the standard library. */
function goStaticCandidate(elf: ElfInfo): boolean {
  return (
    elf.isGo &&
    elf.cgoPackages !== undefined &&
    elf.cgoPackages.every((p) => GO_STD_CGO.has(p)) &&
    elf.needed.every((n) => LIBC.test(n))
  );
}

/** The RUN instruction whose layer made a file (its history `created_by` carries the command). */
function producingRun(stage: Stage, createdBy: string | undefined): RunInstruction | undefined {
  if (!createdBy) return undefined;
  const runs = stage.steps.filter((s) => s.kind === 'run');
  for (const step of [...runs].reverse()) {
    const text = step.command.form === 'shell' ? step.command.text : step.command.args.join(' ');
    if (text.length > 0 && createdBy.includes(text.trim().slice(0, 60)))
      return step.instruction as RunInstruction;
  }
  return undefined;
}

/** Whether two regular files of the image have the same bytes. */
function sameContent(root: ImageRoot, a: string, b: string): boolean {
  const sa = root.stat(a);
  const sb = root.stat(b);
  if (!sa?.isFile() || !sb?.isFile() || sa.size !== sb.size) return false;
  return readFileSync(root.hostPath(a)).equals(readFileSync(root.hostPath(b)));
}

function allSources(root: ImageRoot, dir: string, depth = 0): boolean {
  if (depth > 6) return false;
  for (const entry of root.list(dir)) {
    const path = posix.join(dir, entry);
    const st = root.lstat(path);
    if (st?.isDirectory()) {
      if (!BUILD_DIRS.has(entry) && !allSources(root, path, depth + 1)) return false;
    } else if (!SOURCE_FILE.test(entry)) return false;
  }
  return true;
}

/** Where the application lives: WORKDIR and the destinations of COPY/ADD from the context. */
function applicationRoots(
  stage: Stage,
  finalWorkdir: string,
  changes: ReadonlyMap<string, ChangedPath>,
): string[] {
  const roots = new Set<string>();
  let workdir = '/';
  for (const step of stage.steps) {
    if (step.kind === 'workdir') workdir = posix.resolve(workdir, step.path);
    if ((step.kind === 'copy' && step.from.kind === 'context') || step.kind === 'add') {
      const dest = posix.resolve(workdir, step.dest);
      const isDir =
        step.dest.endsWith('/') ||
        step.sources.length > 1 ||
        step.dest === '.' ||
        changes.get(dest)?.type === 'directory';
      const dir = isDir ? dest : posix.dirname(dest);
      if (SYSTEM_DIRS.has(dir)) {
        if (!isDir && !SYSTEM_DIRS.has(dest)) roots.add(dest);
        else for (const s of step.sources) roots.add(posix.join(dest, posix.basename(s)));
      } else roots.add(dir);
    }
  }
  if (finalWorkdir !== '/' && !SYSTEM_DIRS.has(finalWorkdir) && changes.has(finalWorkdir))
    roots.add(finalWorkdir);
  const list = [...roots].filter(
    (r) => changes.has(r) || [...changes.keys()].some((p) => p.startsWith(`${r}/`)),
  );
  return list.filter((r) => !list.some((o) => o !== r && under(r, o))).sort();
}

const SHELL_WORDS = new Set([
  ...SHELL_BUILTINS,
  'if',
  'then',
  'else',
  'elif',
  'fi',
  'for',
  'while',
  'until',
  'do',
  'done',
  'case',
  'esac',
  'in',
  '{',
  '}',
  '!',
  'shift',
  'trap',
  'wait',
  'umask',
  'ulimit',
  'unset',
  'local',
  'source',
  '.',
  'eval',
  'getopts',
  'break',
  'continue',
]);

/**
 * What a shell script calls, as far as its text shows, with where each command comes from: the
 * facts a reader needs to write the final stage by hand (" that calls jq (apt package jq, which a
 * step installed), ./server (built by a step), $APP (a command named by a variable)").
 */
function scriptCalls(ctx: Context, script: string): string {
  const text = ctx.root.readText(script);
  if (text === undefined) return '';
  const described = new Map<string, string>();
  for (const words of simpleCommands(text.replace(/^#!.*\n/, ''))) {
    const w = words.find((x) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(x));
    if (!w || SHELL_WORDS.has(w) || described.has(w) || /^[-0-9]/.test(w)) continue;
    if (w.includes('$')) {
      described.set(w, 'a command named by a variable');
      continue;
    }
    const path = ctx.root.which(w, ctx.env, ctx.workdir);
    if (!path) {
      described.set(w, 'not in the image');
      continue;
    }
    const real = ctx.root.realPath(path);
    const owner = ctx.db?.owners(real)[0];
    const byStep = ctx.facts.changes.has(real);
    described.set(
      w,
      owner
        ? `apt package ${owner}${byStep ? ', which a step installed' : ', from the base image'}`
        : byStep
          ? 'written by a step'
          : 'from the base image',
    );
  }
  if (described.size === 0) return '';
  const list = [...described].slice(0, 12).map(([w, d]) => `${w} (${d})`);
  return ` that calls ${list.join(', ')}${described.size > 12 ? ', …' : ''}`;
}

/** pip- or venv-installed packages and the scripts that start them. */
function pythonPackages(ctx: Context): void {
  const { facts, db, root } = ctx;
  const added = new Set<string>();
  for (const path of facts.changes.keys()) {
    const venv = /^(.*)\/pyvenv\.cfg$/.exec(path);
    if (venv) {
      copy(ctx, venv[1]!, 'a Python virtual environment the build made');
      continue;
    }
    const m = /^(.*\/(?:site|dist)-packages)\/([^/]+)/.exec(path);
    // Byte code that Debian's postinst compiled (py3compile) belongs to its package's files.
    if (!m || db?.owned(path) || /\/__pycache__(\/|$)|\.pyc$/.test(path)) continue;
    const entry = `${m[1]}/${m[2]}`;
    if (added.has(entry) || copied(ctx, entry)) continue;
    added.add(entry);
  }
  for (const entry of added) copy(ctx, entry, 'a Python package the build installed (pip)');
  for (const [path, change] of facts.changes) {
    if (!/\/bin\/[^/]+$/.test(path) || change.type === 'directory' || db?.owned(path) || copied(ctx, path))
      continue;
    const shebang = root.shebang(path);
    if (shebang?.some((w) => /python/.test(w))) copy(ctx, path, 'a script pip installed for a package');
  }
  if (added.size > 0)
    ctx.decisions.push(
      `${added.size} Python package entries the build installed are copied; compilers and headers stay in the builder`,
    );
}

/**
 * The commands a Node program's start runs: CMD's program, what HEALTHCHECK runs, and — when CMD is
 * `npm start`, `yarn run x`, `pnpm x` … — the commands of those package.json scripts (with their
 * pre/post scripts and the `npm run` they call in turn).
 */
function nodeCommandsRun(ctx: Context, argv: readonly string[], appRoots: readonly string[]): Set<string> {
  const names = new Set<string>();
  const health = ctx.facts.config.Healthcheck?.Test ?? [];
  const healthCommands =
    health[0] === 'CMD'
      ? [health.slice(1)]
      : health[0] === 'CMD-SHELL'
        ? simpleCommands(health[1] ?? '')
        : [];
  for (const c of [argv, ...healthCommands]) if (c[0]) names.add(posix.basename(c[0]));
  const scripts: Record<string, string> = {};
  for (const dir of [ctx.workdir, ...appRoots]) {
    const text = ctx.root.readText(posix.join(dir, 'package.json'));
    if (text === undefined) continue;
    try {
      Object.assign(scripts, (JSON.parse(text) as { scripts?: Record<string, string> }).scripts ?? {});
    } catch {
      // Not JSON: nodeProduction reports it; no scripts to follow here.
    }
    break;
  }
  const seen = new Set<string>();
  const follow = (words: readonly string[]) => {
    const tool = posix.basename(words[0] ?? '');
    if (!['npm', 'yarn', 'pnpm'].includes(tool)) return;
    let rest = words.slice(1).filter((w) => !w.startsWith('-'));
    if (rest[0] === 'run' || rest[0] === 'run-script') rest = rest.slice(1);
    const name = rest[0] ?? (tool === 'yarn' ? 'install' : '');
    for (const script of [`pre${name}`, name, `post${name}`]) {
      const body = scripts[script];
      if (body === undefined || seen.has(script)) continue;
      seen.add(script);
      for (const c of simpleCommands(body)) {
        if (c[0]) names.add(posix.basename(c[0]));
        follow(c);
      }
    }
  };
  follow(argv);
  return names;
}

/**
 * Packages installed with `npm install -g`, and their commands, that the program runs. A global
 * package is not on `require`'s path (unless NODE_PATH names it): it is used only through its
 * commands, so one whose commands nothing in CMD, HEALTHCHECK or the package.json scripts they
 * run calls (yarn and pnpm for the build, tsc) stays in the builder.
 */
function nodeGlobals(ctx: Context, program: string | undefined, commands: ReadonlySet<string>): void {
  const nodePath = (ctx.env.get('NODE_PATH') ?? '').split(':').filter(Boolean);
  const packages = new Map<string, { bins: string[]; binPaths: string[] }>();
  for (const [path] of ctx.facts.changes) {
    const m = /^(.*\/lib\/node_modules)\/((?:@[^/]+\/)?[^/]+)/.exec(path);
    if (m && !ctx.db?.owned(path) && !['npm', 'corepack'].includes(m[2]!) && !packages.has(`${m[1]}/${m[2]}`))
      packages.set(`${m[1]}/${m[2]}`, { bins: [], binPaths: [] });
  }
  for (const [path, change] of ctx.facts.changes) {
    if (!/\/bin\/[^/]+$/.test(path) || change.type !== 'symlink' || ctx.db?.owned(path)) continue;
    const target = ctx.root.realPath(path);
    for (const [dir, entry] of packages) {
      if (under(target, dir)) {
        entry.bins.push(posix.basename(path));
        entry.binPaths.push(path);
      }
    }
  }
  const programReal = program ? ctx.root.realPath(program) : undefined;
  for (const [dir, entry] of packages) {
    const name = dir.replace(/^.*\/node_modules\//, '');
    const runs = entry.bins.filter((b) => commands.has(b));
    const why =
      programReal && under(programReal, dir)
        ? 'CMD runs it'
        : runs.length > 0
          ? `CMD, HEALTHCHECK or a package.json script they run calls ${runs.join(', ')}`
          : nodePath.some((p) => under(dir, p))
            ? 'NODE_PATH makes it loadable'
            : undefined;
    if (!why) {
      ctx.decisions.push(
        `global npm package ${name}${entry.bins.length > 0 ? ` (${entry.bins.join(', ')})` : ''} stays in the builder: nothing CMD, HEALTHCHECK or the package.json scripts they run calls it`,
      );
      continue;
    }
    copy(ctx, dir, `a package installed with npm install -g: ${why}`);
    for (const bin of entry.binPaths) copy(ctx, bin, `the command of the global npm package ${name}`);
  }
}

/** Drops devDependencies in the builder when a package.json declares some and they are installed. */
function nodeProduction(ctx: Context, appRoots: readonly string[]): void {
  const { root, env } = ctx;
  for (const dir of appRoots) {
    const text = root.readText(posix.join(dir, 'package.json'));
    if (text === undefined || !root.isDirectory(posix.join(dir, 'node_modules'))) continue;
    let manifest: { devDependencies?: Record<string, string> };
    try {
      manifest = JSON.parse(text) as typeof manifest;
    } catch {
      ctx.missing.push(`${dir}/package.json is not valid JSON`);
      continue;
    }
    const dev = Object.keys(manifest.devDependencies ?? {}).filter((d) =>
      root.exists(posix.join(dir, 'node_modules', d)),
    );
    if (dev.length === 0) {
      ctx.decisions.push(`${dir}/node_modules has no devDependencies installed: copied as it is`);
      continue;
    }
    const shown = `${dev.slice(0, 4).join(', ')}${dev.length > 4 ? `, … (${dev.length})` : ''}`;
    const has = (tool: string) => root.which(tool, env, dir) !== undefined;
    let command: string | undefined;
    let why = '';
    if (root.isFile(posix.join(dir, 'pnpm-lock.yaml'))) {
      if (has('pnpm')) command = 'pnpm prune --prod';
      why = 'pnpm-lock.yaml';
    } else if (root.isFile(posix.join(dir, 'yarn.lock'))) {
      const berry = root.isFile(posix.join(dir, '.yarnrc.yml'));
      if (has('yarn') && !berry)
        command = 'yarn install --production --frozen-lockfile --ignore-scripts --prefer-offline';
      why = berry ? 'yarn.lock (Yarn Berry: no prune command without a plugin)' : 'yarn.lock';
    } else if (has('npm')) {
      command = npmMajor(root) >= 7 ? 'npm prune --omit=dev --no-audit --no-fund' : 'npm prune --production';
      why = root.isFile(posix.join(dir, 'package-lock.json')) ? 'package-lock.json' : 'package.json';
    }
    if (command) {
      ctx.builderSteps.push({
        comment: [
          `Production dependencies only: package.json lists devDependencies (${shown}) that the build needed and the program does not (${why}).`,
        ],
        text: `RUN cd ${dir} && ${command}`,
        cacheOf: command.startsWith('pnpm')
          ? '/root/.local/share/pnpm/store'
          : command.startsWith('yarn')
            ? '/usr/local/share/.cache/yarn'
            : '/root/.npm',
      });
      ctx.decisions.push(`devDependencies (${shown}) dropped in the builder with \`${command}\` (${why})`);
    } else {
      ctx.decisions.push(`devDependencies (${shown}) are kept: no prune command for ${why} in the builder`);
    }
  }
}

function npmMajor(root: ImageRoot): number {
  for (const dir of [
    '/usr/local/lib/node_modules/npm',
    '/usr/lib/node_modules/npm',
    '/usr/share/nodejs/npm',
  ]) {
    const text = root.readText(`${dir}/package.json`);
    if (text) {
      const version = (JSON.parse(text) as { version?: string }).version ?? '0';
      return Number.parseInt(version, 10);
    }
  }
  return 7;
}

/** Makes sure every library the objects load is in the final stage: from its base, apt, or a copy. */
async function libraries(
  ctx: Context,
  objects: readonly string[],
  final: { finalRoot: ImageRoot | undefined; finalBase: string; debianFinal: boolean },
): Promise<void> {
  const { root, env, db } = ctx;
  const seen = new Set<string>();
  const transitive = new Set<string>();
  for (const object of objects) {
    const closure = await libraryClosure(root, object, env);
    for (const m of closure.missing) {
      const message = `${m.neededBy} needs ${m.soname}, which is nowhere the loader looks in the built image`;
      if (object === objects[0] && m.neededBy === object) ctx.missing.push(message);
      else ctx.decisions.push(`warning: ${message}`);
    }
    if (closure.interpreter && final.finalBase === 'scratch') {
      copy(ctx, closure.interpreter, 'the dynamic loader');
    }
    for (const lib of closure.libraries) {
      if (seen.has(lib.realPath)) continue;
      seen.add(lib.realPath);
      if (copied(ctx, lib.realPath) || copied(ctx, lib.path)) continue;
      if (final.finalRoot?.isFile(lib.path)) continue; // the final base has it
      const owners = db?.owners(lib.realPath) ?? [];
      const owner = owners[0];
      if (owner && final.debianFinal && final.finalBase !== 'scratch') {
        if (!final.finalRoot && db?.isInMinbase(owner)) continue; // every Debian -slim image has it
        // A library another installed package's library needs: that package depends on it
        // (dpkg-shlibdeps wrote its Depends), so apt installs it without being named.
        const parent = db?.owners(root.realPath(lib.neededBy))[0];
        if (parent && parent !== owner && (ctx.apt.has(parent) || transitive.has(parent))) {
          transitive.add(owner);
          continue;
        }
        if (!ctx.apt.has(owner)) ctx.apt.set(owner, `provides ${lib.soname} (needed by ${lib.neededBy})`);
        continue;
      }
      if (
        !owner &&
        !ctx.facts.changes.has(lib.realPath) &&
        final.finalBase !== 'scratch' &&
        !final.finalRoot
      ) {
        // From the base image but no package: the same family's slim image is assumed to have it.
        const base = ctx.facts.graph.stages[0]?.base;
        if (base?.kind === 'image' && slimVariantOf(base.ref)) continue;
      }
      copy(ctx, lib.realPath, `${lib.soname}, needed by ${lib.neededBy}`);
      if (
        lib.path !== lib.realPath &&
        root.realPath(posix.dirname(lib.path)) + '/' + posix.basename(lib.path) !== lib.realPath
      ) {
        copy(
          ctx,
          `${root.realPath(posix.dirname(lib.path))}/${posix.basename(lib.path)}`,
          `the name ${lib.soname} is loaded by`,
        );
      }
    }
  }
  for (const pkg of transitive) ctx.apt.delete(pkg);
  if (transitive.size > 0)
    ctx.decisions.push(
      `library packages ${[...transitive].sort().join(', ')} come with the packages installed above, as their dependencies`,
    );
}

interface PasswdEntry {
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly shell: string;
}

function passwdEntry(root: ImageRoot, user: string): PasswdEntry | undefined {
  for (const line of (root.readText('/etc/passwd') ?? '').split('\n')) {
    const f = line.split(':');
    if (f[0] === user && f.length >= 7) {
      return { uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/', shell: f[6] || '/usr/sbin/nologin' };
    }
  }
  return undefined;
}

function groupName(root: ImageRoot, gid: number): string | undefined {
  for (const line of (root.readText('/etc/group') ?? '').split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && Number(f[2]) === gid) return f[0];
  }
  return undefined;
}

/** The largest things the Dockerfile's layers added that the final stage does not take. */
function summarizeLeftBehind(ctx: Context): LeftBehind[] {
  const byPackage = new Map<string, number>();
  const byDir = new Map<string, number>();
  for (const [path, change] of ctx.facts.changes) {
    if (change.type !== 'file' || copied(ctx, path)) continue;
    const owner = ctx.db?.owners(path)[0];
    if (owner) {
      if (!ctx.apt.has(owner)) byPackage.set(owner, (byPackage.get(owner) ?? 0) + change.size);
      continue;
    }
    const parts = path.split('/').filter(Boolean);
    const dir = `/${parts.slice(0, Math.min(3, parts.length - 1)).join('/')}`;
    byDir.set(dir, (byDir.get(dir) ?? 0) + change.size);
  }
  const rows: LeftBehind[] = [
    ...[...byPackage].map(([pkg, bytes]) => ({
      path: `apt package ${pkg}`,
      bytes,
      why: 'installed for the build',
    })),
    ...[...byDir].map(([dir, bytes]) => ({ path: dir, bytes, why: 'build output or cache' })),
  ];
  return rows.sort((a, b) => b.bytes - a.bytes).slice(0, 8);
}

/** The cache mount targets' sharing mode: apt takes locks, so its caches are `locked`. */
export function cacheMountFlag(target: string): string {
  return target.startsWith('/var/cache/apt') || target.startsWith('/var/lib/apt')
    ? `--mount=type=cache,target=${target},sharing=locked`
    : `--mount=type=cache,target=${target}`;
}
