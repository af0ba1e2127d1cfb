import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CACHE_KEY_VERSION, type CacheKey, cacheKey } from '../../src/cache/index.ts';
import type { Digest } from '../../src/oci/index.ts';
import { type PlannedSolverStep, planSolverSteps } from '../support/solver-step-plans.ts';

/*
 * Golden cache keys. A step's cache key is sha256 over {version, parent key, step definition,
 * inputs}; what goes into it decides when a build reuses a layer. This test pins, for a table of
 * representative steps, the exact inputs the solver's step handlers put into the key and the key
 * itself (test/fixtures/cache-keys/golden.json), so that a change to what goes into a key is a
 * visible change a reviewer sees in the fixture's diff — never a side effect.
 *
 * When a key change is intended: run `STRATA_UPDATE_GOLDEN=1 npm test -- cache-key-golden`, read
 * the fixture's diff, and say in the commit why keys change. If old records would be misread
 * (the same key meaning a different output), bump CACHE_KEY_VERSION (src/cache/cache-key.ts).
 */

const FIXTURE = join(import.meta.dirname, '../fixtures/cache-keys/golden.json');
const UPDATE = process.env.STRATA_UPDATE_GOLDEN === '1';

/** [case name, Dockerfile (the target stage is the last)] */
const CASES: ReadonlyArray<readonly [string, string]> = [
  ['RUN shell and exec form', 'FROM scratch\nRUN echo hi\nRUN ["/bin/true", "a b"]'],
  ['RUN sees ENV and ARG', 'FROM scratch\nARG V=1\nENV A=2 PATH=/opt/bin:$PATH\nRUN echo $A $V'],
  [
    'RUN under SHELL, USER and WORKDIR',
    'FROM scratch\nSHELL ["/bin/bash", "-c"]\nUSER 1000:1000\nWORKDIR /w\nRUN ls',
  ],
  [
    'RUN --network and --security',
    'FROM scratch\nRUN --network=none true\nRUN --network=host --security=insecure true',
  ],
  [
    'RUN cache, tmpfs, secret and ssh mounts',
    'FROM scratch\nRUN --mount=type=cache,target=/root/.cache,id=c1,sharing=locked --mount=type=tmpfs,target=/t,size=1048576 --mount=type=secret,id=tok,required=true,env=TOKEN --mount=type=ssh make',
  ],
  ['RUN bind mount from the context', 'FROM scratch\nRUN --mount=type=bind,source=src,target=/src,rw make'],
  [
    'RUN bind mount from a stage',
    'FROM scratch AS b\nFROM scratch\nRUN --mount=from=b,source=/out,target=/in make',
  ],
  ['RUN heredoc script', 'FROM scratch\nRUN <<EOF\n#!/bin/sh\necho hi\nEOF'],
  ['COPY from the context', 'FROM scratch\nCOPY src /app/'],
  ['COPY --chown --chmod --link', 'FROM scratch\nCOPY --chown=1:2 --chmod=640 --link src/a.txt /a'],
  ['COPY --parents --exclude', 'FROM scratch\nCOPY --parents --exclude=*.md src/ /dst/'],
  ['COPY a wildcard and a symlink', 'FROM scratch\nCOPY src/*.txt link /d/'],
  ['COPY a heredoc', 'FROM scratch\nARG NAME=world\nCOPY <<EOF /greeting\nhello $NAME\nEOF'],
  ['COPY --from a stage', 'FROM scratch AS build\nFROM scratch\nCOPY --from=build /out /out'],
  ['COPY --from an image', 'FROM scratch\nCOPY --from=alpine:3.19 /etc/os-release /'],
  ['COPY relative to WORKDIR', 'FROM scratch\nWORKDIR /srv\nCOPY src/a.txt .'],
  ['ADD a local file', 'FROM scratch\nADD --chmod=755 src/a.txt /bin/a'],
  [
    'ADD a URL with --checksum',
    `FROM scratch\nADD --checksum=sha256:${'ab'.repeat(32)} https://example.com/x.tgz /x`,
  ],
  ['WORKDIR with a USER', 'FROM scratch\nUSER app\nWORKDIR /home/app\nWORKDIR sub'],
  ['config steps do not make keys', 'FROM scratch\nENV A=1\nLABEL l=v\nEXPOSE 80\nCMD ["x"]\nRUN true'],
];

