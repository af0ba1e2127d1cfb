import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDockerfile } from '../../src/dockerfile/index.ts';
import { parsePlatform } from '../../src/oci/index.ts';
import {
  goDuration,
  goQuote,
  historyCreatedBy,
  planBuild,
  runInvocation,
  type Step,
} from '../../src/plan/index.ts';

function steps(text: string, buildArgs: Record<string, string> = {}): readonly Step[] {
  const amd64 = parsePlatform('linux/amd64');
  const graph = planBuild(parseDockerfile(text), { buildArgs, platform: amd64, buildPlatform: amd64 });
  return graph.stages[graph.target]!.steps;
}

/** [instruction(s) after FROM scratch, expected created_by of the last step] */
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
  ['COPY --chown=1:2 --chmod=755 a b /dst/', 'COPY --chown=1:2 --chmod=755 a b /dst/ # buildkit'],
  ['FROM scratch AS second\nCOPY --from=0 --link /x /y', 'COPY /x /y # buildkit'],
  ['COPY --parents a/b /c', 'COPY --parents a/b /c # buildkit'],
  ['COPY a <<EOF /dst\nx\nEOF', 'COPY a <<EOF /dst # buildkit'],
  ['ADD https://example.com/x.tgz /x', 'ADD https://example.com/x.tgz /x # buildkit'],
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
  ['WORKDIR /app', 'WORKDIR /app'],
  ['ONBUILD RUN x', undefined],
];

describe('historyCreatedBy: the text BuildKit writes as created_by', () => {
  for (const [text, expected] of cases) {
    it(JSON.stringify(text), () => {
      const all = steps(`FROM scratch\n${text}`);
      assert.equal(historyCreatedBy(all[all.length - 1]!), expected);
    });
  }

  it('uses the workdir and shell the solver resolved', () => {
    const [workdir, run] = steps('FROM scratch\nWORKDIR sub\nRUN ls');
    assert.equal(historyCreatedBy(workdir!, { workdir: '/app/sub' }), 'WORKDIR /app/sub');
    assert.equal(historyCreatedBy(run!, { shell: ['cmd', '/S', '/C'] }), 'RUN cmd /S /C ls # buildkit');
  });

  it('takes ARG values from the environment the solver resolved', () => {
    const all = steps('FROM scratch\nARG HOME\nRUN true');
    assert.equal(
      historyCreatedBy(all[1]!, { env: new Map([['HOME', '/root']]) }),
      'RUN |1 HOME=/root /bin/sh -c true # buildkit',
    );
  });
});

describe('runInvocation', () => {
  it('turns a lone heredoc with a shebang into a script file', () => {
    const run = steps('FROM scratch\nRUN <<-EOT\n\t#!/bin/sh\n\techo hi\nEOT')[0]!;
    assert.ok(run.kind === 'run');
    assert.deepEqual(runInvocation(run), {
      args: ['/bin/sh', '-c', '/dev/pipes/EOT'],
      script: { path: '/dev/pipes/EOT', content: '#!/bin/sh\necho hi\n' },
    });
  });

  it('appends several heredocs for the shell to read', () => {
    const run = steps('FROM scratch\nRUN <<A cat && <<B cat\na\nA\nb\nB')[0]!;
    assert.ok(run.kind === 'run');
    assert.deepEqual(runInvocation(run).args, ['/bin/sh', '-c', '<<A cat && <<B cat\na\nA\nb\nB']);
  });
});

describe('Go formatting helpers', () => {
  it('formats durations like time.Duration.String', () => {
    assert.deepEqual([0, 1, 1500, 2e6, 1.5e9, 90e9, 3600e9, 3661e9, 5e8].map(goDuration), [
      '0s',
      '1ns',
      '1.5µs',
      '2ms',
      '1.5s',
      '1m30s',
      '1h0m0s',
      '1h1m1s',
      '500ms',
    ]);
  });

  it('quotes strings like strconv.Quote', () => {
    assert.equal(goQuote('a "b" \\ \n\t\u0001é'), '"a \\"b\\" \\\\ \\n\\t\\x01é"');
  });
});
