import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LINT_RULES, lintDockerfile } from '../../src/analyze/index.ts';
import { tempDir } from '../support/cli.ts';

/** Each rule: a Dockerfile that triggers it (at `line`) and a fixed one that does not. */
interface RuleCase {
  readonly rule: string;
  readonly triggers: string;
  readonly line: number;
  readonly passes: string;
}

const CASES: readonly RuleCase[] = [
  {
    rule: 'final-stage-toolchain-image',
    triggers: 'FROM golang:1.22\nCOPY . .\nRUN go build -o /app .\n',
    line: 1,
    passes:
      'FROM golang:1.22 AS build\nCOPY . .\nRUN go build -o /app .\nFROM gcr.io/distroless/static:nonroot\nCOPY --from=build /app /app\n',
  },
  {
    rule: 'final-stage-compiler-packages',
    triggers: 'FROM alpine:3.20\nRUN apk add --no-cache gcc musl-dev\n',
    line: 2,
    passes:
      'FROM alpine:3.20\nRUN apk add --no-cache --virtual .build-deps gcc musl-dev && make && apk del .build-deps\n',
  },
  {
    rule: 'apt-lists-left',
    triggers: 'FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl\n',
    line: 2,
    passes:
      'FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n',
  },
  {
    rule: 'apt-no-install-recommends',
    triggers:
      'FROM debian:12\nRUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n',
    line: 2,
    passes:
      'FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n',
  },
  {
    rule: 'pip-no-cache-dir',
    triggers: 'FROM python:3.12-slim\nRUN pip install flask\n',
    line: 2,
    passes: 'FROM python:3.12-slim\nRUN pip install --no-cache-dir flask\n',
  },
  {
    rule: 'js-cache-left',
    triggers: 'FROM node:20-slim\nWORKDIR /app\nCOPY package.json package-lock.json ./\nRUN npm ci\n',
    line: 4,
    passes:
      'FROM node:20-slim\nWORKDIR /app\nCOPY package.json package-lock.json ./\nRUN --mount=type=cache,target=/root/.npm npm ci\n',
  },
  {
    rule: 'removed-in-later-layer',
    triggers:
      'FROM alpine:3.20\nRUN wget -O /tmp/data.tgz http://example.test/data.tgz\nRUN rm -f /tmp/data.tgz\n',
    line: 3,
    passes:
      'FROM alpine:3.20\nRUN wget -O /tmp/data.tgz http://example.test/data.tgz && tar -xzf /tmp/data.tgz -C /opt && rm -f /tmp/data.tgz\n',
  },
  {
    rule: 'copy-all-before-install',
    triggers: 'FROM node:20-slim\nWORKDIR /app\nCOPY . .\nRUN --mount=type=cache,target=/root/.npm npm ci\n',
    line: 3,
    passes:
      'FROM node:20-slim\nWORKDIR /app\nCOPY package.json package-lock.json ./\nRUN --mount=type=cache,target=/root/.npm npm ci\nCOPY . .\n',
  },
  {
    rule: 'add-instead-of-copy',
    triggers: 'FROM alpine:3.20\nADD app.py /app/\n',
    line: 2,
    passes:
      'FROM alpine:3.20\nADD rootfs.tar.gz /\nADD https://example.test/tool /usr/local/bin/tool\nCOPY app.py /app/\n',
  },
  {
    rule: 'unpinned-base-image',
    triggers: 'FROM alpine:3.20 AS a\nFROM ubuntu:latest\n',
    line: 2,
    passes: 'FROM alpine:3.20 AS a\nFROM ubuntu:24.04\nFROM a\n',
  },
  {
    rule: 'unused-stage',
    triggers: 'FROM alpine:3.20 AS tools\nRUN echo tools\nFROM alpine:3.20\nRUN echo app\n',
    line: 1,
    passes: 'FROM alpine:3.20 AS tools\nRUN echo tools > /t\nFROM alpine:3.20\nCOPY --from=tools /t /t\n',
  },
  {
    rule: 'secret-in-arg-env',
    triggers: 'FROM alpine:3.20\nARG NPM_TOKEN\nRUN echo build\n',
    line: 2,
    passes:
      'FROM alpine:3.20\nARG PUBLIC_KEY\nARG KEYBOARD_LAYOUT\nRUN --mount=type=secret,id=npm_token echo build\n',
  },
  {
    rule: 'apk-cache-left',
    triggers: 'FROM alpine:3.20\nRUN apk update && apk add curl\n',
    line: 2,
    passes:
      'FROM alpine:3.20\nRUN apk add --no-cache curl\nRUN apk add curl && rm -rf /var/cache/apk/*\nRUN --mount=type=cache,target=/var/cache/apk apk add jq\n',
  },
  {
    rule: 'package-cache-left',
    triggers: 'FROM fedora:40\nRUN dnf install -y jq\n',
    line: 2,
    passes:
      'FROM fedora:40\nRUN dnf install -y jq && dnf clean all\nFROM rockylinux:9\nRUN yum install -y jq && yum clean all\nFROM opensuse/leap:15.6\nRUN zypper install -y jq && zypper clean --all\n',
  },
  {
    rule: 'useradd-large-uid',
    triggers: 'FROM debian:12\nRUN useradd -u 1000000001 app\n',
    line: 2,
    passes: 'FROM debian:12\nRUN useradd -l -u 1000000001 app && useradd -u 1001 other\n',
  },
  {
    rule: 'copy-overwrites-copy',
    // strata init node's template before the fix: node_modules copied, then all of /app again.
    triggers:
      'FROM node:20 AS build\nWORKDIR /app\nRUN npm ci\nFROM node:20-slim\nWORKDIR /app\nCOPY --from=build /app/node_modules ./node_modules\nCOPY --from=build /app ./\n',
    line: 7,
    passes:
      'FROM node:20 AS build\nWORKDIR /app\nRUN npm ci\nFROM node:20-slim\nWORKDIR /app\nCOPY package.json ./\nRUN npm ci\nCOPY . .\nCOPY --from=build /app/node_modules ./node_modules\nCOPY --from=build /app/dist ./dist\n',
  },
  {
    rule: 'copy-entire-filesystem',
    triggers: 'FROM alpine:3.20 AS tools\nRUN apk add --no-cache jq\nFROM scratch\nCOPY --from=tools / /\n',
    line: 4,
    passes:
      'FROM alpine:3.20 AS tools\nRUN apk add --no-cache jq\nFROM scratch\nCOPY --from=tools /usr/bin/jq /usr/bin/\n',
  },
  {
    rule: 'copied-archive-extracted',
    triggers:
      'FROM debian:12\nCOPY app.tar.gz /tmp/\nRUN tar -xzf /tmp/app.tar.gz -C /opt && rm /tmp/app.tar.gz\n',
    line: 2,
    passes:
      'FROM debian:12\nRUN --mount=type=bind,source=app.tar.gz,target=/tmp/app.tar.gz tar -xzf /tmp/app.tar.gz -C /opt\nADD app.tar.gz /opt/\n',
  },
  {
    rule: 'invalid-default-arg-in-from',
    triggers: `ARG GO_VERSION\nFROM golang:\${GO_VERSION}-alpine\nRUN echo hi\n`,
    line: 2,
    passes: `ARG GO_VERSION=1.22\nFROM golang:\${GO_VERSION}-alpine\nRUN echo hi\n`,
  },
  {
    rule: 'cd-instead-of-workdir',
    triggers: 'FROM alpine:3.20\nRUN cd /src && make\n',
    line: 2,
    passes: 'FROM alpine:3.20\nWORKDIR /src\nRUN make\n',
  },
  {
    rule: 'shell-form-command',
    triggers: 'FROM alpine:3.20\nCMD node server.js\n',
    line: 2,
    passes: 'FROM alpine:3.20\nENTRYPOINT ["node"]\nCMD ["server.js"]\n',
  },
  {
    rule: 'no-cache-mount',
    triggers:
      'FROM golang:1.22 AS build\nRUN go build -o /app .\nFROM scratch\nCOPY --from=build /app /app\n',
    line: 2,
    passes:
      'FROM golang:1.22 AS build\nRUN --mount=type=cache,target=/root/.cache/go-build go build -o /app .\nFROM scratch\nCOPY --from=build /app /app\n',
  },
];

