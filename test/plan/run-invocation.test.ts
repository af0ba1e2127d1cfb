import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDockerfile } from '../../src/dockerfile/index.ts';
import { parsePlatform } from '../../src/oci/index.ts';
import { planBuild, type RunStep, runInvocation } from '../../src/plan/index.ts';

function runStep(text: string): RunStep {
  const amd64 = parsePlatform('linux/amd64');
  const graph = planBuild(parseDockerfile(`FROM scratch\n${text}`), {
    platform: amd64,
    buildPlatform: amd64,
  });
  const step = graph.stages[graph.target]!.steps.at(-1)!;
  assert.ok(step.kind === 'run');
  return step;
}

describe('runInvocation: what a RUN executes, heredocs applied as BuildKit dispatchRun does', () => {
  // [RUN line(s), shell, expected argv]
  const cases: ReadonlyArray<[string, readonly string[] | undefined, readonly string[]]> = [
    ['RUN echo hi', undefined, ['/bin/sh', '-c', 'echo hi']],
    ['RUN ["echo", "hi there"]', undefined, ['echo', 'hi there']],
    ['RUN ls', ['cmd', '/S', '/C'], ['cmd', '/S', '/C', 'ls']],
    ['SHELL ["/bin/bash", "-c"]\nRUN a | b', undefined, ['/bin/bash', '-c', 'a | b']],
    ['RUN <<EOF\necho a\necho b\nEOF', undefined, ['/bin/sh', '-c', 'echo a\necho b\n']],
    ['RUN <<EOF cat >/x\nhello\nEOF', undefined, ['/bin/sh', '-c', '<<EOF cat >/x\nhello\nEOF']],
    ['RUN <<A cat && <<B cat\na\nA\nb\nB', undefined, ['/bin/sh', '-c', '<<A cat && <<B cat\na\nA\nb\nB']],
  ];
  for (const [text, shell, args] of cases) {
    it(`${JSON.stringify(text)} runs ${JSON.stringify(args)}`, () => {
      assert.deepEqual(runInvocation(runStep(text), shell).args, args);
    });
  }

  it('turns a lone heredoc with a shebang into a script file', () => {
    assert.deepEqual(runInvocation(runStep('RUN <<-EOT\n\t#!/bin/sh\n\techo hi\nEOT')), {
      args: ['/bin/sh', '-c', '/dev/pipes/EOT'],
      script: { path: '/dev/pipes/EOT', content: '#!/bin/sh\necho hi\n' },
    });
  });
});
