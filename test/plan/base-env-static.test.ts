import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseDockerfile } from '../../src/dockerfile/index.ts';
import { planBuild } from '../../src/plan/index.ts';
import { runStrata, tempDir } from '../support/cli.ts';

/** PGDATA, SIGNAL and PORT come from the base image's ENV, which static planning does not know. */
const DOCKERFILE = `FROM postgres:16-alpine
COPY init.sql /docker-entrypoint-initdb.d/
VOLUME $PGDATA
STOPSIGNAL $SIGNAL
EXPOSE 5432 $PORT/tcp
`;

describe('static planning accepts what a build with the base image’s Env accepts', () => {
  const dir = tempDir('strata-base-env-');
  after(() => dir.cleanup());

  it('strata stages and strata lint take VOLUME, STOPSIGNAL and EXPOSE of variables the base image may set', async () => {
    const file = join(dir.path, 'Dockerfile');
    writeFileSync(file, DOCKERFILE);
    const stages = await runStrata(['stages', file]);
    assert.equal(stages.code, 0, stages.stderr);
    assert.match(stages.stdout, /stage-0 \(target\)\s+docker\.io\/library\/postgres:16-alpine/);
    const lint = await runStrata(['lint', '--fail-on', 'none', file]);
    assert.equal(lint.code, 0, lint.stderr);
  });

  it('the build’s plan with the image’s Env expands them, and still rejects what stays empty', () => {
    const dockerfile = parseDockerfile(DOCKERFILE);
    const env = ['PGDATA=/var/lib/postgresql/data', 'SIGNAL=SIGINT', 'PORT=8080'];
    const graph = planBuild(dockerfile, {
      baseImageEnv: new Map([['docker.io/library/postgres:16-alpine', env]]),
    });
    const steps = graph.stages[0]!.steps;
    assert.deepEqual(
      steps.map((s) =>
        s.kind === 'volume'
          ? s.volumes
          : s.kind === 'stopsignal'
            ? s.signal
            : s.kind === 'expose'
              ? s.ports
              : '',
      ),
      ['', ['/var/lib/postgresql/data'], 'SIGINT', ['8080/tcp', '5432/tcp']],
    );
    assert.throws(
      () =>
        planBuild(dockerfile, {
          baseImageEnv: new Map([['docker.io/library/postgres:16-alpine', ['SIGNAL=SIGINT', 'PORT=1']]]),
        }),
      /Dockerfile:3:1: VOLUME specified can not be an empty string|VOLUME specified can not be an empty string/,
    );
  });

  it('a variable nothing can set is still an error: FROM scratch, or an ARG set to empty', () => {
    assert.throws(
      () => planBuild(parseDockerfile('FROM scratch\nVOLUME $NOPE\n')),
      /VOLUME specified can not be an empty string/,
    );
    assert.throws(
      () => planBuild(parseDockerfile('FROM alpine:3.20\nARG EMPTY=\nVOLUME $EMPTY\n')),
      /VOLUME specified can not be an empty string/,
    );
    assert.throws(
      () => planBuild(parseDockerfile('FROM alpine:3.20\nSTOPSIGNAL SIGNOPE\n')),
      /invalid signal/,
    );
  });
});

describe('strata stages on a FROM that needs a --build-arg', () => {
  const dir = tempDir('strata-from-arg-');
  after(() => dir.cleanup());

  it('says which --build-arg to pass, and plans once it is given', async () => {
    const file = join(dir.path, 'Dockerfile');
    writeFileSync(
      file,
      `ARG GO_VERSION\nARG BASE\nFROM golang:\${GO_VERSION}-alpine AS build\nFROM \${BASE}\n`,
    );
    const missing = await runStrata(['stages', file]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /^error: .*Dockerfile:3:1: FROM golang:\$\{GO_VERSION\}-alpine needs a build argument: .*\(pass --build-arg GO_VERSION=…: the Dockerfile gives ARG GO_VERSION no default\)$/m,
    );
    const half = await runStrata(['stages', file, '--build-arg', 'GO_VERSION=1.22']);
    assert.match(half.stderr, /Dockerfile:4:1: FROM \$\{BASE\} needs a build argument: .*--build-arg BASE=…/);
    const both = await runStrata([
      'stages',
      file,
      '--build-arg',
      'GO_VERSION=1.22',
      '--build-arg',
      'BASE=alpine:3.20',
    ]);
    assert.equal(both.code, 0, both.stderr);
    assert.match(both.stdout, /docker\.io\/library\/golang:1\.22-alpine/);
  });
});
