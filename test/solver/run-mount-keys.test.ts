import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { planSolverSteps } from '../support/solver-step-plans.ts';

/*
 * What of a `RUN --mount` goes into the step's cache key, as BuildKit's ExecOp.CacheMap has it
 * (solver/llbsolver/ops/exec.go): the whole ExecOp is hashed, except a cache mount's id and sharing
 * (cleared unless they are the Dockerfile's defaults, which the target already says), so renaming a
 * cache never invalidates a step. A cache mount's uid/gid/mode are an input (dockerfile2llb mounts
 * a Mkdir made with them), a secret's id, env, uid/gid/mode and required are in SecretOpt/SecretEnv,
 * a tmpfs's size in TmpfsOpt, an ssh mount's id and modes in SSHOpt.
 */
describe('RUN --mount: what goes into the cache key (BuildKit ExecOp.CacheMap)', () => {
  let contextDir = '';
  before(() => {
    contextDir = mkdtempSync(join(tmpdir(), 'strata-mount-keys-'));
  });
  after(() => rmSync(contextDir, { recursive: true, force: true }));

  async function keyOf(mount: string): Promise<string> {
    const steps = await planSolverSteps(`FROM scratch\nRUN --mount=${mount} make`, { contextDir });
    const key = steps.at(-1)?.key?.key;
    assert.ok(key, 'the RUN step has a key');
    return key;
  }

  const same: ReadonlyArray<readonly [string, string, string]> = [
    ['a cache mount renamed', 'type=cache,target=/c,id=one', 'type=cache,target=/c,id=two'],
    [
      'a cache mount with another sharing mode',
      'type=cache,target=/c',
      'type=cache,target=/c,sharing=locked',
    ],
  ];
  for (const [name, a, b] of same) {
    it(`keeps the key: ${name}`, async () => assert.equal(await keyOf(a), await keyOf(b)));
  }

  const differ: ReadonlyArray<readonly [string, string, string]> = [
    ['another secret at the same target', 'type=secret,id=a,target=/s', 'type=secret,id=b,target=/s'],
    ['a secret in another variable', 'type=secret,id=a,env=A', 'type=secret,id=a,env=B'],
    ['a secret with another mode', 'type=secret,id=a', 'type=secret,id=a,mode=0444'],
    ['a secret with another owner', 'type=secret,id=a', 'type=secret,id=a,uid=1000'],
    ['a required secret', 'type=secret,id=a', 'type=secret,id=a,required=true'],
    ['a cache mount owned by another user', 'type=cache,target=/c', 'type=cache,target=/c,uid=1000'],
    ['a cache mount with another mode', 'type=cache,target=/c', 'type=cache,target=/c,mode=0700'],
    ['a tmpfs of another size', 'type=tmpfs,target=/t', 'type=tmpfs,target=/t,size=1048576'],
    ['another ssh agent', 'type=ssh', 'type=ssh,id=other'],
  ];
  for (const [name, a, b] of differ) {
    it(`changes the key: ${name}`, async () => assert.notEqual(await keyOf(a), await keyOf(b)));
  }
});
