import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REPO, runStrata, tempDir } from '../support/cli.ts';

const FIXTURES = join(REPO, 'test/fixtures/lint');

interface JsonReport {
  file: string;
  target: string;
  targets: string[];
  findings: { ruleId: string; line: number; message: string; alias?: string; stage?: string }[];
}

/** `strata lint --format json` on a Dockerfile text (or a fixture path): exit status and report. */
async function lintJson(
  cwd: string,
  dockerfile: { text: string } | { fixture: string },
  ...args: string[]
): Promise<{ code: number; stderr: string; report: JsonReport }> {
  let path: string;
  if ('text' in dockerfile) {
    path = join(cwd, `Dockerfile.${Math.random().toString(36).slice(2)}`);
    writeFileSync(path, dockerfile.text);
  } else path = join(FIXTURES, dockerfile.fixture);
  const r = await runStrata(['lint', '--format', 'json', ...args, path], { cwd });
  return {
    code: r.code ?? -1,
    stderr: r.stderr,
    report: JSON.parse(r.stdout || '{"findings":[]}') as JsonReport,
  };
}

const rules = (report: JsonReport) => report.findings.map((f) => `${f.line} ${f.ruleId}`);

const DOCKERFILE = `FROM debian:12
RUN apt-get update && apt-get install -y curl
COPY app.sh /app.sh
`;

