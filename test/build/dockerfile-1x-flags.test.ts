// Dockerfile 1.14–1.17 flags through `strata build`: symbolic --chmod (keyed by each file's own
// mode) and ADD --unpack=false, checked in the layer strata writes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildRun } from '../support/build-run.ts';
import { runStrata, tempDir } from '../support/cli.ts';

describe('Dockerfile 1.x flags in a build', () => {
  const dir = tempDir('strata-df1x-');
  const root = join(dir.path, 'store');
  after(() => dir.cleanup());

  function context(name: string, dockerfile: string): string {
    const ctx = join(dir.path, name);
    mkdirSync(join(ctx, 'app/bin'), { recursive: true });
    writeFileSync(join(ctx, 'Dockerfile'), dockerfile);
    writeFileSync(join(ctx, 'app/readme'), 'r\n');
    writeFileSync(join(ctx, 'app/bin/tool'), '#!/bin/sh\n');
    chmodSync(join(ctx, 'app/readme'), 0o600);
    chmodSync(join(ctx, 'app/bin/tool'), 0o700);
    return ctx;
  }

  async function listing(ctx: string): Promise<string> {
    const tar = join(dir.path, `${Math.random().toString(16).slice(2)}.tar`);
    const result = await runStrata(['build', '-o', `type=tar,dest=${tar}`, ctx], { root });
    assert.equal(result.code, 0, result.stderr);
    return execFileSync('tar', ['--numeric-owner', '-tvf', tar], { encoding: 'utf8' });
  }

  it('applies a symbolic --chmod to each file: X only where something was executable', async () => {
    const ctx = context('chmod', 'FROM scratch\nCOPY --chmod=u=rwX,go=rX app /app\n');
    const out = await listing(ctx);
    assert.match(out, /-rw-r--r-- 0\/0 .* app\/readme/);
    assert.match(out, /-rwxr-xr-x 0\/0 .* app\/bin\/tool/);
    assert.match(out, /drwxr-xr-x 0\/0 .* app\/bin\/?\n/);
  });

  it('keys a symbolic --chmod by the files’ own modes: a mode change is a cache miss', async () => {
    const ctx = context('chmod-key', 'FROM scratch\nCOPY --chmod=go=rX app /app\n');
    const store = { root, work: dir.path };
    await buildRun(store, ctx);
    assert.deepEqual((await buildRun(store, ctx)).ran, []);
    chmodSync(join(ctx, 'app/readme'), 0o700);
    assert.deepEqual((await buildRun(store, ctx)).ran, ['COPY --chmod=go=rX app /app']);
  });

  it('copies a local archive as it is with ADD --unpack=false', async () => {
    const ctx = context('unpack', 'FROM scratch\nADD --unpack=false app.tar /x/\nADD app.tar /y/\n');
    execFileSync('tar', ['-cf', join(ctx, 'app.tar'), '-C', ctx, 'app']);
    const out = await listing(ctx);
    assert.match(out, / x\/app\.tar\n/);
    assert.match(out, / y\/app\/readme\n/);
    assert.doesNotMatch(out, / x\/app\/readme/);
  });
});