/** One case as the fixture holds it: every layer step's key inputs and key. */
interface GoldenCase {
  readonly dockerfile: string;
  readonly steps: ReadonlyArray<{
    readonly line: string;
    readonly definition: unknown;
    readonly inputs: unknown;
    readonly key: string;
  }>;
}

/** The case as JSON has it (undefined fields dropped, as the key's canonical JSON drops them). */
function golden(dockerfile: string, steps: readonly PlannedSolverStep[]): GoldenCase {
  const layerSteps = steps.flatMap((s) => (s.key === undefined ? [] : [{ line: s.line, ...s.key }]));
  return JSON.parse(JSON.stringify({ dockerfile, steps: layerSteps })) as GoldenCase;
}

describe('golden cache keys: what goes into a step key is a reviewed change', () => {
  let contextDir = '';
  const actual: Record<string, GoldenCase> = {};
  before(() => {
    contextDir = mkdtempSync(join(tmpdir(), 'strata-golden-keys-'));
    mkdirSync(join(contextDir, 'src/sub'), { recursive: true });
    writeFileSync(join(contextDir, 'src/a.txt'), 'a\n');
    writeFileSync(join(contextDir, 'src/b.txt'), 'b\n');
    writeFileSync(join(contextDir, 'src/README.md'), '# readme\n');
    writeFileSync(join(contextDir, 'src/sub/c.bin'), Buffer.from([0, 1, 2, 255]));
    symlinkSync('src/a.txt', join(contextDir, 'link'));
    // Fixed modes, whatever the umask (owners are root's for the context, mtimes never count).
    for (const f of ['src/a.txt', 'src/b.txt', 'src/README.md']) chmodSync(join(contextDir, f), 0o644);
    chmodSync(join(contextDir, 'src/sub/c.bin'), 0o600);
    for (const d of ['src', 'src/sub']) chmodSync(join(contextDir, d), 0o755);
  });
  after(() => {
    rmSync(contextDir, { recursive: true, force: true });
    if (UPDATE)
      writeFileSync(FIXTURE, `${JSON.stringify({ version: CACHE_KEY_VERSION, cases: actual }, null, 2)}\n`);
  });

  it('the key scheme version is the one the fixture was written with', () => {
    if (UPDATE) return;
    const expected = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { version: number };
    assert.equal(
      CACHE_KEY_VERSION,
      expected.version,
      'CACHE_KEY_VERSION changed: regenerate test/fixtures/cache-keys/golden.json (STRATA_UPDATE_GOLDEN=1) and review it',
    );
  });

  it('a key is sha256 over the canonical JSON of {v, parent, inputs}', () => {
    assert.equal(
      cacheKey(undefined, { b: 1, a: [true, null] }),
      cacheKey(undefined, { a: [true, null], b: 1 }),
      'key order must not matter',
    );
    assert.notEqual(cacheKey('p' as CacheKey, {}), cacheKey(undefined, {}));
  });

  for (const [name, dockerfile] of CASES) {
    it(name, async () => {
      const steps = await planSolverSteps(dockerfile, {
        contextDir,
        stageKey: (index) => cacheKey(undefined, { golden: 'stage', index }),
        imageDigest: (ref) =>
          `sha256:${Buffer.from(ref).toString('hex').padEnd(64, '0').slice(0, 64)}` as Digest,
      });
      actual[name] = golden(dockerfile, steps);
      if (UPDATE) return;
      const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { cases: Record<string, GoldenCase> };
      assert.deepEqual(
        actual[name],
        fixture.cases[name],
        `the cache key of "${name}" changed. If that is intended, run STRATA_UPDATE_GOLDEN=1 npm test -- cache-key-golden, review the diff of test/fixtures/cache-keys/golden.json, and bump CACHE_KEY_VERSION when old records would be misread`,
      );
    });
  }
});
