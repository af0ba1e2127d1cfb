import { posix } from 'node:path';
import {
  type AddInstruction,
  applyCheckSkip,
  type CopyInstruction,
  type Dockerfile,
  DockerfileError,
  type DockerfileWarning,
  didYouMean,
  type ExpansionEnv,
  type FromInstruction,
  type Instruction,
  isLintRule,
  mountIsReadOnly,
  parseDockerfile,
  parseRunMount,
  type RunInstruction,
  ShellLexer,
  type SourceRange,
} from '../dockerfile/index.ts';
import { DEFAULT_PATH, hostPlatform, normalizePlatform, type Platform, parsePlatform } from '../oci/index.ts';
import { parseReference, type Reference } from '../reference/index.ts';
import { StrataError } from '../util/index.ts';
import { isPredefinedArg, predefinedArgs, proxyEnvFrom } from './build-args.ts';
import type {
  BuildGraph,
  FileSource,
  PlannedInlineSource,
  PlannedMount,
  ScopedVariable,
  Stage,
  StageBase,
  Step,
  StepBase,
  Variable,
} from './build-graph.ts';
import { parseExposedPorts } from './expose-ports.ts';
import { isValidStopSignal } from './stop-signal.ts';

/** Inputs of {@link planBuild} besides the Dockerfile. */
export interface PlanOptions {
  /** `--build-arg` values. */
  readonly buildArgs?: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
  /** `--target`: the stage to build (by name, case-insensitive); the last stage when omitted. */
  readonly target?: string;
  /** `--platform`: the platform to build for; the host's when omitted. */
  readonly platform?: Platform;
  /** The platform the build runs on; the host's when omitted. */
  readonly buildPlatform?: Platform;
  /**
   * The config `Env` of base images, keyed by normalised reference (`docker.io/library/alpine:3.19`).
   * With it, words that use a base image's variables (`ENV PATH=/app:$PATH`) expand exactly; without
   * it they expand as if unset and the step lists them in `unresolved`.
   */
  readonly baseImageEnv?: ReadonlyMap<string, readonly string[]>;
  /**
   * The config `OnBuild` triggers of base images, keyed like {@link baseImageEnv}: they run first
   * in a stage built FROM that image, as BuildKit runs them.
   */
  readonly baseImageOnBuild?: ReadonlyMap<string, readonly string[]>;
}

/** The variables of a stage as it is dispatched, and what a stage built on it inherits. */
interface StageScope {
  /** BuildKit's llb state env: what RUN sees and words expand with (ENV and ARG both set it). */
  env: Map<string, ScopedVariable>;
  /**
   * The image config's Env (base image, then ENV; never ARG), in config order — a Map keeps a
   * replaced key in place, as BuildKit's addEnv does.
   */
  configEnv: Map<string, ScopedVariable>;
  buildArgs: { name: string; value?: string }[];
  /** True when the base image's Env is unknown (so a miss may be resolved later). */
  imageEnvUnknown: boolean;
  platform: Platform;
  shell: readonly string[] | undefined;
  /** Bumped whenever `env` changes, so steps can share one snapshot of it. */
  version: number;
}

/** A step's own fields, before what every step carries is added. */
type StepPart = Step extends infer S ? (S extends Step ? Omit<S, keyof StepBase> : never) : never;

/** A reference from one stage to another (or to an image), with the instruction that made it. */
interface Edge {
  readonly source: FileSource;
  readonly instruction: Instruction;
}

/**
 * Plans a build: expands FROM lines with the global ARGs, resolves stage references (`FROM <stage>`,
 * `COPY --from`, `RUN --mount=from=`), prunes to what the target needs, and expands every step's
 * words with the ARG/ENV scope BuildKit gives it. Pure: no I/O.
 *
 * @throws DockerfileError for unknown targets, bad references, duplicate stage names, cycles,
 *   forward references and expansion errors, each located in the Dockerfile.
 */
