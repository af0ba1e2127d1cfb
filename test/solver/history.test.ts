import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { goDuration } from '../../src/solver/index.ts';
import { goQuote } from '../../src/util/index.ts';
import { planSolverSteps } from '../support/solver-step-plans.ts';

/** [instruction(s) after FROM scratch, the created_by the solver writes for the last step] */
const cases: readonly [string, string | undefined][] = [
  ['RUN echo hi', 'RUN /bin/sh -c echo hi # buildkit'],
  ['RUN ["echo", "hi there"]', 'RUN echo hi there # buildkit'],
  ['ARG A=1\nARG B\nRUN make', 'RUN |2 A=1 B= /bin/sh -c make # buildkit'],
  ['ARG A=1\nENV A=2\nRUN make', 'RUN |1 A=2 /bin/sh -c make # buildkit'],
  ['ARG A=1\nARG A=3\nRUN make', 'RUN |1 A=3 /bin/sh -c make # buildkit'],
  ['SHELL ["/bin/bash", "-o", "pipefail", "-c"]\nRUN a | b', 'RUN /bin/bash -o pipefail -c a | b # buildkit'],
  ['RUN <<EOF\necho a\necho b\nEOF', 'RUN /bin/sh -c echo a\necho b\n # buildkit'],
  ['RUN <<EOF cat >/x\nhello\nEOF', 'RUN /bin/sh -c <<EOF cat >/x\nhello\nEOF # buildkit'],
  ['RUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF', 'RUN /bin/sh -c /dev/pipes/EOF # buildkit'],
  ['COPY --chown=1:2 --chmod=755 a/b b /dst/', 'COPY --chown=1:2 --chmod=755 a/b b /dst/ # buildkit'],
  ['FROM scratch AS second\nCOPY --from=0 --link /x /y', 'COPY /x /y # buildkit'],
  ['COPY --parents a/b /c', 'COPY --parents a/b /c # buildkit'],
  ['COPY b <<EOF /dst\nx\nEOF', 'COPY b <<EOF /dst # buildkit'],
  [
    `ADD --checksum=sha256:${'a'.repeat(64)} https://example.com/x.tgz /x`,
    'ADD https://example.com/x.tgz /x # buildkit',
  ],
  ['WORKDIR /app', 'WORKDIR /app # buildkit'],
  ['WORKDIR /app\nWORKDIR sub', 'WORKDIR /app/sub # buildkit'],
  ['WORKDIR /', 'WORKDIR /'],
  ['ENV A=1 B="two words"', 'ENV A=1 B=two words'],
  ['ENV LEGACY value with spaces', 'ENV LEGACY=value with spaces'],
  ['LABEL a=1 "b c"=d', 'LABEL a=1 b c=d'],
  ['ARG X Y=2', 'ARG X Y=2'],
  ['USER app', 'USER app'],
  ['EXPOSE 443 80/udp', 'EXPOSE [443/tcp 80/udp]'],
  ['VOLUME /a /b', 'VOLUME [/a /b]'],
  ['STOPSIGNAL SIGKILL', 'STOPSIGNAL SIGKILL'],
  ['SHELL ["pwsh", "-c"]', 'SHELL [pwsh -c]'],
  ['CMD echo "hi"', 'CMD ["/bin/sh" "-c" "echo \\"hi\\""]'],
  ['SHELL ["pwsh", "-c"]\nCMD x', 'CMD ["pwsh" "-c" "x"]'],
  ['CMD ["a", "b c"]', 'CMD ["a" "b c"]'],
  ['ENTRYPOINT ["/app"]', 'ENTRYPOINT ["/app"]'],
  [
    'HEALTHCHECK --interval=1m30s --retries=2 CMD curl -f x',
    'HEALTHCHECK {Test:[CMD-SHELL curl -f x] Interval:1m30s Timeout:0s StartPeriod:0s StartInterval:0s Retries:2}',
  ],
  [
    'HEALTHCHECK CMD ["true"]',
    'HEALTHCHECK {Test:[CMD true] Interval:0s Timeout:0s StartPeriod:0s StartInterval:0s Retries:0}',
  ],
  [
    'HEALTHCHECK NONE',
    'HEALTHCHECK {Test:[NONE] Interval:0s Timeout:0s StartPeriod:0s StartInterval:0s Retries:0}',
  ],
  ['MAINTAINER me', 'MAINTAINER me'],
  ['ONBUILD RUN x', undefined],
];

describe('history created_by: the text the solver writes, as BuildKit does', () => {
  let contextDir = '';
  before(() => {
    contextDir = mkdtempSync(join(tmpdir(), 'strata-history-'));
    mkdirSync(join(contextDir, 'a'));
    for (const name of ['a/b', 'b']) writeFileSync(join(contextDir, name), name);
  });
  after(() => rmSync(contextDir, { recursive: true, force: true }));

  for (const [text, expected] of cases) {
    it(JSON.stringify(text), async () => {
      const steps = await planSolverSteps(`FROM scratch\n${text}`, { contextDir });
      assert.equal(steps.at(-1)!.createdBy, expected);
    });
  }
});

describe('Go formatting of history text', () => {
  it('formats durations like time.Duration.String', () => {
    assert.deepEqual([0, 1, 1500, 2e6, 1.5e9, 90e9, 3600e9, 3661e9, 5e8, -2e9].map(goDuration), [
      '0s',
      '1ns',
      '1.5µs',
      '2ms',
      '1.5s',
      '1m30s',
      '1h0m0s',
      '1h1m1s',
      '500ms',
      '-2s',
    ]);
  });

  it('quotes strings like strconv.Quote', () => {
    assert.equal(goQuote('a "b" \\ \n\t\u0001é'), '"a \\"b\\" \\\\ \\n\\t\\x01é"');
  });
});
