import { lstat, readdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { loadIgnoreFile } from '../../context/index.ts';
import { type Dockerfile, parseDockerfile, type SourceRange } from '../../dockerfile/index.ts';
import { hostPlatform } from '../../oci/index.ts';
import type { AddStep, BuildGraph, CopyStep, RunStep, Stage, Step } from '../../plan/index.ts';
import { invalidDefaultBases, planBuild, UNSET_ARG_PLACEHOLDER } from '../../plan/index.ts';
import { isErrnoException } from '../../util/index.ts';
import {
  checkArchiveExtracted,
  checkCopyEntireStage,
  checkCopyOverwrites,
  checkShellFormCommand,
} from './copy-rules.ts';
import { expandRunWord, hasCacheMount, type Report, runScript } from './lint-context.ts';
import { LINT_RULES, type LintFinding, type LintRule, lintRule } from './lint-rules.ts';
import { checkApkCache, checkCd, checkPackageCache, checkUseradd } from './run-rules.ts';
import {
  argumentsOf,
  hasFlag,
  operandsOf,
  programOf,
  type SimpleCommand,
  simpleCommands,
  subcommandOf,
} from './shell-commands.ts';
import { type StageTargets, stageTargets } from './stage-targets.ts';
import {
  apkVirtualName,
  cachedTool,
  installedPackages,
  installsDependencies,
  isAptInstall,
  isAptUpdate,
  isCompilerPackage,
  isNpmInstall,
  isPipInstall,
  isYarnInstall,
  normalizeCommand,
  removedPackages,
} from './tool-commands.ts';

/** Options of {@link lintDockerfile}. */
export interface LintOptions {
  /** The Dockerfile's name in findings (default `Dockerfile`). */
  readonly file?: string;
  /** The Dockerfile's path on disk, for `<Dockerfile>.dockerignore` (default: none). */
  readonly dockerfilePath?: string;
  /** The build context; without it the .dockerignore rule is not checked. */
  readonly contextDir?: string;
  /** The stage that would be built (default: the last). */
  readonly target?: string;
  readonly buildArgs?: ReadonlyMap<string, string>;
  /** Files at least this large in the context count as "large" (default 10 MB). */
  readonly largeFileBytes?: number;
}

/** What {@link lintDockerfile} found, and the rules it checked. */
export interface LintResult {
  readonly findings: readonly LintFinding[];
  readonly rules: readonly LintRule[];
  /** The stage lint took as the target (its size rules look at it and the stages it is built FROM). */
  readonly target: string;
  /**
   * When the Dockerfile is multi-target (several named stages nothing depends on): every target,
   * the checked one last. Size rules saw only `target`; lint the others with `--target`.
   */
  readonly targets: readonly string[];
}

/**
 * Checks a Dockerfile for size and multi-stage problems (docs/lint.md lists the rules). Size rules
 * look only at the stages whose layers ship (the target and the stages it is built `FROM`);
 * build-speed and hygiene rules look at every stage. Findings are sorted by line.
 */
export async function lintDockerfile(text: string, options: LintOptions = {}): Promise<LintResult> {
  const file = options.file ?? 'Dockerfile';
  const dockerfile = parseDockerfile(text, { file });
  const targetStage = options.target ?? dockerfile.stages.at(-1)?.from.name ?? '';
  // BuildKit's InvalidDefaultArgInFrom: a FROM that needs a --build-arg. Lint still checks the
  // rest: the ARGs nobody set get a placeholder value, and rules about those bases stay quiet.
  const host = hostPlatform();
  const invalidBases = invalidDefaultBases(dockerfile, {
    targetStage,
    buildPlatform: host,
    targetPlatform: host,
  });
  const buildArgs = new Map(options.buildArgs ?? []);
  const placeholderArgs = new Set<string>();
  for (const base of invalidBases)
    for (const name of base.unset)
      if (!buildArgs.has(name)) {
        buildArgs.set(name, UNSET_ARG_PLACEHOLDER);
        placeholderArgs.add(name);
      }
  const graph = planBuild(dockerfile, {
    ...(options.target ? { target: options.target } : {}),
    ...(buildArgs.size > 0 ? { buildArgs } : {}),
  });
  const targets = stageTargets(dockerfile, graph);
  const findings = lintPlanned(dockerfile, graph, targets);
  for (const base of invalidBases) {
    const rule = lintRule('invalid-default-arg-in-from');
    const stage = graph.stages.find((s) => s.from === base.from);
    const names = base.unset.length > 0 ? base.unset : [];
    findings.push({
      ruleId: rule.id,
      severity: rule.severity,
      message: `Default value for ARG ${base.from.image} results in empty or invalid base image name${base.expanded ? ` (${base.expanded})` : ''}`,
      fix:
        names.length > 0
          ? `give ${names.map((n) => `ARG ${n}`).join(', ')} a default before the first FROM (a build without --build-arg ${names[0]}=… fails)`
          : 'give the global ARGs it uses defaults that make a valid image reference',
      file: dockerfile.file,
      line: base.from.range.line,
      column: base.from.range.column,
      endLine: base.from.range.endLine,
      endColumn: base.from.range.endColumn,
      ...(stage ? { stage: stage.displayName } : {}),
      ...(rule.alias ? { alias: rule.alias } : {}),
    });
  }
  if (options.contextDir !== undefined) {
    const finding = await checkDockerignore(dockerfile, graph, {
      contextDir: options.contextDir,
      ...(options.dockerfilePath ? { dockerfilePath: options.dockerfilePath } : {}),
      largeFileBytes: options.largeFileBytes ?? 10_000_000,
    });
    if (finding) findings.push(finding);
  }
  // Findings about a base lint had to make up say nothing about the real one.
  const madeUp = new Set(
    graph.stages
      .filter((s) => s.base.kind === 'image' && s.base.text.includes(UNSET_ARG_PLACEHOLDER))
      .map((s) => s.displayName),
  );
  const kept = findings.filter(
    (f) =>
      !(
        placeholderArgs.size > 0 &&
        (f.ruleId === 'unpinned-base-image' || f.ruleId === 'final-stage-toolchain-image') &&
        f.stage !== undefined &&
        madeUp.has(f.stage)
      ),
  );
  kept.sort((a, b) => a.line - b.line || a.column - b.column || (a.ruleId < b.ruleId ? -1 : 1));
  return {
    findings: kept.filter((f) => !skippedByDirective(dockerfile, f.ruleId)),
    rules: LINT_RULES,
    target: graph.stages[graph.target]!.displayName,
    targets: targets.targets,
  };
}

/**
 * Whether the Dockerfile's `# check=skip=…` directive names the rule: `all`, its id, its
 * PascalCase name (`AptListsLeft`) or the hadolint/BuildKit id it stands for (`DL3009`).
 */
function skippedByDirective(dockerfile: Dockerfile, ruleId: string): boolean {
  const skip = dockerfile.checks.skip;
  if (skip === 'all') return true;
  if (skip.length === 0) return false;
  const rule = lintRule(ruleId);
  const names = [
    rule.id,
    rule.id.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase()),
    ...(rule.alias?.split(/[ ,]+/) ?? []),
  ].map((n) => n.toLowerCase());
  return skip.some((s) => names.includes(s.toLowerCase()));
}