export function planBuild(dockerfile: Dockerfile, options: PlanOptions = {}): BuildGraph {
  const file = dockerfile.file;
  const buildArgs = toMap(options.buildArgs);
  const targetPlatform = normalizePlatform(options.platform ?? hostPlatform());
  const buildPlatform = normalizePlatform(options.buildPlatform ?? hostPlatform());
  const lexer = new ShellLexer({ escapeToken: dockerfile.escapeToken });
  const warnings: DockerfileWarning[] = [...dockerfile.warnings];
  const fail = (
    message: string,
    range: SourceRange,
    extra: { hint?: string; instruction?: string; cause?: unknown } = {},
  ) => new DockerfileError(message, { file, range, ...extra });
  const placed = <T>(instruction: { range: SourceRange; keyword: string }, fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      if (error instanceof DockerfileError)
        throw error.placed({ file, range: instruction.range, instruction: instruction.keyword });
      throw error;
    }
  };

  // Stage names: unique, case-insensitive.
  const nodes = dockerfile.stages;
  const byName = new Map<string, number>();
  nodes.forEach((node, index) => {
    const name = node.from.name;
    if (name === undefined) return;
    const earlier = byName.get(name);
    if (earlier !== undefined) {
      throw fail(`duplicate stage name ${JSON.stringify(name)}`, node.from.range, {
        instruction: 'FROM',
        hint: `stage ${index} reuses the name of stage ${earlier} (line ${nodes[earlier]!.from.range.line}); stage names must be unique`,
      });
    }
    if (name === 'scratch' || name === 'context') {
      warnings.push({
        rule: 'ReservedStageName',
        message: `Stage name should not use the same name as reserved stage "${name}"`,
        file,
        range: node.from.range,
      });
    }
    byName.set(name, index);
  });
  const stageNames = [...byName.keys()];

  // The target, and TARGETSTAGE.
  let target = nodes.length - 1;
  if (options.target !== undefined) {
    const found = byName.get(options.target.toLowerCase());
    if (found === undefined) {
      throw new DockerfileError(`target stage ${JSON.stringify(options.target)} could not be found`, {
        file,
        hint:
          didYouMean(options.target, stageNames, { caseSensitive: false }) ??
          (stageNames.length > 0
            ? `stages: ${stageNames.join(', ')}`
            : 'no stage has a name (FROM … AS <name>)'),
      });
    }
    target = found;
  }
  const targetName = options.target ?? nodes[nodes.length - 1]!.from.name ?? '';

  // Global scope: predefined ARGs, then the ARGs before the first FROM (BuildKit's buildMetaArgs).
  const globals = new Map<string, string>();
  for (const v of predefinedArgs({
    buildPlatform,
    targetPlatform,
    targetStage: targetName,
    overrides: buildArgs,
  }))
    globals.set(v.name, v.value);
  const declared = new Set<string>();
  for (const arg of dockerfile.globalArgs) {
    for (const decl of arg.args) {
      declared.add(decl.key);
      const override = buildArgs.get(decl.key);
      if (override !== undefined) globals.set(decl.key, override);
      else if (decl.defaultValue !== undefined) {
        globals.set(
          decl.key,
          placed(arg, () => lexer.processWord(decl.defaultValue!, mapEnv(globals))),
        );
      }
    }
  }
  const globalEnv = mapEnv(globals);

  // Pass 1: each stage's base and platform.
  const bases: StageBase[] = [];
  const explicitPlatforms: (Platform | undefined)[] = [];
  nodes.forEach((node, index) => {
    const from = node.from;
    const expanded = placed(from, () => lexer.expand(from.image, globalEnv));
    warnUndeclared(expanded.unmatched, from, { file, declared, warnings, globals });
    if (expanded.result === '') {
      throw fail(`base name (${from.image}) should not be blank`, from.range, {
        instruction: 'FROM',
        hint: 'check that the ARGs it uses are declared before the first FROM and have values',
      });
    }
    bases.push(resolveBase(expanded.result, index, from));
    if (from.platform !== undefined) {
      if (/^\$(\{TARGETPLATFORM\}|TARGETPLATFORM)$/.test(from.platform)) {
        warnings.push({
          rule: 'RedundantTargetPlatform',
          message:
            'Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior',
          file,
          range: from.range,
        });
      }
      const platform = placed(from, () => lexer.expand(from.platform!, globalEnv));
      warnUndeclared(platform.unmatched, from, { file, declared, warnings, globals });
      if (platform.result === '')
        throw fail(`empty platform value from expression ${from.platform}`, from.range, {
          instruction: 'FROM',
        });
      try {
        explicitPlatforms.push(parsePlatform(platform.result));
      } catch (error) {
        throw fail(`failed to parse platform ${from.platform}`, from.range, {
          instruction: 'FROM',
          cause: error,
        });
      }
    } else {
      explicitPlatforms.push(undefined);
    }
  });

  function resolveBase(text: string, index: number, from: FromInstruction): StageBase {
    if (text === 'scratch') return { kind: 'scratch' };
    const stage = byName.get(text.toLowerCase());
    if (stage !== undefined && stage < index) return { kind: 'stage', stage };
    try {
      return { kind: 'image', text, ref: parseReference(text) };
    } catch (error) {
      if (!(error instanceof StrataError)) throw error;
      const suggestion = didYouMean(text, stageNames, { caseSensitive: false });
      throw fail('invalid base image', from.range, {
        instruction: 'FROM',
        cause: error,
        hint:
          stage !== undefined
            ? `stage "${text}" is defined later (line ${nodes[stage]!.from.range.line}); a stage can only build on an earlier one`
            : suggestion,
      });
    }
  }

  // ONBUILD triggers of a base stage, or of a base image's config, run first in the stage built on it.
  const parsedTriggers = new Map<string, Instruction[]>();
  const imageTriggers = (ref: string): Instruction[] => {
    const cached = parsedTriggers.get(ref);
    if (cached) return cached;
    const texts = options.baseImageOnBuild?.get(ref) ?? [];
    const parsed = texts.map((text) => {
      // A trigger is one instruction as text; parse it inside a throwaway stage.
      const instructions = parseDockerfile(`FROM scratch\n${text}\n`, {
        file: `ONBUILD of ${ref}`,
      }).instructions.slice(1);
      if (instructions.length !== 1) {
        throw new DockerfileError(`invalid ONBUILD trigger in ${ref}: ${JSON.stringify(text)}`, {
          file: `ONBUILD of ${ref}`,
        });
      }
      return instructions[0]!;
    });
    parsedTriggers.set(ref, parsed);
    return parsed;
  };
  const instructionCache = new Map<number, Instruction[]>();
  const instructionsOf = (index: number): Instruction[] => {
    const cached = instructionCache.get(index);
    if (cached !== undefined) return cached;
    const node = nodes[index]!;
    const base = bases[index]!;
    const triggers =
      base.kind === 'stage'
        ? nodes[base.stage]!.instructions.flatMap((i) => (i.kind === 'onbuild' ? [i.trigger] : []))
        : base.kind === 'image'
          ? imageTriggers(base.ref.toString())
          : [];
    const all = triggers.length === 0 ? [...node.instructions] : [...triggers, ...node.instructions];
    instructionCache.set(index, all);
    return all;
  };
  const triggerCount = (index: number): number => {
    const base = bases[index]!;
    if (base.kind === 'image') return imageTriggers(base.ref.toString()).length;
    return base.kind === 'stage'
      ? nodes[base.stage]!.instructions.filter((i) => i.kind === 'onbuild').length
      : 0;
  };

  // Pass 2: edges.
  const edges: Edge[][] = nodes.map((_, index) => {
    const out: Edge[] = [];
    for (const instruction of instructionsOf(index)) {
      if (instruction.kind === 'copy' && instruction.from !== undefined) {
        out.push({ source: resolveFrom(instruction.from, instruction, { allowIndex: true }), instruction });
      } else if (instruction.kind === 'run') {
        for (const mount of instruction.mounts) {
          if (mount.from !== undefined && mount.from !== '') {
            out.push({ source: resolveFrom(mount.from, instruction, { allowIndex: true }), instruction });
          }
        }
      }
    }
    return out;
  });

  function resolveFrom(name: string, instruction: Instruction, opts: { allowIndex: boolean }): FileSource {
    if (opts.allowIndex && /^[+-]?\d+$/.test(name)) {
      const index = Number(name);
      if (index < 0 || index >= nodes.length) {
        throw fail(`invalid stage index ${index}`, instruction.range, {
          instruction: instruction.keyword,
          hint: `this Dockerfile has ${nodes.length} stage${nodes.length === 1 ? '' : 's'}, numbered from 0`,
        });
      }
      return { kind: 'stage', stage: index };
    }
    const stage = byName.get(name.toLowerCase());
    if (stage !== undefined) return { kind: 'stage', stage };
    if (name === 'scratch') return { kind: 'scratch' };
    try {
      return { kind: 'image', ref: parseReference(name) };
    } catch (error) {
      if (!(error instanceof StrataError)) throw error;
      throw fail(
        `${JSON.stringify(name)} is neither a build stage nor a valid image reference`,
        instruction.range,
        {
          instruction: instruction.keyword,
          cause: error,
          hint:
            didYouMean(name, stageNames, { caseSensitive: false }) ??
            (stageNames.length > 0 ? `stages: ${stageNames.join(', ')}` : undefined),
        },
      );
    }
  }

  const dependsOn = (index: number): number[] => {
    const out = new Set<number>();
    const base = bases[index]!;
    if (base.kind === 'stage') out.add(base.stage);
    for (const edge of edges[index]!) if (edge.source.kind === 'stage') out.add(edge.source.stage);
    return [...out].sort((a, b) => a - b);
  };

  // Self-references and cycles (BuildKit: "circular dependency detected on stage").
  const displayName = (index: number): string => nodes[index]!.from.name ?? `stage-${index}`;
  edges.forEach((list, index) => {
    for (const edge of list) {
      if (edge.source.kind === 'stage' && edge.source.stage === index) {
        throw fail(`circular dependency detected on stage: ${displayName(index)}`, edge.instruction.range, {
          instruction: edge.instruction.keyword,
          hint: `stage "${displayName(index)}" refers to itself; copy from an earlier stage instead`,
        });
      }
    }
  });
  const visiting = new Set<number>();
  const done = new Set<number>();
  const visit = (index: number, path: number[]): void => {
    if (done.has(index)) return;
    if (visiting.has(index)) {
      const cycle = [...path.slice(path.indexOf(index)), index].map(displayName).join(' -> ');
      const edge = edges[path[path.length - 1]!]!.find(
        (e) => e.source.kind === 'stage' && e.source.stage === index,
      );
      throw fail(
        `circular dependency detected on stage: ${displayName(index)}`,
        edge?.instruction.range ?? nodes[index]!.from.range,
        {
          instruction: edge?.instruction.keyword ?? 'FROM',
          hint: `the stages form a cycle: ${cycle}`,
        },
      );
    }
    visiting.add(index);
    for (const dep of dependsOn(index)) visit(dep, [...path, index]);
    visiting.delete(index);
    done.add(index);
  };
  for (let i = 0; i < nodes.length; i++) visit(i, []);

  // What the target needs.
  const needed = new Set<number>();
  const mark = (index: number): void => {
    if (needed.has(index)) return;
    needed.add(index);
    for (const dep of dependsOn(index)) mark(dep);
  };
  mark(target);
  for (const index of needed) {
    for (const edge of edges[index]!) {
      if (edge.source.kind === 'stage' && edge.source.stage > index) {
        const what = edge.instruction.kind === 'run' ? 'mount from' : 'copy from';
        throw fail(
          `cannot ${what} stage ${JSON.stringify(displayName(edge.source.stage))}, it needs to be defined before current stage ${JSON.stringify(displayName(index))}`,
          edge.instruction.range,
          { instruction: edge.instruction.keyword, hint: 'move the stage it refers to above this one' },
        );
      }
    }
  }

  // Pass 3: steps, stage by stage in file order (a stage's base is always earlier).
  const scopes: StageScope[] = [];
  const stages: Stage[] = [];
  for (let index = 0; index < nodes.length; index++) {
    const node = nodes[index]!;
    const base = bases[index]!;
    // A stage built on another stage runs on that stage's platform: BuildKit's dispatchState.init
    // replaces even an explicit FROM --platform with the base stage's.
    const platform =
      base.kind === 'stage' ? scopes[base.stage]!.platform : (explicitPlatforms[index] ?? targetPlatform);
    if (base.kind === 'stage' && explicitPlatforms[index] !== undefined && needed.has(index)) {
      warnings.push({
        rule: 'PlatformIgnored',
        message: `FROM --platform has no effect on a stage built on stage "${displayName(base.stage)}", which sets the platform`,
        file,
        range: node.from.range,
      });
    }
    const scope = initialScope(base, platform);
    let steps: Step[] = [];
    try {
      steps = planSteps(index, scope);
    } catch (error) {
      // A stage the target does not need is never dispatched by BuildKit, so its expansion errors
      // do not fail the build; it is listed as skipped without steps.
      if (needed.has(index) || !(error instanceof DockerfileError)) throw error;
      steps = [];
    }
    scopes.push(scope);
    const images = edges[index]!.flatMap((e) => (e.source.kind === 'image' ? [e.source.ref] : []));
    stages.push({
      index,
      ...(node.from.name === undefined ? {} : { name: node.from.name }),
      displayName: displayName(index),
      base,
      platform,
      platformExplicit: explicitPlatforms[index] !== undefined && base.kind !== 'stage',
      steps,
      dependsOn: dependsOn(index),
      imageDependencies: images,
      needed: needed.has(index),
      from: node.from,
      location: node.from.range,
    });
  }

  function initialScope(base: StageBase, platform: Platform): StageScope {
    if (base.kind === 'stage') {
      const parent = scopes[base.stage]!;
      // BuildKit (dispatchStages): a stage on another starts from that stage's state, then adds
      // every Env entry of its image config again (delete and append) — so an ARG value the
      // parent gave over an ENV of the same name is back to the ENV's, while an ARG without an
      // ENV stays.
      const env = new Map(parent.env);
      for (const v of parent.configEnv.values()) {
        env.delete(v.name);
        env.set(v.name, v);
      }
      return {
        env,
        configEnv: new Map(parent.configEnv),
        buildArgs: [...parent.buildArgs],
        imageEnvUnknown: parent.imageEnvUnknown,
        platform,
        shell: parent.shell,
        version: 0,
      };
    }
    const env = new Map<string, ScopedVariable>();
    let imageEnvUnknown = false;
    if (base.kind === 'image') {
      const known = options.baseImageEnv?.get(base.ref.toString());
      if (known === undefined) imageEnvUnknown = true;
      for (const entry of known ?? []) {
        const eq = entry.indexOf('=');
        const name = eq === -1 ? entry : entry.slice(0, eq);
        env.set(name, { name, value: eq === -1 ? '' : entry.slice(eq + 1), source: 'default' });
      }
    }
    // BuildKit makes sure PATH is set (dispatchStages); an unknown image env may still have one.
    if (!env.has('PATH') && !imageEnvUnknown && platform.os !== 'windows') {
      env.set('PATH', { name: 'PATH', value: DEFAULT_PATH, source: 'default' });
    }
    return {
      env,
      configEnv: new Map(env),
      buildArgs: [],
      imageEnvUnknown,
      platform,
      shell: undefined,
      version: 0,
    };
  }

  function planSteps(stageIndex: number, scope: StageScope): Step[] {
    const steps: Step[] = [];
    const triggers = triggerCount(stageIndex);
    const envGetter: ExpansionEnv = { get: (name) => scope.env.get(name)?.value };
    // The env snapshot is shared by consecutive steps until an ENV or ARG changes it.
    let envSnapshot: readonly ScopedVariable[] = [];
    let envVersion = -1;
    const instructions = instructionsOf(stageIndex);
    for (let i = 0; i < instructions.length; i++) {
      const instruction = instructions[i]!;
      const unresolved = new Set<string>();
      if (envVersion !== scope.version) {
        envSnapshot = [...scope.env.values()];
        envVersion = scope.version;
      }
      const envBefore = envSnapshot;
      const buildArgsBefore = scope.buildArgs.slice();
      const shellBefore = scope.shell;
      const expandWith = (word: string, lex: ShellLexer = lexer): string => {
        const result = placed(instruction, () => lex.expand(word, envGetter));
        if (scope.imageEnvUnknown) for (const name of result.unmatched) unresolved.add(name);
        return result.result;
      };
      // Built as the kind's own fields, then completed with what every step carries (cheaper
      // than spreading a shared base into every literal).
      const step = planStep(instruction, scope, expandWith, stageIndex) as StepPart & {
        -readonly [K in keyof StepBase]: StepBase[K];
      };
      step.index = i;
      step.location = instruction.range;
      step.instruction = instruction;
      step.env = envBefore;
      step.buildArgs = buildArgsBefore;
      step.unresolved = [...unresolved];
      step.onbuild = i < triggers;
      if (shellBefore !== undefined) step.activeShell = shellBefore;
      steps.push(step as Step);
    }
    return steps;
  }

  function planStep(
    instruction: Instruction,
    scope: StageScope,
    expand: (word: string, lex?: ShellLexer) => string,
    stageIndex: number,
  ): StepPart {
    switch (instruction.kind) {
      case 'env': {
        // Every pair is expanded with the variables as they were before this instruction.
        const pairs = instruction.pairs.map((p) => ({ name: expand(p.key), value: expand(p.value) }));
        for (const p of pairs) {
          const variable = { name: p.name, value: p.value, source: 'env' } as const;
          scope.env.delete(p.name);
          scope.env.set(p.name, variable);
          scope.configEnv.set(p.name, variable);
        }
        scope.version++;
        return { kind: 'env', pairs };
      }
      case 'arg': {
        const args: { name: string; value?: string }[] = [];
        for (const decl of instruction.args) {
          // BuildKit's dispatchArg: a --build-arg wins, then the default (expanded in the stage's
          // scope), then the global value of the same name when there is no default.
          let value: string | undefined;
          const override = buildArgs.get(decl.key);
          if (override !== undefined) value = override;
          else if (decl.defaultValue !== undefined) value = expand(decl.defaultValue);
          else if (globals.has(decl.key)) value = globals.get(decl.key);
          // ARG sets the variable for later steps even over an ENV of the same name (BuildKit
          // adds it to the build state's env); ENV after ARG wins as the reference describes.
          if (value !== undefined) {
            scope.env.delete(decl.key);
            scope.env.set(decl.key, { name: decl.key, value, source: 'arg' });
            scope.version++;
          }
          const entry = value === undefined ? { name: decl.key } : { name: decl.key, value };
          // Kept in declaration order with repeats, as BuildKit does; RUN history de-duplicates.
          scope.buildArgs.push(entry);
          args.push(entry);
        }
        return { kind: 'arg', args };
      }
      case 'label':
        return {
          kind: 'label',
          pairs: instruction.pairs.map((p) => ({ name: expand(p.key), value: expand(p.value) })),
        };
      case 'copy':
      case 'add':
        return planCopy(instruction, expand, stageIndex);
      case 'run':
        return planRun(instruction, expand);
      case 'workdir':
        return { kind: 'workdir', path: expand(instruction.path) };
      case 'user':
        return { kind: 'user', user: expand(instruction.user) };
      case 'volume': {
        const volumes = instruction.volumes.map((v) => expand(v));
        if (volumes.some((v) => v === ''))
          throw fail('VOLUME specified can not be an empty string', instruction.range, {
            instruction: 'VOLUME',
          });
        return { kind: 'volume', volumes };
      }
      case 'stopsignal': {
        const signal = expand(instruction.signal);
        if (!isValidStopSignal(signal)) {
          throw fail(`invalid signal: ${signal}`, instruction.range, {
            instruction: 'STOPSIGNAL',
            hint: 'use a signal name such as SIGTERM or a number such as 15',
          });
        }
        return { kind: 'stopsignal', signal };
      }
      case 'expose': {
        const words = instruction.ports.flatMap((p) =>
          placed(instruction, () => lexer.expand(p, { get: (n) => scope.env.get(n)?.value }).words),
        );
        const ports = placed(instruction, () =>
          parseExposedPorts(words, (message) =>
            warnings.push({ rule: 'ExposeInvalidFormat', message, file, range: instruction.range }),
          ),
        );
        return { kind: 'expose', ports };
      }
      case 'shell': {
        scope.shell = instruction.shell;
        return { kind: 'shell', shell: instruction.shell };
      }
      case 'cmd':
        return { kind: 'cmd', command: instruction.command };
      case 'entrypoint':
        return { kind: 'entrypoint', command: instruction.command };
      case 'healthcheck':
        return {
          kind: 'healthcheck',
          test: instruction.test,
          intervalNs: instruction.intervalNs,
          timeoutNs: instruction.timeoutNs,
          startPeriodNs: instruction.startPeriodNs,
          startIntervalNs: instruction.startIntervalNs,
          retries: instruction.retries,
        };
      case 'onbuild':
        return { kind: 'onbuild', expression: instruction.expression };
      case 'maintainer':
        return { kind: 'maintainer', maintainer: instruction.maintainer };
      case 'from':
        throw fail('FROM inside a stage', instruction.range, { instruction: 'FROM' });
    }
  }

  function planCopy(
    instruction: CopyInstruction | AddInstruction,
    expand: (word: string, lex?: ShellLexer) => string,
    stageIndex: number,
  ): StepPart {
    const rawLexer = new ShellLexer({ escapeToken: '\\', skipProcessQuotes: true });
    // A flag that expands to nothing is no flag at all, as in BuildKit (`if chown != ""`).
    const chown = instruction.chown === undefined ? undefined : expand(instruction.chown) || undefined;
    const chmod = instruction.chmod === undefined ? undefined : expand(instruction.chmod) || undefined;
    if (chmod !== undefined && instruction.chmod?.includes('$')) checkChmod(chmod, instruction);
    const sources = instruction.sources.map((s) => expand(s));
    const dest = expand(instruction.dest);
    const inline: PlannedInlineSource[] = instruction.inline.map((s) => ({
      name: s.name,
      content: s.expand ? expand(s.content, rawLexer) : s.content,
    }));
    if (instruction.kind === 'copy') {
      const from: FileSource =
        instruction.from === undefined
          ? { kind: 'context' }
          : resolveFrom(instruction.from, instruction, { allowIndex: true });
      void stageIndex;
      return {
        kind: 'copy',
        sources,
        inline,
        dest,
        chown,
        chmod,
        link: instruction.link,
        exclude: instruction.exclude,
        from,
        parents: instruction.parents,
      };
    }
    const checksum =
      instruction.checksum === undefined ? undefined : expand(instruction.checksum) || undefined;
    if (checksum !== undefined) {
      if (sources.length !== 1)
        throw fail("checksum can't be specified for multiple sources", instruction.range, {
          instruction: 'ADD',
        });
      if (!/^(https?:\/\/|git@|git:\/\/|ssh:\/\/)/.test(sources[0]!) && !/\.git(#|$)/.test(sources[0]!)) {
        throw fail('checksum requires HTTP(S) or Git sources', instruction.range, { instruction: 'ADD' });
      }
    }
    return {
      kind: 'add',
      sources,
      inline,
      dest,
      chown,
      chmod,
      link: instruction.link,
      exclude: instruction.exclude,
      checksum,
      keepGitDir: instruction.keepGitDir,
      unpack: instruction.unpack,
    };
  }

  function checkChmod(value: string, instruction: Instruction): void {
    const octal = /^[0-7]+$/.test(value) && Number.parseInt(value, 8) <= 0o7777;
    const symbolic = /^[ugoa]*(?:[-+=](?:[rwxXst]*|[ugo]))+(?:,[ugoa]*(?:[-+=](?:[rwxXst]*|[ugo]))+)*$/.test(
      value,
    );
    if (!octal && (!symbolic || /^\d/.test(value))) {
      throw fail(
        `invalid chmod parameter: '${value}'. it should be octal string and between 0 and 07777`,
        instruction.range,
        { instruction: instruction.keyword },
      );
    }
  }

  function planRun(instruction: RunInstruction, expand: (word: string) => string): StepPart {
    const mounts: PlannedMount[] = instruction.mounts.map((raw) => {
      const m = placed(instruction, () => parseRunMount(raw.text, (v) => expand(v)));
      let from: FileSource;
      if (m.from !== undefined && m.from !== '')
        from = resolveFrom(m.from, instruction, { allowIndex: true });
      else if (m.type === 'cache' || m.type === 'tmpfs') from = { kind: 'scratch' };
      else from = { kind: 'context' };
      const target = m.target ?? '';
      if (
        m.type !== 'secret' &&
        m.type !== 'ssh' &&
        posix.normalize(`/${target}`) === '/' &&
        target.startsWith('/')
      ) {
        throw fail(`invalid mount target ${JSON.stringify(target)}`, instruction.range, {
          instruction: 'RUN',
          hint: 'a mount cannot replace the root filesystem',
        });
      }
      return {
        type: m.type,
        from,
        source: m.source ?? '',
        target,
        readOnly: mountIsReadOnly(m),
        ...(m.size === undefined ? {} : { sizeBytes: m.size }),
        ...(m.type === 'cache'
          ? {
              id: m.id !== undefined && m.id !== '' ? m.id : cleanPath(target),
              sharing: m.sharing ?? 'shared',
            }
          : m.id === undefined
            ? {}
            : { id: m.id }),
        required: m.required ?? false,
        ...(m.env === undefined ? {} : { env: m.env }),
        ...(m.mode === undefined ? {} : { mode: m.mode }),
        ...(m.uid === undefined ? {} : { uid: m.uid }),
        ...(m.gid === undefined ? {} : { gid: m.gid }),
      };
    });
    return {
      kind: 'run',
      command: instruction.command,
      heredocs: instruction.heredocs,
      mounts,
      network: instruction.network ?? 'default',
      security: instruction.security ?? 'sandbox',
      devices: instruction.devices,
    };
  }

  // --build-arg values nobody declared.
  const allDeclared = new Set<string>(declared);
  for (const instruction of dockerfile.instructions) {
    const arg =
      instruction.kind === 'arg'
        ? instruction
        : instruction.kind === 'onbuild' && instruction.trigger.kind === 'arg'
          ? instruction.trigger
          : undefined;
    if (arg !== undefined) for (const d of arg.args) allDeclared.add(d.key);
  }
  for (const name of buildArgs.keys()) {
    if (allDeclared.has(name) || isPredefinedArg(name)) continue;
    const suggestion = didYouMean(name, allDeclared, { caseSensitive: true });
    warnings.push({
      rule: 'UnusedBuildArg',
      message: `build-arg ${JSON.stringify(name)} was not consumed: no ARG instruction declares it${suggestion === undefined ? '' : ` (${suggestion})`}`,
      file,
    });
  }

  // `# check=`: skipped rules are dropped; with error=true, a remaining lint warning fails.
  const kept = applyCheckSkip(warnings, dockerfile.checks);
  const violations = [...new Set(kept.filter((w) => isLintRule(w.rule)).map((w) => w.rule))];
  if (dockerfile.checks.error && violations.length > 0) {
    const first = kept.find((w) => isLintRule(w.rule))!;
    throw new DockerfileError(`lint violation found for rules: ${violations.join(', ')}`, {
      file,
      ...(first.range === undefined ? {} : { range: first.range }),
      hint: `first: ${first.message}; fix it, or skip the rule with # check=skip=${first.rule}`,
    });
  }
  const globalArgs: Variable[] = [...globals].map(([name, value]) => ({ name, value }));
  return {
    stages,
    order: [...needed].sort((a, b) => a - b),
    target,
    platform: targetPlatform,
    buildPlatform,
    globalArgs,
    proxyEnv: proxyEnvFrom(buildArgs),
    escapeToken: dockerfile.escapeToken,
    warnings: kept,
  };
}

