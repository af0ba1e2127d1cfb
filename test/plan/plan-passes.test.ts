// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile text is full of ${VAR} written in plain strings on purpose.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Dockerfile, DockerfileError, parseDockerfile, ShellLexer } from '../../src/dockerfile/index.ts';
import { parsePlatform } from '../../src/oci/index.ts';
import { resolveGlobalArgs } from '../../src/plan/global-args.ts';
import { PlanContext } from '../../src/plan/plan-context.ts';
import { resolveStageBases, StageInstructions } from '../../src/plan/stage-bases.ts';
import { buildStageGraph } from '../../src/plan/stage-graph.ts';
import { resolveStageNames, resolveStageSource, resolveTarget } from '../../src/plan/stage-names.ts';
import { initialScope } from '../../src/plan/stage-scope.ts';

const AMD64 = parsePlatform('linux/amd64');

function contextFor(dockerfile: Dockerfile, buildArgs: Record<string, string> = {}): PlanContext {
  return new PlanContext({
    file: dockerfile.file,
    lexer: new ShellLexer({ escapeToken: dockerfile.escapeToken }),
    buildArgs: new Map(Object.entries(buildArgs)),
    warnings: [],
  });
}

/** Runs the passes up to the stage graph, as planBuild does. */
function passes(text: string, options: { buildArgs?: Record<string, string>; target?: string } = {}) {
  const dockerfile = parseDockerfile(text);
  const ctx = contextFor(dockerfile, options.buildArgs);
  const stages = resolveStageNames(ctx, dockerfile.stages);
  const target = resolveTarget(ctx, stages, options.target);
  const globals = resolveGlobalArgs(ctx, {
    dockerfile,
    buildPlatform: AMD64,
    targetPlatform: AMD64,
    targetStage: target.name,
  });
  const bases = resolveStageBases(ctx, stages, globals);
  const instructions = new StageInstructions({ stages, bases: bases.bases });
  return { ctx, stages, target, globals, bases, instructions };
}

describe('stage names and target', () => {
  it('names stages in lowercase and finds the target case-insensitively', () => {
    const { stages, target } = passes('FROM scratch AS One\nFROM scratch AS two', { target: 'ONE' });
    assert.deepEqual(
      [...stages.byName],
      [
        ['one', 0],
        ['two', 1],
      ],
    );
    assert.deepEqual(target, { index: 0, name: 'ONE' });
  });

  it('targets the last stage, named or not, without --target', () => {
    assert.deepEqual(passes('FROM scratch AS a\nFROM scratch').target, { index: 1, name: '' });
    assert.deepEqual(passes('FROM scratch\nFROM scratch AS b').target, { index: 1, name: 'b' });
  });

  it('warns about the reserved names scratch and context', () => {
    const { ctx } = passes('FROM alpine AS context\nFROM alpine');
    assert.deepEqual(
      ctx.warnings.map((w) => w.rule),
      ['ReservedStageName'],
    );
  });

  // [from value, expected source]
  const sources: ReadonlyArray<[string, unknown]> = [
    ['0', { kind: 'stage', stage: 0 }],
    ['Build', { kind: 'stage', stage: 0 }],
    ['scratch', { kind: 'scratch' }],
  ];
  for (const [name, expected] of sources) {
    it(`--from=${name} resolves to ${JSON.stringify(expected)}`, () => {
      const { ctx, stages } = passes('FROM scratch AS build\nFROM scratch\nCOPY x y');
      const copy = stages.nodes[1]!.instructions[0]!;
      assert.deepEqual(resolveStageSource(ctx, stages, name, copy), expected);
    });
  }

  it('--from=<image> resolves to the normalised reference; an index out of range is an error', () => {
    const { ctx, stages } = passes('FROM scratch\nCOPY x y');
    const copy = stages.nodes[0]!.instructions[0]!;
    const image = resolveStageSource(ctx, stages, 'alpine', copy);
    assert.equal(image.kind === 'image' && image.ref.toString(), 'docker.io/library/alpine:latest');
    assert.throws(() => resolveStageSource(ctx, stages, '3', copy), /invalid stage index 3/);
  });
});

describe('global ARGs', () => {
  it('a --build-arg wins over a default; defaults expand with the ARGs before them', () => {
    const { globals } = passes('ARG A=1\nARG B=${A}x\nARG C=3\nFROM scratch', { buildArgs: { C: 'c' } });
    assert.equal(globals.values.get('B'), '1x');
    assert.equal(globals.values.get('C'), 'c');
    assert.deepEqual([...globals.declared], ['A', 'B', 'C']);
    assert.equal(globals.values.get('TARGETPLATFORM'), 'linux/amd64');
  });
});