/** The rules that need no file system: everything but missing-dockerignore. Pure. */
export function lintPlanned(
  dockerfile: Dockerfile,
  graph: BuildGraph,
  targets: StageTargets = stageTargets(dockerfile, graph),
): LintFinding[] {
  const findings: LintFinding[] = [];
  const report = (id: string, range: SourceRange, message: string, fix: string, stage?: Stage): void => {
    findings.push({
      ruleId: id,
      severity: lintRule(id).severity,
      message,
      fix,
      file: dockerfile.file,
      line: range.line,
      column: range.column,
      endLine: range.endLine,
      endColumn: range.endColumn,
      ...(stage ? { stage: stage.displayName } : {}),
      ...(lintRule(id).alias ? { alias: lintRule(id).alias! } : {}),
    });
  };
  const shipping = shippingStages(graph);
  checkToolchainImage(graph, report);
  for (const stage of graph.stages) {
    const ships = shipping.has(stage.index);
    checkUnusedStage(graph, stage, targets, report);
    checkBase(stage, report);
    checkSecrets(stage.steps, report, stage);
    checkCopyAllBeforeInstall(stage, report);
    for (const step of stage.steps) {
      if (step.kind === 'add') checkAdd(step, report, stage);
      if (step.kind !== 'run') continue;
      const commands = simpleCommands(runScript(step)).map(normalizeCommand);
      checkCacheMount(step, commands, report, stage);
      checkCd(step, commands, report, stage);
      if (!ships) continue;
      checkApt(step, commands, report, stage);
      checkPip(step, commands, report, stage);
      checkJsCache(step, commands, report, stage);
      checkApkCache(step, commands, report, stage);
      checkPackageCache(step, commands, report, stage);
      checkUseradd(step, commands, report, stage);
      if (stage.index === graph.target || isBaseOfTarget(graph, stage.index))
        checkCompilerPackages(step, commands, report, stage);
    }
    if (!ships) continue;
    checkRemovedLater(stage, report);
    checkCopyOverwrites(stage, report);
    checkCopyEntireStage(graph, stage, report);
    checkArchiveExtracted(stage, report);
    checkShellFormCommand(stage, report);
  }
  for (const arg of dockerfile.globalArgs) {
    for (const a of arg.args)
      if (isSecretName(a.key))
        report(
          'secret-in-arg-env',
          arg.range,
          `ARG ${a.key} looks like a secret; build arguments are kept in the image history and provenance`,
          'pass it as a secret instead: RUN --mount=type=secret,id=' +
            a.key.toLowerCase() +
            ' and --secret id=…,src=…',
        );
  }
  return findings;
}