const dirs: Array<() => void> = [];
after(() => {
  for (const cleanup of dirs) cleanup();
});

function findingsOf(findings: readonly { ruleId: string; line: number }[], rule: string) {
  return findings.filter((f) => f.ruleId === rule);
}

describe('lint rules: each triggers on a bad Dockerfile and stays quiet on the fixed one', () => {
  for (const c of CASES) {
    it(`${c.rule} fires at line ${c.line}`, async () => {
      const { findings } = await lintDockerfile(c.triggers);
      const hits = findingsOf(findings, c.rule);
      assert.ok(hits.length > 0, `${c.rule} did not fire: ${JSON.stringify(findings)}`);
      assert.equal(hits[0]!.line, c.line);
      const f = findings.find((x) => x.ruleId === c.rule)!;
      assert.equal(f.file, 'Dockerfile');
      assert.ok(f.fix.length > 10, 'every finding says how to fix it');
    });
    it(`${c.rule} stays quiet once fixed`, async () => {
      const { findings } = await lintDockerfile(c.passes);
      assert.deepEqual(findingsOf(findings, c.rule), []);
    });
  }

  it('missing-dockerignore fires when the context holds node_modules and .git, and not with a .dockerignore', async () => {
    const dir = tempDir('strata-lint-');
    dirs.push(dir.cleanup);
    mkdirSync(join(dir.path, 'node_modules/left-pad'), { recursive: true });
    mkdirSync(join(dir.path, '.git'));
    const text = 'FROM node:20-slim\nCOPY . /app\n';
    const bad = await lintDockerfile(text, { contextDir: dir.path });
    const hit = bad.findings.find((f) => f.ruleId === 'missing-dockerignore');
    assert.ok(hit);
    assert.equal(hit.line, 2);
    assert.match(hit.message, /\.git, node_modules/);
    writeFileSync(join(dir.path, '.dockerignore'), 'node_modules\n.git\n');
    const good = await lintDockerfile(text, { contextDir: dir.path });
    assert.equal(good.findings.filter((f) => f.ruleId === 'missing-dockerignore').length, 0);
  });

  it('missing-dockerignore counts large files', async () => {
    const dir = tempDir('strata-lint-');
    dirs.push(dir.cleanup);
    writeFileSync(join(dir.path, 'dump.sql'), Buffer.alloc(2000));
    const { findings } = await lintDockerfile('FROM alpine:3.20\nCOPY . /app\n', {
      contextDir: dir.path,
      largeFileBytes: 1000,
    });
    assert.match(findings.find((f) => f.ruleId === 'missing-dockerignore')?.message ?? '', /dump\.sql/);
  });

  it('covers every rule in the table', () => {
    const tested = new Set([...CASES.map((c) => c.rule), 'missing-dockerignore']);
    assert.deepEqual(
      LINT_RULES.map((r) => r.id).filter((id) => !tested.has(id)),
      [],
    );
  });

  it('removed-in-later-layer stays quiet when each RUN removes what it made itself (docker-library/python)', async () => {
    const { findings } = await lintDockerfile(
      [
        'FROM debian:12',
        'RUN apt-get update; apt-get install -y --no-install-recommends ca-certificates; rm -rf /var/lib/apt/lists/*',
        'RUN apt-get update; apt-get install -y --no-install-recommends gcc; rm -rf /var/lib/apt/lists/*',
        'RUN apt-get update && apt-get install -y --no-install-recommends curl',
        'RUN rm -rf /var/lib/apt/lists/*',
        '',
      ].join('\n'),
    );
    assert.deepEqual(
      findings.filter((f) => f.ruleId === 'removed-in-later-layer').map((f) => f.line),
      [5],
    );
  });

  it("final-stage-compiler-packages knows Debian's apt-mark auto + purge --auto-remove idiom", async () => {
    const run = (purge: string) =>
      [
        'FROM debian:12',
        'RUN set -eux; savedAptMark="$(apt-mark showmanual)"; apt-get update; \\',
        '  apt-get install -y --no-install-recommends gcc libssl-dev; make; \\',
        `  apt-mark auto '.*' > /dev/null; apt-mark manual $savedAptMark; ${purge}; rm -rf /var/lib/apt/lists/*`,
        '',
      ].join('\n');
    const quiet = await lintDockerfile(
      run('apt-get purge -y --auto-remove -o APT::AutoRemove::RecommendsImportant=false'),
    );
    assert.deepEqual(
      quiet.findings.filter((f) => f.ruleId === 'final-stage-compiler-packages'),
      [],
    );
    const kept = await lintDockerfile(run('true'));
    assert.equal(kept.findings.filter((f) => f.ruleId === 'final-stage-compiler-packages').length, 1);
  });

  it('leaves size rules out of build stages whose layers never ship', async () => {
    const { findings } = await lintDockerfile(
      'FROM debian:12 AS build\nRUN apt-get update && apt-get install -y gcc\nRUN pip install x\nFROM scratch\nCOPY --from=build /bin/true /true\n',
    );
    const ids = new Set(findings.map((f) => f.ruleId));
    for (const size of [
      'apt-lists-left',
      'apt-no-install-recommends',
      'pip-no-cache-dir',
      'final-stage-compiler-packages',
    ])
      assert.ok(!ids.has(size), `${size} fired in a build stage`);
    assert.ok(ids.has('no-cache-mount'), 'build-speed advice still applies to build stages');
  });
});

