import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { buildRun, progressEvents } from '../support/build-run.ts';
import { runStrata } from '../support/cli.ts';
import { freePort, startRegistry, type TestRegistry } from '../support/registry.ts';

/** A CLI build with `--progress json`: its exit code, the warnings it emitted, what ran, the image. */
async function buildJson(fx: BuildFixture, ctx: string, extra: readonly string[]) {
  const iid = join(fx.work, `iid-${Math.random().toString(16).slice(2)}`);
  const result = await runStrata(['build', '--progress', 'json', '--iidfile', iid, ...extra, ctx], {
    root: fx.root,
    env: { SOURCE_DATE_EPOCH: '1700000000' },
  });
  assert.equal(result.code, 0, result.stderr);
  const events = progressEvents(result.stderr) as unknown as {
    type: string;
    level?: string;
    text?: string;
    step?: string;
    name?: string;
  }[];
  const warnings = events.filter((e) => e.type === 'message' && e.level === 'warning').map((e) => e.text!);
  const names = new Map(events.filter((e) => e.type === 'step-started').map((e) => [e.step!, e.name!]));
  const cached = events.filter((e) => e.type === 'step-cached').map((e) => names.get(e.step!)!);
  return { warnings, cached, digest: readFileSync(iid, 'utf8') };
}

describe('--cache-from that cannot be read warns and the build goes on (as BuildKit)', () => {
  let fx: BuildFixture;
  let registry: TestRegistry;
  let secured: TestRegistry;
  let ctx: string;
  before(async () => {
    [registry, secured, fx] = await Promise.all([
      startRegistry(),
      startRegistry({ auth: { kind: 'htpasswd', users: { ci: 'secret' } } }),
      buildFixture('strata-cachefrom-'),
    ]);
    ctx = fx.context('app', {
      Dockerfile: 'FROM busybox:local\nCOPY a.txt /a.txt\nRUN cat /a.txt > /b.txt\n',
      'a.txt': 'a\n',
    });
  });
  after(async () => {
    await Promise.all([registry.stop(), secured.stop()]);
    fx.cleanup();
  });

  it('a ref that does not exist yet (the first build of a branch): warning, exit 0', async () => {
    const ref = `${registry.host}/ci/app:cache-new-branch`;
    const r = await buildJson(fx, ctx, ['--no-cache', '--cache-from', `type=registry,ref=${ref}`]);
    assert.equal(r.warnings.length, 1, r.warnings.join('\n'));
    assert.match(
      r.warnings[0]!,
      new RegExp(`^importing cache manifest from ${ref}: .*(not found|unknown)`, 'i'),
    );
    assert.match(r.warnings[0]!, /\(building without it\)$/);
  });

  it('an image that is not a strata cache: warning naming it, exit 0', async () => {
    const ref = `${registry.host}/ci/plain:1`;
    const pushed = await runStrata(['push', '-q', 'busybox:local', ref], { root: fx.root });
    assert.equal(pushed.code, 0, pushed.stderr);
    const r = await buildJson(fx, ctx, ['--cache-from', `type=registry,ref=${ref}`]);
    assert.equal(r.warnings.length, 1, r.warnings.join('\n'));
    assert.match(
      r.warnings[0]!,
      /is not a strata build cache \(config media type application\/vnd\.oci\.image\.config\.v1\+json\)/,
    );
  });

  it('a registry that refuses the credentials or does not answer: warning, exit 0 (BuildKit does not fail either)', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const r = await buildJson(fx, ctx, [
      '--cache-from',
      `type=registry,ref=${secured.host}/ci/app:cache`,
      '--cache-from',
      `type=registry,ref=${closed}/ci/app:cache`,
    ]);
    assert.equal(r.warnings.length, 2, r.warnings.join('\n'));
    assert.ok(
      r.warnings.some((w) => w.startsWith(`importing cache manifest from ${secured.host}/ci/app:cache: `)),
    );
    assert.ok(r.warnings.some((w) => w.startsWith(`importing cache manifest from ${closed}/ci/app:cache: `)));
  });

  it('a missing local cache directory: warning, exit 0', async () => {
    const dir = join(fx.work, 'no-such-cache');
    const r = await buildJson(fx, ctx, ['--cache-from', `type=local,src=${dir}`]);
    assert.equal(r.warnings.length, 1, r.warnings.join('\n'));
    assert.ok(r.warnings[0]!.startsWith(`importing cache manifest from ${dir}: `), r.warnings[0]);
  });

  it('prints the warning in plain progress', async () => {
    const ref = `${registry.host}/ci/app:cache-plain`;
    const result = await runStrata(
      ['build', '--progress', 'plain', '--cache-from', `type=registry,ref=${ref}`, ctx],
      {
        root: fx.root,
      },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`WARNING: importing cache manifest from ${ref}: `));
  });
});