/**
 * unused-stage: a stage the target never needs. Not in a multi-target Dockerfile, where such stages
 * are targets of their own (see stage-targets.ts) — there only an unnamed one, which no --target
 * can name, is dead — nor a stage a FROM or --from picks by a build argument.
 */
function checkUnusedStage(graph: BuildGraph, stage: Stage, targets: StageTargets, report: Report): void {
  // The last stage is what a build without --target builds, whichever stage lint checks.
  if (stage.needed || targets.selectedByArg.has(stage.index) || stage.index === graph.stages.length - 1)
    return;
  if (targets.multiTarget && stage.name !== undefined) return;
  const target = graph.stages[graph.target]!.displayName;
  report(
    'unused-stage',
    stage.location,
    `stage ${stage.displayName} is never used by the target stage ${target}, so a build skips it`,
    stage.name
      ? `delete the stage; if it is meant to be built on its own, build it with --target ${stage.name} (lint checks one target: strata lint --target ${stage.name})`
      : 'delete the stage, or name it (FROM … AS name) and build it with --target name',
    stage,
  );
}

/** The target and every stage it is built FROM: their layers end up in the image. */
function shippingStages(graph: BuildGraph): Set<number> {
  const out = new Set<number>();
  let stage: Stage | undefined = graph.stages[graph.target];
  while (stage && !out.has(stage.index)) {
    out.add(stage.index);
    stage = stage.base.kind === 'stage' ? graph.stages[stage.base.stage] : undefined;
  }
  return out;
}

function isBaseOfTarget(graph: BuildGraph, index: number): boolean {
  return shippingStages(graph).has(index);
}

const TOOLCHAIN_IMAGES: Record<string, string> = {
  'library/golang': 'the Go toolchain',
  'library/rust': 'the Rust toolchain',
  'library/gcc': 'GCC',
  'library/maven': 'Maven and a JDK',
  'library/gradle': 'Gradle and a JDK',
  'library/buildpack-deps': 'compilers and -dev packages',
  'dotnet/sdk': 'the .NET SDK',
};

const FULL_VARIANT_IMAGES = new Set([
  'library/node',
  'library/python',
  'library/ruby',
  'library/php',
  'library/perl',
]);
const JDK_IMAGES = new Set([
  'library/openjdk',
  'library/eclipse-temurin',
  'library/amazoncorretto',
  'library/ibmjava',
]);

