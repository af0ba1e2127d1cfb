import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { runStrata } from '../support/cli.ts';

/**
 * Runs `argv` as user `nobody` (65534), as another local user of a shared CI host would. Through
 * a shell: setpriv itself keeps its capabilities until it execs, so its own exec of `argv[0]` would
 * not be checked as nobody's.
 */
function asNobody(argv: string[]) {
  return spawnSync(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', '--', 'sh', '-c', 'exec "$@"', 'sh', ...argv],
    { encoding: 'utf8' },
  );
}

/**
 * The store is private to its owner (issue 16 §3; docker keeps /var/lib/docker 0710): another
 * local user can neither read what builds stored nor run a setuid binary from an unpacked layer
 * (the class of CVE-2021-41091), and a step's bundle (config.json with `env=` secrets) is the
 * owner's alone.
 */
describe('a store other users cannot reach', () => {
  let fx: BuildFixture;
  before(async () => {
    fx = await buildFixture('strata-private-');
    // A setuid-root copy of `id` in a layer, as a hostile or careless image could hold.
    // (RUN chmod, not COPY --chmod=4755: an octal --chmod drops set-id bits, as docker's BuildKit.)
    const ctx = fx.context('suid', {
      Dockerfile: 'FROM busybox:local\nCOPY id /suid-id\nRUN chmod 4755 /suid-id\n',
    });
    copyFileSync('/usr/bin/id', join(ctx, 'id'));
    const built = await runStrata(['build', '-t', 'suid:1', ctx], { root: fx.root });
    assert.equal(built.code, 0, built.stderr);
  });
  after(() => fx.cleanup());

  it('keeps the state root 0700, so a setuid binary in an unpacked layer cannot be run by another user', () => {
    const layers = join(fx.root, 'snapshots/overlay/layers');
    const suid = readdirSync(layers)
      .map((hex) => join(layers, hex, 'fs', 'suid-id'))
      .find((p) => {
        try {
          return (statSync(p).mode & 0o4000) !== 0;
        } catch {
          return false;
        }
      });
    assert.ok(suid, 'the setuid binary is unpacked');
    const run = asNobody([suid!, '-u']);
    assert.notEqual(run.status, 0, `nobody ran it: ${run.stdout}`);
    assert.doesNotMatch(run.stdout, /^0$/m);
    const read = asNobody(['cat', join(fx.root, 'index.json')]);
    assert.notEqual(read.status, 0, 'nobody read the index');
    assert.equal(statSync(fx.root).mode & 0o777, 0o700);
  });

  it('makes a store an older strata left world-readable private when it opens it', async () => {
    chmodSync(fx.root, 0o755);
    const listed = await runStrata(['images'], { root: fx.root });
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(statSync(fx.root).mode & 0o777, 0o700);
  });

  it('keeps runtime state private even when `strata info` made the directory first', async () => {
    const fresh = join(fx.work, 'fresh');
    mkdirSync(fresh);
    const info = await runStrata(['info'], { root: join(fresh, 'store') });
    assert.equal(info.code, 0, info.stderr);
    assert.equal(statSync(join(fresh, 'store')).mode & 0o777, 0o700);
    assert.equal(statSync(join(fresh, 'store', 'runtime')).mode & 0o777, 0o700);
  });

  it("gives a running step's bundle and config.json to the owner only", async () => {
    // The step looks at its own bundle from outside: runc's state names it; list it while it runs.
    const ctx = fx.context('bundle', {
      Dockerfile: 'FROM busybox:local\nRUN --mount=type=secret,id=s,env=S sleep 2\n',
    });
    const building = runStrata(['build', '--no-cache', '--secret', 'id=s,env=HOME', ctx], { root: fx.root });
    const bundles = join(fx.root, 'runtime', 'bundles');
    let seen: { dir: number; config: number } | undefined;
    for (let i = 0; i < 100 && !seen; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      let names: import('node:fs').Dirent[];
      try {
        names = readdirSync(bundles, { withFileTypes: true });
      } catch {
        continue; // not made yet
      }
      for (const name of names) {
        if (!name.isDirectory()) continue;
        try {
          seen = {
            dir: statSync(join(bundles, name.name)).mode & 0o777,
            config: statSync(join(bundles, name.name, 'config.json')).mode & 0o777,
          };
        } catch {
          // not written yet
        }
      }
    }
    const built = await building;
    assert.equal(built.code, 0, built.stderr);
    assert.deepEqual(seen, { dir: 0o700, config: 0o600 });
  });
});
