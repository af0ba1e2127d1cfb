import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { DockerfileError, formatDockerfileError, parseDockerfile } from '../../src/dockerfile/index.ts';

// Golden fixtures: test/fixtures/dockerfile/<case>/{Dockerfile,expected.json}. expected.json is the
// parse result as JSON, or {"error": "<formatted error>"}. Regenerate after a reviewed change with
// STRATA_UPDATE_GOLDEN=1 npm test -- test/dockerfile/golden
const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'dockerfile');
const update = process.env.STRATA_UPDATE_GOLDEN === '1';

function actualFor(dir: string): unknown {
  const text = readFileSync(join(dir, 'Dockerfile'), 'utf8');
  try {
    return JSON.parse(JSON.stringify(parseDockerfile(text)));
  } catch (error) {
    if (error instanceof DockerfileError) return { error: formatDockerfileError(error) };
    throw error;
  }
}

describe('parseDockerfile: golden fixtures', () => {
  const cases = readdirSync(FIXTURES, { withFileTypes: true }).filter((d) => d.isDirectory());
  it('has fixtures to compare against', () => assert.ok(cases.length >= 8));
  for (const entry of cases) {
    it(entry.name, () => {
      const dir = join(FIXTURES, entry.name);
      const actual = actualFor(dir);
      const expectedPath = join(dir, 'expected.json');
      if (update || !existsSync(expectedPath))
        writeFileSync(expectedPath, `${JSON.stringify(actual, null, 2)}\n`);
      assert.deepEqual(actual, JSON.parse(readFileSync(expectedPath, 'utf8')));
    });
  }
});