function checkToolchainImage(graph: BuildGraph, report: Report): void {
  let stage: Stage | undefined = graph.stages[graph.target];
  const seen = new Set<number>();
  while (stage && stage.base.kind === 'stage' && !seen.has(stage.index)) {
    seen.add(stage.index);
    stage = graph.stages[stage.base.stage];
  }
  if (stage?.base.kind !== 'image') return;
  const ref = stage.base.ref;
  const tag = ref.tag ?? '';
  let what = TOOLCHAIN_IMAGES[ref.path];
  if (!what && JDK_IMAGES.has(ref.path) && !/jre/.test(tag)) what = 'a full JDK';
  if (
    !what &&
    FULL_VARIANT_IMAGES.has(ref.path) &&
    !/slim|alpine|distroless|chiseled|minimal/.test(tag) &&
    !(ref.path === 'library/php' && /fpm|cli/.test(tag) && /alpine/.test(tag))
  )
    what = 'compilers and headers (the full variant is built on buildpack-deps)';
  if (!what) return;
  report(
    'final-stage-toolchain-image',
    stage.from.range,
    `the final image is based on ${stage.base.text}, which carries ${what} into production`,
    `build in a stage FROM ${stage.base.text} AS build, then start the final stage FROM a runtime image (scratch, distroless, alpine or a -slim tag) and COPY --from=build only the artifacts`,
    stage,
  );
}

function checkCompilerPackages(step: RunStep, commands: SimpleCommand[], report: Report, stage: Stage): void {
  const removed = new Set(commands.flatMap(removedPackages));
  // The Debian images' idiom: `apt-mark auto '.*'` (after saving the manual list) then
  // `apt-get purge --auto-remove` removes every package the RUN installed and nothing kept needs.
  const aptAutoRemoves =
    commands.some((c) => programOf(c) === 'apt-mark' && subcommandOf(c) === 'auto') &&
    commands.some(
      (c) =>
        ['apt-get', 'apt'].includes(programOf(c)) &&
        (subcommandOf(c) === 'autoremove' || (subcommandOf(c) === 'purge' && hasFlag(c, '--auto-remove'))),
    );
  const kept: string[] = [];
  for (const c of commands) {
    const installed = installedPackages(c);
    if (!installed) continue;
    if (aptAutoRemoves && installed.manager === 'apt') continue;
    const virtual = apkVirtualName(c);
    if (virtual && removed.has(virtual)) continue;
    for (const p of installed.packages) if (isCompilerPackage(p) && !removed.has(p)) kept.push(p);
  }
  if (kept.length === 0) return;
  report(
    'final-stage-compiler-packages',
    step.location,
    `the final stage installs ${kept.join(', ')} and keeps ${kept.length === 1 ? 'it' : 'them'} in the image`,
    'compile in an earlier stage and COPY --from it only what runs; if they must be here, remove them in the same RUN (apk add --virtual .build-deps … && apk del .build-deps)',
    stage,
  );
}

function checkApt(step: RunStep, commands: SimpleCommand[], report: Report, stage: Stage): void {
  const installs = commands.filter(isAptInstall);
  for (const c of installs) {
    const recommends =
      hasFlag(c, '--no-install-recommends') ||
      c.some((w) => /^APT::Install-Recommends=(false|0)$/i.test(w)) ||
      c.some((w, i) => w === '-o' && /^APT::Install-Recommends=(false|0)$/i.test(c[i + 1] ?? ''));
    if (!recommends)
      report(
        'apt-no-install-recommends',
        step.location,
        `${programOf(c)} install without --no-install-recommends also installs every recommended package`,
        `${programOf(c)} install -y --no-install-recommends ${operandsOf(c).join(' ')}`,
        stage,
      );
  }
  if (installs.length === 0 && !commands.some(isAptUpdate)) return;
  const cleaned = commands.some(
    (c) => programOf(c) === 'rm' && argumentsOf(c).some((o) => o.startsWith('/var/lib/apt/lists')),
  );
  if (cleaned || hasCacheMount(step, /^\/var\/lib\/apt/)) return;
  report(
    'apt-lists-left',
    step.location,
    'apt package lists (/var/lib/apt/lists, tens of MB) stay in this layer',
    'end the same RUN with && rm -rf /var/lib/apt/lists/*, or mount them: RUN --mount=type=cache,target=/var/lib/apt,sharing=locked …',
    stage,
  );
}