describe('lint on whole Dockerfiles', () => {
  it('gives a single-stage Go service the multi-stage and cache advice, and the fixed one nothing', async () => {
    const single = await lintDockerfile(
      [
        'FROM golang:1.22',
        'WORKDIR /src',
        'COPY . .',
        'RUN go mod download',
        'RUN go build -o /usr/local/bin/app ./cmd/app',
        'CMD ["app"]',
        '',
      ].join('\n'),
    );
    assert.deepEqual(
      single.findings.map((f) => [f.line, f.ruleId]),
      [
        [1, 'final-stage-toolchain-image'],
        [3, 'copy-all-before-install'],
        [4, 'no-cache-mount'],
        [5, 'no-cache-mount'],
      ],
    );
    const multi = await lintDockerfile(
      [
        'FROM golang:1.22 AS build',
        'WORKDIR /src',
        'COPY go.mod go.sum ./',
        'RUN --mount=type=cache,target=/go/pkg/mod go mod download',
        'COPY . .',
        'RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \\',
        '    CGO_ENABLED=0 go build -o /out/app ./cmd/app',
        '',
        'FROM gcr.io/distroless/static-debian12:nonroot',
        'COPY --from=build /out/app /app',
        'ENTRYPOINT ["/app"]',
        '',
      ].join('\n'),
    );
    assert.deepEqual(multi.findings, []);
  });
});

describe('# check=skip= directive', () => {
  const text = 'FROM debian:12\nRUN apt-get update && apt-get install -y curl\n';
  it('drops the rules it names, by id, PascalCase name or hadolint id', async () => {
    const all = (await lintDockerfile(text)).findings.map((f) => f.ruleId);
    assert.deepEqual(all, ['apt-lists-left', 'apt-no-install-recommends', 'no-cache-mount']);
    const skipped = await lintDockerfile(`# check=skip=apt-lists-left,DL3015,NoCacheMount\n${text}`);
    assert.deepEqual(skipped.findings, []);
  });
  it('skip=all drops everything', async () => {
    assert.deepEqual((await lintDockerfile(`# check=skip=all\n${text}`)).findings, []);
  });
});