describe('several --cache-from refs (branch, then main)', () => {
  let registry: TestRegistry;
  const fixtures: BuildFixture[] = [];
  const machine = async () => {
    const fx = await buildFixture('strata-cachefrom-many-');
    fixtures.push(fx);
    return fx;
  };
  before(async () => {
    registry = await startRegistry();
  });
  after(async () => {
    await registry.stop();
    for (const fx of fixtures) fx.cleanup();
  });

  const twoBuilders = (a: string, b: string) => ({
    Dockerfile: [
      'FROM busybox:local AS a',
      'COPY a.txt /a.txt',
      'RUN cat /a.txt > /a.out',
      'FROM busybox:local AS b',
      'COPY b.txt /b.txt',
      'RUN cat /b.txt > /b.out',
      'FROM busybox:local',
      'COPY --from=a /a.out /a.out',
      'COPY --from=b /b.out /b.out',
      '',
    ].join('\n'),
    'a.txt': a,
    'b.txt': b,
  });

  it('uses a record found in any of them: each cache answers the steps it has', async () => {
    const main = `${registry.host}/ci/two:main`;
    const branch = `${registry.host}/ci/two:branch`;
    // "main" built stage a as it is now; "branch" built stage b as it is now.
    const m = await machine();
    await buildRun(m, m.context('ctx', twoBuilders('new a\n', 'old b\n')), [
      '--cache-to',
      `type=registry,ref=${main},mode=max`,
    ]);
    const br = await machine();
    await buildRun(br, br.context('ctx', twoBuilders('old a\n', 'new b\n')), [
      '--cache-to',
      `type=registry,ref=${branch},mode=max`,
    ]);
    const fresh = await machine();
    const now = fresh.context('ctx', twoBuilders('new a\n', 'new b\n'));
    const r = await buildJson(fresh, now, [
      '--cache-from',
      `type=registry,ref=${branch}`,
      '--cache-from',
      `type=registry,ref=${main}`,
    ]);
    assert.deepEqual(r.warnings, []);
    for (const step of [
      'COPY a.txt /a.txt',
      'RUN cat /a.txt > /a.out',
      'COPY b.txt /b.txt',
      'RUN cat /b.txt > /b.out',
    ])
      assert.ok(r.cached.includes(step), `${step} cached; cached: ${r.cached.join(' | ')}`);
    // With only one of them, the other builder's steps run.
    const onlyMain = await machine();
    const r2 = await buildRun(onlyMain, onlyMain.context('ctx', twoBuilders('new a\n', 'new b\n')), [
      '--cache-from',
      `type=registry,ref=${main}`,
    ]);
    assert.ok(r2.ran.includes('RUN cat /b.txt > /b.out'), r2.ran.join(' | '));
    assert.ok(r2.cached.includes('RUN cat /a.txt > /a.out'), r2.cached.join(' | '));
  });

  it('a key both caches hold is taken from the first one named', async () => {
    const files = {
      Dockerfile: 'FROM busybox:local\nCOPY s.txt /s.txt\nRUN head -c 64 /dev/urandom > /r\n',
      's.txt': 's\n',
    };
    const one = `${registry.host}/ci/order:one`;
    const two = `${registry.host}/ci/order:two`;
    const x = await machine();
    const built1 = await buildRun(x, x.context('ctx', files), ['--cache-to', `type=registry,ref=${one}`]);
    const y = await machine();
    const built2 = await buildRun(y, y.context('ctx', files), ['--cache-to', `type=registry,ref=${two}`]);
    assert.notEqual(built1.digest, built2.digest, 'the RUN writes random bytes');
    const z = await machine();
    const twoFirst = await buildRun(z, z.context('ctx', files), [
      '--cache-from',
      `type=registry,ref=${two}`,
      '--cache-from',
      `type=registry,ref=${one}`,
    ]);
    assert.deepEqual(twoFirst.ran, []);
    assert.equal(twoFirst.digest, built2.digest);
    const w = await machine();
    const oneFirst = await buildRun(w, w.context('ctx', files), [
      '--cache-from',
      `type=registry,ref=${one}`,
      '--cache-from',
      `type=registry,ref=${two}`,
    ]);
    assert.equal(oneFirst.digest, built1.digest);
  });
});