function checkPip(step: RunStep, commands: SimpleCommand[], report: Report, stage: Stage): void {
  if (
    step.env.some(
      (v) => v.name === 'PIP_NO_CACHE_DIR' && v.value !== '' && !/^(0|false|off|no)$/i.test(v.value),
    )
  )
    return;
  if (hasCacheMount(step, /\.cache(\/pip)?\/?$/)) return;
  for (const c of commands) {
    if (!isPipInstall(c) || hasFlag(c, '--no-cache-dir')) continue;
    report(
      'pip-no-cache-dir',
      step.location,
      'pip install keeps its download cache (/root/.cache/pip) in this layer',
      'add --no-cache-dir, or mount the cache: RUN --mount=type=cache,target=/root/.cache/pip pip install …',
      stage,
    );
    return;
  }
}

function checkJsCache(step: RunStep, commands: SimpleCommand[], report: Report, stage: Stage): void {
  const cleans = (tool: string) =>
    commands.some(
      (c) => programOf(c) === tool && subcommandOf(c) === 'cache' && /^clean/.test(operandsOf(c)[0] ?? ''),
    );
  const npm = commands.find(isNpmInstall);
  if (npm && !cleans('npm') && !hasCacheMount(step, /\.npm\/?$/))
    report(
      'js-cache-left',
      step.location,
      `${npm.slice(0, 2).join(' ')} leaves npm's cache (/root/.npm) in this layer`,
      'add && npm cache clean --force to the same RUN, or mount it: RUN --mount=type=cache,target=/root/.npm npm ci',
      stage,
    );
  const yarn = commands.find(isYarnInstall);
  if (yarn && !cleans('yarn') && !hasCacheMount(step, /yarn/))
    report(
      'js-cache-left',
      step.location,
      "yarn install leaves yarn's cache (/usr/local/share/.cache/yarn) in this layer",
      'add && yarn cache clean to the same RUN, or mount it: RUN --mount=type=cache,target=/usr/local/share/.cache/yarn yarn install',
      stage,
    );
}

function checkCacheMount(step: RunStep, commands: SimpleCommand[], report: Report, stage: Stage): void {
  if (hasCacheMount(step)) return;
  for (const c of commands) {
    const tool = cachedTool(c);
    if (!tool) continue;
    report(
      'no-cache-mount',
      step.location,
      `${tool.tool} runs without a cache mount: its cache is thrown away with the layer, so every change rebuilds from cold`,
      `RUN ${tool.mounts.map((t) => `--mount=type=cache,target=${t}`).join(' ')} …`,
      stage,
    );
    return;
  }
}

/** Options whose next word is a file the command writes (curl -o, wget -O, --output). */
const OUTPUT_FLAGS = new Set(['-o', '-O', '--output', '--output-document']);
/** Operands naming a file the command writes (dd of=x, --output=x). */
const OUTPUT_OPERANDS = /^(of|--output|--output-document)=/;

/** Absolute paths a step writes: COPY/ADD destinations, absolute words of a RUN, tools' known dirs. */
function createdPaths(step: Step, workdir: string): string[] {
  if (step.kind === 'copy' || step.kind === 'add') {
    const dest = posix.resolve(workdir, step.dest);
    const out = [dest.replace(/\/+$/, '') || '/'];
    if (/(^|\/)\.?$/.test(step.dest) || step.dest.endsWith('/') || step.sources.length > 1)
      for (const s of step.sources) out.push(posix.join(dest, posix.basename(s)));
    return out;
  }
  if (step.kind !== 'run') return [];
  const out: string[] = [];
  for (const c of simpleCommands(runScript(step)).map(normalizeCommand)) {
    if (programOf(c) === 'rm') continue;
    for (const [i, w] of c.entries()) {
      if (i === 0) continue;
      // `--output=/x`, and operands written `name=/x` (dd of=/x, make DESTDIR=/x).
      const assigned = /^-*[A-Za-z_][\w.-]*=/.test(w);
      const value = assigned ? w.slice(w.indexOf('=') + 1) : w;
      if (value.startsWith('/') && value.length > 1) out.push(posix.normalize(value).replace(/\/+$/, ''));
      else if (
        value !== '' &&
        !value.startsWith('-') &&
        !value.includes('$') &&
        (OUTPUT_OPERANDS.test(w) || OUTPUT_FLAGS.has(c[i - 1] ?? ''))
      )
        out.push(posix.resolve(workdir, value).replace(/\/+$/, ''));
    }
    if (isAptUpdate(c)) out.push('/var/lib/apt/lists');
    if (isAptInstall(c)) out.push('/var/cache/apt/archives');
    if (isPipInstall(c)) out.push('/root/.cache/pip');
    if (isNpmInstall(c)) out.push('/root/.npm');
  }
  return out;
}