function toMap(args: PlanOptions['buildArgs']): Map<string, string> {
  if (args === undefined) return new Map();
  if (args instanceof Map) return new Map(args as ReadonlyMap<string, string>);
  return new Map(Object.entries(args as Readonly<Record<string, string>>));
}

function mapEnv(map: ReadonlyMap<string, string>): ExpansionEnv {
  return { get: (name) => map.get(name) };
}

/** Go's path.Clean for a cache id. */
function cleanPath(p: string): string {
  if (p === '') return '.';
  const cleaned = posix.normalize(p);
  return cleaned.length > 1 && cleaned.endsWith('/') ? cleaned.slice(0, -1) : cleaned;
}

function warnUndeclared(
  unmatched: ReadonlySet<string>,
  from: FromInstruction,
  context: {
    readonly file: string;
    readonly declared: ReadonlySet<string>;
    readonly warnings: DockerfileWarning[];
    readonly globals: ReadonlyMap<string, string>;
  },
): void {
  const { declared, warnings, globals, file } = context;
  for (const name of unmatched) {
    if (declared.has(name)) continue;
    const suggestion = didYouMean(name, globals.keys(), { caseSensitive: true });
    warnings.push({
      rule: 'UndefinedArgInFrom',
      message: `FROM argument '${name}' is not declared${suggestion === undefined ? '' : ` (${suggestion})`}`,
      file,
      range: from.range,
    });
  }
}

/** The reference type, re-exported for callers of the plan. */
export type { Reference };
