import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detectArchiveCompression, isTarHeader } from '../../src/archive/index.ts';
import { parseDockerfile } from '../../src/dockerfile/index.ts';
import { parsePlatform } from '../../src/oci/index.ts';
import { planBuild, type RunStep, type Step } from '../../src/plan/index.ts';
import type { Snapshot } from '../../src/snapshot/index.ts';
import { scratchImage } from '../../src/solver/index.ts';
import type { StepContext } from '../../src/solver/step-context.ts';
import { applyConfigStep } from '../../src/solver/steps/config.ts';
import { runEnvironment } from '../../src/solver/steps/run.ts';
import { normalizeWorkdir } from '../../src/solver/steps/workdir.ts';

const AMD64 = parsePlatform('linux/amd64');
const EMPTY: Snapshot = { kind: 'native', chainId: '', diffIds: [], dirs: [] } as unknown as Snapshot;

function stepsOf(text: string, target?: string): readonly Step[] {
  const graph = planBuild(parseDockerfile(text), {
    platform: AMD64,
    buildPlatform: AMD64,
    ...(target ? { target } : {}),
  });
  return graph.stages[graph.target]!.steps;
}

describe('WORKDIR as docker 20.10 BuildKit records it (dispatchWorkdir)', () => {
  // [current WorkingDir, WORKDIR argument, recorded]
  const cases: ReadonlyArray<[string | undefined, string, string]> = [
    [undefined, '/app/', '/app/'],
    ['/', '/a/./b/../c', '/a/./b/../c'],
    ['/', '//', '//'],
    ['/', '/tmp/.', '/tmp/.'],
    [undefined, 'rel/', '/rel'],
    ['/app/', 'sub/', '/app/sub'],
    ['/a/./b/', './x/../y/', '/a/b/y'],
    ['/srv', '../..', '/'],
    ['', 'x', '/x'],
  ];
  for (const [current, path, recorded] of cases) {
    it(`WORKDIR ${path} after ${JSON.stringify(current)} records ${recorded}`, () => {
      assert.equal(normalizeWorkdir(current, path), recorded);
    });
  }
});

describe('HEALTHCHECK Test as BuildKit records it (parseHealthcheck)', () => {
  const cases: ReadonlyArray<[string, string[]]> = [
    ['HEALTHCHECK CMD ["/bin/check", "-q"]', ['CMD', '/bin/check', '-q']],
    ['HEALTHCHECK --interval=5s cmd ["a"]', ['CMD', 'a']],
    ['HEALTHCHECK CMD check -q || exit 1', ['CMD-SHELL', 'check -q || exit 1']],
    ['HEALTHCHECK NONE', ['NONE']],
  ];
  for (const [line, test] of cases) {
    it(`${line} → ${JSON.stringify(test)}`, () => {
      const step = stepsOf(`FROM scratch\n${line}\n`).at(-1)!;
      assert.equal(step.kind, 'healthcheck');
      const image = scratchImage(AMD64, EMPTY);
      if (step.kind === 'healthcheck') applyConfigStep(image, step);
      assert.deepEqual(image.config.Healthcheck?.Test, test);
    });
  }
});

describe("RUN's environment is BuildKit's llb state env, not the config's Env", () => {
  /** The env the last RUN of `text` gets, over the config Env the ENV steps made. */
  function runEnv(text: string, target?: string): string[] {
    const steps = stepsOf(text, target);
    const image = scratchImage(AMD64, EMPTY);
    for (const step of steps) if (step.kind === 'env') applyConfigStep(image, step);
    const run = steps.at(-1) as RunStep;
    assert.equal(run.kind, 'run');
    return runEnvironment({ image } as unknown as StepContext, run).filter((e) => !e.startsWith('PATH='));
  }

  it('an ARG after an ENV of the same name gives the ARG value to RUN', () => {
    assert.deepEqual(runEnv('FROM scratch\nENV A=env\nARG A=arg\nRUN x\n'), ['A=arg']);
  });
  it('an ARG without a value after an ENV leaves the ENV value', () => {
    assert.deepEqual(runEnv('FROM scratch\nENV A=env\nARG A\nRUN x\n'), ['A=env']);
  });
  it('a variable set again moves to the end (EnvList.AddOrReplace), where the config keeps its place', () => {
    assert.deepEqual(runEnv('FROM scratch\nENV A=1 B=2\nENV A=3\nRUN x\n'), ['B=2', 'A=3']);
  });
  it("a stage on another gets its parent's config Env back over the parent's ARG values", () => {
    const text = 'FROM scratch AS one\nENV A=env\nARG A=arg\nARG ONLY=arg\nFROM one\nRUN x\n';
    const steps = stepsOf(text);
    const run = steps.at(-1)!;
    assert.deepEqual(
      run.env.filter((v) => v.name !== 'PATH').map((v) => `${v.name}=${v.value}`),
      ['ONLY=arg', 'A=env'],
    );
  });
});

describe("ADD's archive test (BuildKit isArchivePath with docker 20.10's DecompressStream)", () => {
  const header = (mutate?: (block: Buffer) => void): Buffer => {
    const block = Buffer.alloc(1024);
    block.write('file.txt', 0);
    block.write('0000644\0', 100);
    block.write('0000000\0', 108);
    block.write('0000000\0', 116);
    block.write('00000000004\0', 124);
    block.write('00000000000\0', 136);
    block.write('0', 156);
    block.write('ustar\x0000', 257);
    mutate?.(block);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
    block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    return block;
  };
  it('accepts a tar header with a matching checksum, ustar or v7', () => {
    assert.equal(isTarHeader(header()), true);
    assert.equal(isTarHeader(header((b) => b.fill(0, 257, 265))), true);
  });
  it('refuses text, a zero block, a short block, a bad checksum and unparsable numbers', () => {
    assert.equal(isTarHeader(Buffer.from('just text, not a tar\n'.repeat(40))), false);
    assert.equal(isTarHeader(Buffer.alloc(1024)), false);
    assert.equal(isTarHeader(header().subarray(0, 511)), false);
    const bad = header();
    bad[0] = 0x41;
    assert.equal(isTarHeader(bad), false);
    assert.equal(isTarHeader(header((b) => b.write('00009\0\0\0', 100))), false);
  });
  it('knows gzip, bzip2 and xz by their magic, not zstd', () => {
    assert.equal(detectArchiveCompression(Buffer.from([0x1f, 0x8b, 0x08, 0])), 'gzip');
    assert.equal(detectArchiveCompression(Buffer.from('BZh91AY')), 'bzip2');
    assert.equal(detectArchiveCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])), 'xz');
    assert.equal(detectArchiveCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'none');
    assert.equal(detectArchiveCompression(Buffer.from([0x1f, 0x8b])), 'none');
  });
});