function checkRemovedLater(stage: Stage, report: Report): void {
  let workdir = '/';
  const earlier: { path: string; step: Step; fromCopy: boolean }[] = [];
  const within = (path: string, root: string) => path === root || path.startsWith(`${root}/`);
  for (const step of stage.steps) {
    if (step.kind === 'workdir') workdir = posix.resolve(workdir, step.path);
    const created =
      step.kind === 'run' || step.kind === 'copy' || step.kind === 'add' ? createdPaths(step, workdir) : [];
    let removals: string[] = [];
    if (step.kind === 'run') {
      removals = simpleCommands(runScript(step))
        .filter((c) => programOf(c) === 'rm')
        .flatMap(argumentsOf)
        .map((p) => expandRunWord(step, p))
        .map((p) => posix.resolve(workdir, p.replace(/\*.*$/, '')).replace(/\/+$/, '') || '/')
        .filter((p) => p !== '/');
      for (const removed of removals) {
        // A RUN that makes the path again before removing it (apt-get update … rm -rf
        // /var/lib/apt/lists/*) cleans up after itself.
        if (created.some((c) => within(c, removed) || within(removed, c))) continue;
        const hit = earlier.find(
          (e) => within(e.path, removed) || (e.fromCopy && removed.startsWith(`${e.path}/`)),
        );
        if (!hit) continue;
        report(
          'removed-in-later-layer',
          step.location,
          `rm ${removed} here removes what line ${hit.step.location.line} (${hit.step.instruction.keyword.toUpperCase()}) added; its bytes stay in that earlier layer`,
          'remove the files in the same RUN that creates them, fetch or build them in a separate stage and COPY --from only the result, or use RUN --mount=type=bind/cache so they never enter a layer',
          stage,
        );
        break;
      }
    }
    // What a RUN removes again itself never reaches its layer.
    for (const path of created)
      if (!removals.some((removed) => within(path, removed)))
        earlier.push({ path, step, fromCopy: step.kind !== 'run' });
  }
}

function checkCopyAllBeforeInstall(stage: Stage, report: Report): void {
  // ADD from the context copies the same way (hadolint DL3020 says to use COPY for it anyway).
  const copyAll = stage.steps.find(
    (s): s is CopyStep | AddStep =>
      ((s.kind === 'copy' && s.from.kind === 'context') || s.kind === 'add') &&
      s.sources.some((src) => src === '.' || src === './' || src === '*'),
  );
  if (!copyAll) return;
  for (const step of stage.steps.slice(copyAll.index + 1)) {
    if (step.kind !== 'run') continue;
    for (const c of simpleCommands(runScript(step))) {
      const manifests = installsDependencies(c);
      if (!manifests) continue;
      report(
        'copy-all-before-install',
        copyAll.location,
        `${copyAll.kind.toUpperCase()} ${copyAll.sources.join(' ')} comes before ${c.slice(0, 3).join(' ')} (line ${step.location.line}): any source change invalidates the install`,
        `COPY ${manifests} ./ first, RUN the install, then COPY . .`,
        stage,
      );
      return;
    }
  }
}

function checkAdd(step: Extract<Step, { kind: 'add' }>, report: Report, stage: Stage): void {
  const remote = (s: string) =>
    /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /^git@/.test(s) || /\.git(#.*)?$/.test(s);
  const archive = (s: string) =>
    /\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst|tzst|tar\.lz|tlz)$/i.test(s);
  if (step.sources.length === 0 || step.sources.some((s) => remote(s) || archive(s))) return;
  report(
    'add-instead-of-copy',
    step.location,
    `ADD ${step.sources.join(' ')} copies local files; ADD's URL and archive handling is not needed`,
    `COPY ${step.sources.join(' ')} ${step.dest}`,
    stage,
  );
}