describe('strata lint', () => {
  const dir = tempDir('strata-lint-cli-');
  const file = join(dir.path, 'Dockerfile');
  before(() => {
    writeFileSync(file, DOCKERFILE);
  });
  after(() => dir.cleanup());

  it('prints file:line:column, severity, rule id and the fix, and exits 1 on a warning', async () => {
    const r = await runStrata(['lint', 'Dockerfile'], { cwd: dir.path });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^Dockerfile:2:1 warning \[apt-lists-left\] apt package lists/m);
    assert.match(r.stdout, /^ {4}fix: end the same RUN with && rm -rf \/var\/lib\/apt\/lists\/\*/m);
    assert.match(r.stdout, /^Dockerfile:2:1 info \[apt-no-install-recommends\]/m);
    assert.equal(r.stderr, 'error: Dockerfile: 1 finding at or above the --fail-on level\n');
  });

  it('exits 0 with --fail-on none, and with no findings', async () => {
    assert.equal((await runStrata(['lint', '--fail-on', 'none', 'Dockerfile'], { cwd: dir.path })).code, 0);
    const clean = join(dir.path, 'Clean.Dockerfile');
    writeFileSync(clean, 'FROM scratch\nCOPY app /app\n');
    const r = await runStrata(['lint', clean], { cwd: dir.path });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, 'no findings\n');
  });

  it('writes JSON findings', async () => {
    const r = await runStrata(['lint', '--format', 'json', '--fail-on', 'none', 'Dockerfile'], {
      cwd: dir.path,
    });
    const json = JSON.parse(r.stdout) as { file: string; findings: { ruleId: string; line: number }[] };
    assert.equal(json.file, 'Dockerfile');
    assert.deepEqual(
      json.findings.map((f) => [f.line, f.ruleId]),
      [
        [2, 'apt-lists-left'],
        [2, 'apt-no-install-recommends'],
        [2, 'no-cache-mount'],
      ],
    );
  });

  it('writes SARIF 2.1.0 that GitHub code scanning accepts', async () => {
    const r = await runStrata(['lint', '--format', 'sarif', '--fail-on', 'none', 'Dockerfile'], {
      cwd: dir.path,
    });
    const sarif = JSON.parse(r.stdout) as {
      version: string;
      runs: {
        tool: { driver: { name: string; rules: { id: string }[] } };
        results: {
          ruleId: string;
          ruleIndex: number;
          level: string;
          message: { text: string };
          locations: {
            physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } };
          }[];
        }[];
      }[];
    };
    assert.equal(sarif.version, '2.1.0');
    const run = sarif.runs[0]!;
    assert.equal(run.tool.driver.name, 'strata');
    assert.equal(run.results.length, 3);
    for (const result of run.results) {
      assert.equal(run.tool.driver.rules[result.ruleIndex]!.id, result.ruleId);
      assert.ok(['error', 'warning', 'note'].includes(result.level));
      assert.match(result.message.text, /Fix: /);
      const location = result.locations[0]!.physicalLocation;
      assert.equal(location.artifactLocation.uri, 'Dockerfile');
      assert.equal(location.region.startLine, 2);
    }
  });

  it('catches a file dd writes in one RUN and rm removes in a later one', async () => {
    const { report } = await lintJson(dir.path, {
      text: 'FROM debian:12\nWORKDIR /data\nRUN dd if=/dev/urandom of=blob bs=1M count=5\nRUN curl -o /tmp/x.tgz https://example.test/x.tgz\nRUN rm blob /tmp/x.tgz\n',
    });
    const removed = report.findings.filter((f) => f.ruleId === 'removed-in-later-layer');
    assert.equal(removed.length, 1, JSON.stringify(report.findings));
    assert.equal(removed[0]!.line, 5);
    assert.match(removed[0]!.message, /rm \/data\/blob here removes what line 3 \(RUN\) added/);
  });

  it('flags ADD . before the dependency install, as it flags COPY .', async () => {
    const { report } = await lintJson(dir.path, {
      text: 'FROM node:20-slim\nWORKDIR /app\nADD . /app\nRUN --mount=type=cache,target=/root/.npm npm install\n',
    });
    assert.ok(rules(report).includes('3 copy-all-before-install'), rules(report).join('; '));
    assert.match(
      report.findings.find((f) => f.ruleId === 'copy-all-before-install')!.message,
      /^ADD \. comes before npm install/,
    );
  });

  it("reaches hadolint's size and cache rules and names their DL ids", async () => {
    const text = [
      'FROM debian:12 AS app',
      'RUN cd /tmp && apt-get update && apt-get install -y curl',
      'RUN pip install flask',
      'RUN useradd -u 1234567 app',
      'FROM alpine:3.20 AS tools',
      'RUN apk add --no-cache jq',
      'FROM fedora:40',
      'COPY --from=tools / /',
      'RUN dnf install -y jq && yum install -y make',
      'RUN apk add curl',
      'COPY app.tgz /opt/',
      'RUN tar -xzf /opt/app.tgz -C /opt',
      'CMD node server.js',
      '',
    ].join('\n');
    const { report } = await lintJson(dir.path, { text }, '--fail-on', 'none');
    const ids = new Map(report.findings.map((f) => [`${f.line} ${f.ruleId}`, f.alias]));
    const expected: [string, string][] = [
      ['2 cd-instead-of-workdir', 'hadolint DL3003'],
      ['8 copy-entire-filesystem', 'hadolint DL3067'],
      ['9 package-cache-left', 'hadolint DL3032, DL3040, DL3036'],
      ['10 apk-cache-left', 'hadolint DL3019'],
      ['11 copied-archive-extracted', 'hadolint DL3010'],
      ['13 shell-form-command', 'hadolint DL3025, BuildKit JSONArgsRecommended'],
    ];
    for (const [key, alias] of expected)
      assert.equal(ids.get(key), alias, `${key}: ${rules(report).join('; ')}`);
    // yum and dnf each get their own finding; the first stage does not ship, so its size rules stay quiet.
    assert.equal(report.findings.filter((f) => f.ruleId === 'package-cache-left').length, 2);
    assert.ok(
      !rules(report).some((r) => /^[34] /.test(r) && !r.endsWith('no-cache-mount')),
      rules(report).join('; '),
    );
    const human = await runStrata(
      ['lint', '--fail-on', 'none', '--target', 'app', join(dir.path, 'hadolint')],
      {
        cwd: dir.path,
      },
    );
    assert.equal(human.code, 2, 'a missing file cannot be linted');
    writeFileSync(join(dir.path, 'hadolint.Dockerfile'), text);
    const first = await runStrata(['lint', '--fail-on', 'none', '--target', 'app', 'hadolint.Dockerfile'], {
      cwd: dir.path,
    });
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      /^hadolint\.Dockerfile:2:1 info \[apt-no-install-recommends\] .* \(hadolint DL3015\)$/m,
    );
    assert.match(
      first.stdout,
      /^hadolint\.Dockerfile:2:1 warning \[apt-lists-left\] .* \(hadolint DL3009\)$/m,
    );
    assert.match(
      first.stdout,
      /^hadolint\.Dockerfile:3:1 warning \[pip-no-cache-dir\] .* \(hadolint DL3042\)$/m,
    );
    assert.match(
      first.stdout,
      /^hadolint\.Dockerfile:4:1 warning \[useradd-large-uid\] .* \(hadolint DL3046\)$/m,
    );
    const sarif = await runStrata(['lint', '--format', 'sarif', '--fail-on', 'none', 'hadolint.Dockerfile'], {
      cwd: dir.path,
    });
    const driver = (
      JSON.parse(sarif.stdout) as {
        runs: { tool: { driver: { rules: { id: string; properties: { tags: string[] } }[] } } }[];
      }
    ).runs[0]!.tool.driver;
    assert.deepEqual(driver.rules.find((r) => r.id === 'package-cache-left')!.properties.tags, [
      'dockerfile',
      'image-size',
      'DL3032',
      'DL3040',
      'DL3036',
    ]);
  });

  it('lints a Dockerfile whose FROM needs a --build-arg: reports InvalidDefaultArgInFrom and the rest', async () => {
    const { code, report } = await lintJson(dir.path, { fixture: 'oryx-node-runtime-base.Dockerfile' });
    assert.equal(code, 1);
    assert.deepEqual(rules(report), [
      '4 invalid-default-arg-in-from',
      '7 apt-no-install-recommends',
      '7 no-cache-mount',
      '23 copied-archive-extracted',
      '25 removed-in-later-layer',
    ]);
    const finding = report.findings[0]!;
    assert.equal(
      finding.message,
      `Default value for ARG \${BASE_IMAGE} results in empty or invalid base image name`,
    );
    assert.equal(finding.alias, 'BuildKit InvalidDefaultArgInFrom');
    // As BuildKit: the check is on the defaults, whatever --build-arg the build passes.
    const withArg = await lintJson(
      dir.path,
      { fixture: 'oryx-node-runtime-base.Dockerfile' },
      '--build-arg',
      'BASE_IMAGE=debian:12',
    );
    assert.deepEqual(rules(withArg.report), rules(report));
    // The placeholder lint plans with is never reported as an unpinned base.
    const bare = await lintJson(dir.path, { text: `ARG BASE\nFROM \${BASE}\nRUN echo hi\n` });
    assert.deepEqual(rules(bare.report), ['2 invalid-default-arg-in-from']);
  });

  it('does not call the stages of a multi-target Dockerfile unused, and says how to check the other targets', async () => {
    const buildx = await runStrata(['lint', join(FIXTURES, 'buildx.Dockerfile')], { cwd: dir.path });
    assert.equal(buildx.code, 0, buildx.stdout + buildx.stderr);
    assert.equal(buildx.stdout, 'no findings\n');
    assert.match(
      buildx.stderr,
      /^note: .*buildx\.Dockerfile has several targets \(test-coverage, integration-test, release, shell, stage-\d+\); size rules checked stage-\d+, the last stage\. Check another with --target NAME\.$/m,
    );
    const json = await lintJson(dir.path, { fixture: 'buildx.Dockerfile' });
    assert.deepEqual(json.report.targets.slice(0, 4), [
      'test-coverage',
      'integration-test',
      'release',
      'shell',
    ]);
    // Another target is checked with --target: the shell stage ships alpine plus apk packages.
    const shell = await lintJson(
      dir.path,
      { fixture: 'buildx.Dockerfile' },
      '--target',
      'shell',
      '--fail-on',
      'none',
    );
    assert.equal(shell.report.target, 'shell');
    assert.ok(!rules(shell.report).some((r) => r.endsWith('unused-stage')), rules(shell.report).join('; '));
    // compose picks build-alpine or build-debian with --build-arg BUILD_PLATFORM: neither is unused.
    const compose = await lintJson(dir.path, { fixture: 'compose.Dockerfile' }, '--fail-on', 'none');
    assert.ok(
      !rules(compose.report).some((r) => r.endsWith('unused-stage')),
      rules(compose.report).join('; '),
    );
    // BuildKit's authors.Dockerfile: `update` (FROM scratch, only COPY: an export stage) and
    // `validate` are both targets.
    const authors = await lintJson(dir.path, { fixture: 'buildkit-authors.Dockerfile' }, '--fail-on', 'none');
    assert.ok(
      !rules(authors.report).some((r) => r.endsWith('unused-stage')),
      rules(authors.report).join('; '),
    );
    assert.deepEqual(authors.report.targets, ['update', 'validate']);
    // One stray named stage in a single-target Dockerfile is still dead code.
    const stray = await lintJson(
      dir.path,
      {
        text: 'FROM alpine:3.20 AS tools\nRUN echo tools\nFROM alpine:3.20\nRUN echo app\n',
      },
      '--fail-on',
      'none',
    );
    assert.deepEqual(rules(stray.report), ['1 unused-stage']);
    assert.match(stray.report.findings[0]!.message, /stage tools is never used by the target stage stage-1/);
  });

  it('exits 0 when clean, 1 for findings and 2 when it cannot lint', async () => {
    const cases: [string[], string, number, RegExp][] = [
      [[], 'FROM scratch\nCOPY app /app\n', 0, /^$/],
      [
        [],
        'FROM debian:12\nRUN pip install x\n',
        1,
        /^error: .*: 1 finding at or above the --fail-on level$/m,
      ],
      [[], 'FROM alpine:3.20\nFROOM x\n', 2, /^error: .*:2:1: unknown instruction: FROOM/m],
      [['--target', 'nope'], 'FROM alpine:3.20 AS app\n', 2, /^error: .*nope/m],
      [['--fail-on', 'fatal'], 'FROM scratch\n', 2, /^error: --fail-on fatal is not one of/m],
      [['--no-such-flag'], 'FROM scratch\n', 2, /unknown option '--no-such-flag'/],
      [['--build-arg', '=x'], 'FROM scratch\n', 2, /invalid --build-arg/],
    ];
    for (const [args, text, status, stderr] of cases) {
      const path = join(dir.path, 'Exit.Dockerfile');
      writeFileSync(path, text);
      const r = await runStrata(['lint', ...args, path], { cwd: dir.path });
      assert.equal(r.code, status, `${args.join(' ')} ${text}: ${r.stderr}`);
      assert.match(r.stderr, stderr);
    }
    const missing = await runStrata(['lint', join(dir.path, 'does-not-exist')], { cwd: dir.path });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error: cannot read Dockerfile .*does-not-exist/);
  });
});