describe('stage bases', () => {
  it('expands FROM with the global ARGs: an earlier stage, an image, scratch', () => {
    const { bases } = passes('ARG IMG=alpine\nFROM ${IMG} AS a\nFROM a\nFROM scratch');
    assert.deepEqual(
      bases.bases.map((b) => (b.kind === 'image' ? b.ref.toString() : b.kind === 'stage' ? b.stage : b.kind)),
      ['docker.io/library/alpine:latest', 0, 'scratch'],
    );
  });

  it('reads FROM --platform, and warns about variables no global ARG declares', () => {
    const { bases, ctx } = passes('FROM --platform=linux/arm64 scratch\nFROM ${NOPE:-alpine}');
    assert.equal(bases.explicitPlatforms[0]?.architecture, 'arm64');
    assert.equal(bases.explicitPlatforms[1], undefined);
    assert.deepEqual(
      ctx.warnings.map((w) => w.rule),
      ['FromPlatformFlagConstDisallowed', 'UndefinedArgInFrom'],
    );
  });

  it('runs a base stage’s ONBUILD triggers first in the stage built on it', () => {
    const { instructions } = passes('FROM scratch AS a\nONBUILD RUN one\nRUN own\nFROM a\nRUN two');
    assert.deepEqual(
      instructions.of(1).map((i) => i.original),
      ['RUN one', 'RUN two'],
    );
    assert.equal(instructions.triggerCount(1), 1);
    assert.equal(instructions.triggerCount(0), 0);
  });

  it('runs a base image’s OnBuild triggers, parsed once per image', () => {
    const dockerfile = parseDockerfile('FROM alpine\nRUN own');
    const ctx = contextFor(dockerfile);
    const stages = resolveStageNames(ctx, dockerfile.stages);
    const globals = resolveGlobalArgs(ctx, {
      dockerfile,
      buildPlatform: AMD64,
      targetPlatform: AMD64,
      targetStage: '',
    });
    const { bases } = resolveStageBases(ctx, stages, globals);
    const instructions = new StageInstructions({
      stages,
      bases,
      baseImageOnBuild: new Map([['docker.io/library/alpine:latest', ['ENV A=1', 'RUN x']]]),
    });
    assert.deepEqual(
      instructions.of(0).map((i) => i.kind),
      ['env', 'run', 'run'],
    );
    assert.equal(instructions.triggerCount(0), 2);
  });
});

describe('stage graph', () => {
  function graphOf(text: string, target?: string) {
    const p = passes(text, target === undefined ? {} : { target });
    return buildStageGraph(p.ctx, {
      stages: p.stages,
      bases: p.bases.bases,
      instructions: p.instructions,
      target: p.target.index,
    });
  }

  it('collects edges from COPY --from and RUN --mount from=, and prunes to the target', () => {
    const graph = graphOf(
      'FROM scratch AS a\nFROM scratch AS b\nFROM scratch AS unused\nFROM a\nCOPY --from=b x y\nRUN --mount=from=alpine,target=/m true',
    );
    assert.deepEqual(graph.dependsOn, [[], [], [], [0, 1]]);
    assert.deepEqual([...graph.needed].sort(), [0, 1, 3]);
    assert.deepEqual(
      graph.edges[3]!.map((e) => e.source.kind),
      ['stage', 'image'],
    );
  });

  // [Dockerfile, target, expected error message]
  const errors: ReadonlyArray<[string, string | undefined, RegExp]> = [
    ['FROM scratch AS a\nCOPY --from=a x y', undefined, /circular dependency detected on stage: a/],
    [
      'FROM scratch AS a\nCOPY --from=b x y\nFROM scratch AS b\nCOPY --from=a x y',
      undefined,
      /circular dependency detected on stage: a/,
    ],
    [
      'FROM scratch AS a\nCOPY --from=b x y\nFROM scratch AS b',
      'a',
      /cannot copy from stage "b", it needs to be defined before current stage "a"/,
    ],
  ];
  for (const [text, target, message] of errors) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => graphOf(text, target),
        (error: unknown) => error instanceof DockerfileError && message.test(error.message),
      );
    });
  }

  it('does not check forward references of stages the target does not need', () => {
    assert.doesNotThrow(() => graphOf('FROM scratch AS a\nCOPY --from=b x y\nFROM scratch AS b', 'b'));
  });
});

describe('stage scope', () => {
  it('starts a stage on an image with its Env, or PATH when the image has none', () => {
    const ref = passes('FROM alpine').bases.bases[0]!;
    const known = initialScope({
      base: ref,
      platform: AMD64,
      baseImageEnv: new Map([['docker.io/library/alpine:latest', ['A=1', 'EMPTY']]]),
    });
    assert.deepEqual([...known.env.keys()], ['A', 'EMPTY', 'PATH']);
    assert.equal(known.imageEnvUnknown, false);
    const unknown = initialScope({ base: ref, platform: AMD64 });
    assert.deepEqual([...unknown.env.keys()], []);
    assert.equal(unknown.imageEnvUnknown, true);
  });

  it('gives a stage on another its parent’s config Env back over the parent’s ARG values', () => {
    const parent = initialScope({ base: { kind: 'scratch' }, platform: AMD64 });
    parent.env.set('V', { name: 'V', value: 'arg', source: 'arg' });
    parent.configEnv.set('V', { name: 'V', value: 'env', source: 'env' });
    const child = initialScope({ base: { kind: 'stage', stage: 0 }, platform: AMD64, parent });
    assert.equal(child.env.get('V')?.value, 'env');
    assert.deepEqual([...child.env.keys()].at(-1), 'V');
  });
});