function checkBase(stage: Stage, report: Report): void {
  if (stage.base.kind !== 'image' || stage.base.ref.digest) return;
  const { ref, text } = stage.base;
  if (!ref.tagDefaulted && ref.tag !== 'latest') return;
  report(
    'unpinned-base-image',
    stage.from.range,
    ref.tagDefaulted
      ? `FROM ${text} has no tag, so it means ${ref.familiar()}: whatever latest is at build time`
      : `FROM ${text} uses latest, which changes under you`,
    `pin a version (FROM ${ref.familiar().replace(/:latest$/, '')}:<version>), or a digest (@sha256:…)`,
    stage,
  );
}

const SECRET_TOKENS = [
  'apikey',
  'auth',
  'credential',
  'credentials',
  'key',
  'password',
  'pword',
  'passwd',
  'secret',
  'token',
];

/**
 * BuildKit's SecretsUsedInArgOrEnv test: a secret word as the whole name or its first or last
 * `_`-separated word (`API_KEY`, `GITHUB_TOKEN`, `password`), unless the name says `public`.
 */
export function isSecretName(name: string): boolean {
  const words = name.toLowerCase().split('_');
  if (words.includes('public')) return false;
  return [words[0], words[words.length - 1]].some((w) => SECRET_TOKENS.includes(w ?? ''));
}

function checkSecrets(steps: readonly Step[], report: Report, stage: Stage): void {
  for (const step of steps) {
    const names =
      step.kind === 'arg'
        ? step.args.map((a) => a.name)
        : step.kind === 'env'
          ? step.pairs.map((p) => p.name)
          : [];
    for (const name of names) {
      if (!isSecretName(name)) continue;
      report(
        'secret-in-arg-env',
        step.location,
        `${step.kind.toUpperCase()} ${name} looks like a secret; its value is kept in the image ${step.kind === 'env' ? 'config' : 'history'}`,
        `use a secret mount: RUN --mount=type=secret,id=${name.toLowerCase()},env=${name} … and pass --secret id=${name.toLowerCase()},env=${name}`,
        stage,
      );
    }
  }
}

async function checkDockerignore(
  dockerfile: Dockerfile,
  graph: BuildGraph,
  options: { contextDir: string; dockerfilePath?: string; largeFileBytes: number },
): Promise<LintFinding | undefined> {
  const copies = graph.stages
    .filter((s) => s.needed)
    .flatMap((s) => s.steps)
    .filter((s) => (s.kind === 'copy' && s.from.kind === 'context') || s.kind === 'add');
  if (copies.length === 0) return undefined;
  const ignore = await loadIgnoreFile({
    contextDir: options.contextDir,
    ...(options.dockerfilePath ? { dockerfile: options.dockerfilePath } : {}),
  });
  if (ignore.file !== undefined) return undefined;
  const found = await heavyContextEntries(options.contextDir, options.largeFileBytes);
  if (found.length === 0) return undefined;
  const at = copies[0]!;
  const rule = lintRule('missing-dockerignore');
  return {
    ruleId: rule.id,
    severity: rule.severity,
    message: `there is no .dockerignore and the context holds ${found.slice(0, 5).join(', ')}${found.length > 5 ? ', …' : ''}; COPY can bake them into the image`,
    fix: `create .dockerignore in the context with: ${[...new Set(found.map((f) => f.replace(/ \(.*\)$/, '')))].slice(0, 5).join(' ')}`,
    file: dockerfile.file,
    line: at.location.line,
    column: at.location.column,
    endLine: at.location.endLine,
    endColumn: at.location.endColumn,
  };
}

/** node_modules and .git directories and large files in the context (bounded walk). */
async function heavyContextEntries(root: string, largeFileBytes: number): Promise<string[]> {
  const out: string[] = [];
  let budget = 20_000;
  const walk = async (dir: string, rel: string, depth: number): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if (isErrnoException(error, 'ENOENT') || isErrnoException(error, 'EACCES')) return; // nothing to report there
      throw error;
    }
    for (const name of names.sort()) {
      if (--budget < 0) return;
      const relPath = rel ? `${rel}/${name}` : name;
      const stats = await lstat(join(dir, name));
      if (stats.isDirectory()) {
        if (name === 'node_modules' || name === '.git') out.push(relPath);
        else if (depth < 4) await walk(join(dir, name), relPath, depth + 1);
      } else if (stats.isFile() && stats.size >= largeFileBytes) {
        out.push(`${relPath} (${Math.round(stats.size / 1e6)} MB)`);
      }
    }
  };
  await walk(root, '', 0);
  return out;
}
