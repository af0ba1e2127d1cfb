import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runStrata, tempDir } from '../support/cli.ts';

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
});
