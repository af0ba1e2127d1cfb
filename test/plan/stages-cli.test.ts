import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatPlatform, hostPlatform } from '../../src/oci/index.ts';
import { runStrata, tempDir } from '../support/cli.ts';

const DOCKERFILE = `ARG ALPINE=3.19
FROM --platform=$BUILDPLATFORM golang:1.22 AS build
RUN go build -o /out/app .
FROM alpine:\${ALPINE} AS test
COPY --from=build /out/app /app
RUN /app -test
FROM scratch
COPY --from=build /out/app /app
ENTRYPOINT ["/app"]
`;

describe('strata stages and strata parse (CLI)', () => {
  let dir: { path: string; cleanup: () => void };
  let file: string;
  before(() => {
    dir = tempDir();
    file = join(dir.path, 'Dockerfile');
    writeFileSync(file, DOCKERFILE);
  });
  after(() => dir.cleanup());

  it('prints each stage, its base, and whether the target needs it', async () => {
    const result = await runStrata(['stages', file, '--platform', 'linux/arm64']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout,
      [
        '#   STAGE              BASE                            PLATFORM      STEPS   STATUS   NEEDS',
        `0   build              docker.io/library/golang:1.22   ${formatPlatform(hostPlatform())}   1       build    -`,
        '1   test               docker.io/library/alpine:3.19   linux/arm64   -       skip     build',
        '2   stage-2 (target)   scratch                         linux/arm64   2       build    build',
        '',
      ].join('\n'),
    );
  });

  it('honours --target and --build-arg, and warns about unused build args on stderr', async () => {
    const result = await runStrata([
      'stages',
      file,
      '--target',
      'test',
      '--build-arg',
      'ALPINE=3.20',
      '--build-arg',
      'UNUSED=1',
      '--json',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const graph = JSON.parse(result.stdout) as {
      target: number;
      order: number[];
      stages: { base: { ref?: string } }[];
    };
    assert.equal(graph.target, 1);
    assert.deepEqual(graph.order, [0, 1]);
    assert.equal(graph.stages[1]!.base.ref, 'docker.io/library/alpine:3.20');
    assert.match(
      result.stderr,
      /warning: .*Dockerfile: build-arg "UNUSED" was not consumed: no ARG instruction declares it \[UnusedBuildArg\]/,
    );
  });

  it('fails with a located error and a suggestion for an unknown target', async () => {
    const result = await runStrata(['stages', file, '--target', 'tset']);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, 'error: target stage "tset" could not be found (did you mean test?)\n');
  });

  it('parse prints one line per instruction, and JSON with --json', async () => {
    const text = await runStrata(['parse', file]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^1:1 {5}ARG ALPINE=3\.19$/m);
    assert.match(
      text.stdout,
      /^2:1 {5}FROM --platform=\$BUILDPLATFORM golang:1\.22 AS build {4}# stage 0 "build"$/m,
    );
    assert.match(text.stdout, /^5:1 {7}COPY --from=build \/out\/app -> \/app$/m);
    const json = await runStrata(['parse', file, '--json']);
    const tree = JSON.parse(json.stdout) as { stages: unknown[]; instructions: { kind: string }[] };
    assert.equal(tree.stages.length, 3);
    assert.equal(tree.instructions[0]!.kind, 'arg');
  });

  it('parse reports a syntax error as file:line:column with a hint', async () => {
    const bad = join(dir.path, 'Dockerfile.bad');
    writeFileSync(bad, 'FROM alpine\nRUN --mount=type=cahce,target=/x true\n');
    const result = await runStrata(['parse', bad]);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, `error: ${bad}:2:5: unsupported mount type "cahce" (did you mean cache?)\n`);
  });

  it('parse prints warnings to stderr', async () => {
    const warn = join(dir.path, 'Dockerfile.warn');
    writeFileSync(warn, 'FROM alpine as Base\nMAINTAINER me\nCMD run\n');
    const result = await runStrata(['parse', warn]);
    assert.equal(result.code, 0);
    assert.equal(
      result.stderr,
      [
        `warning: ${warn}:1:1: 'as' and 'FROM' keywords' casing do not match [FromAsCasing]`,
        `warning: ${warn}:1:1: Stage name 'Base' should be lowercase [StageNameCasing]`,
        `warning: ${warn}:2:1: Maintainer instruction is deprecated in favor of using label [MaintainerDeprecated]`,
        `warning: ${warn}:3:1: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals [JSONArgsRecommended]`,
        '',
      ].join('\n'),
    );
  });

  it('reads the Dockerfile of a directory, and says so when there is none', async () => {
    const ok = await runStrata(['stages', dir.path]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /stage-2 \(target\)/);
    const missing = await runStrata(['parse', join(dir.path, 'nope')]);
    assert.equal(missing.code, 1);
    assert.equal(
      missing.stderr,
      `error: no Dockerfile at ${join(dir.path, 'nope')}: ENOENT: no such file or directory, stat '${join(dir.path, 'nope')}' (pass the path of a Dockerfile, or of a directory that holds one)\n`,
    );
  });
});
