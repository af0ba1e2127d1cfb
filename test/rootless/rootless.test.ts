/**
 * Rootless mode (docs/rootless.md): `strata build` run by an ordinary user enters a user namespace
 * (its subordinate ids, or a single id), and the images it builds equal root's, ownership included.
 *
 * Made as root: two throwaway users (one with /etc/subuid and /etc/subgid ranges, one without),
 * removed afterwards. The examples' bases come from the bootstrapped examples store
 * ($STRATA_EXAMPLES_ROOT, default /var/lib/strata-test/examples; read only), copied through OCI
 * layouts into the user's store and into a root store of the test's own.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runStrata, tempDir } from '../support/cli.ts';
import { leftovers, NOTHING_LEFT, sweepLeftovers } from '../support/leftovers.ts';
import { makeBusyboxTarball } from '../support/rootfs.ts';
import { type ExampleInputs, prepareExamples } from './example-bases.ts';
import { imageFilesystem, listingDifferences, listingDigest } from './image-filesystem.ts';
import { createTestUser, openTunDevice, type TestUser } from './test-user.ts';

const SUBORDINATE = { start: 600000, count: 65536 };

/** Asserts a CLI run succeeded, showing its output when not. */
function assertOk(result: { code: number | null; stdout: string; stderr: string }, what: string): void {
  assert.equal(result.code, 0, `${what} failed:\n${result.stderr.slice(-4000)}`);
}

describe('rootless: strata as an ordinary user, in a user namespace', () => {
  let work: { path: string; cleanup: () => void };
  let user: TestUser;
  let single: TestUser;
  let rootStore: string;
  let tarball: string;
  let restoreTun: () => void;

  const context = (name: string, dockerfile: string): string => {
    const dir = join(work.path, name);
    mkdirSync(dir, { recursive: true });
    execFileSync('sh', ['-c', 'cat > "$1/Dockerfile"', 'sh', dir], { input: dockerfile });
    chmodSync(dir, 0o755);
    return dir;
  };

  before(async () => {
    restoreTun = openTunDevice();
    work = tempDir('strata-rootless-');
    chmodSync(work.path, 0o755);
    rootStore = join(work.path, 'root-store');
    user = createTestUser(`strata-rl${process.pid}`, SUBORDINATE);
    single = createTestUser(`strata-rs${process.pid}`);
    tarball = makeBusyboxTarball(join(work.path, 'base'));
    chmodSync(join(work.path, 'base'), 0o755);
    chmodSync(tarball, 0o644);
    const env = { SOURCE_DATE_EPOCH: '0' };
    const args = ['import', tarball, 'busybox:local', '-m', 'busybox-static test base'];
    assertOk(await runStrata(args, { root: rootStore, env }), 'import as root');
    assertOk(await user.strata(args, { env }), 'import as the user');
    assertOk(await single.strata(args, { env }), 'import as the single-id user');
  });

  after(() => {
    // Each step on its own: one failing must not leave the users or the device mode behind.
    const steps = [
      ...[user?.store, single?.store, rootStore].map((store) => () => {
        if (store && existsSync(store)) sweepLeftovers(store);
      }),
      () => user?.remove(),
      () => single?.remove(),
      () => restoreTun?.(),
      () => work?.cleanup(),
    ];
    const errors: unknown[] = [];
    for (const step of steps) {
      try {
        step();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'rootless test cleanup failed');
  });

  it('strata info says rootless, with the subordinate ranges, and where the store is', async () => {
    const info = await user.strata(['info']);
    assertOk(info, 'info');
    assert.match(info.stdout, new RegExp(`^store: +${user.store}$`, 'm'));
    assert.match(
      info.stdout,
      /^mode: +rootless, subordinate ids: uids 1-65536 → 600000-665535, gids 1-65536 → 600000-665535 /m,
    );
    assert.match(info.stdout, /^snapshotter: +overlay /m);
    assert.match(info.stdout, /^runtime: +(runc|crun) /m);
    assert.match(info.stdout, /inside strata's user namespace/);
    const json = await user.strata(['info', '--json']);
    assert.equal(JSON.parse(json.stdout).privileges.mode, 'rootless');
  });

  it('a RUN chown 1000:1000 gives 1000:1000 in the layer, and the image equals the root-built one', async () => {
    const ctx = context(
      'chown',
      [
        'FROM busybox:local',
        // a file and a directory given to other users, a setuid bit, a symlink and a hard link
        'RUN mkdir -p /d/sub && echo hi > /d/f && chown 1000:1000 /d/f && chown 123:456 /d/sub && chmod 4755 /d/f && ln -s f /d/l && ln /d/f /d/hard',
        // a whiteout and an opaque directory (overlayfs's user.overlay.opaque in the namespace)
        'RUN rm /d/l && rm -rf /d/sub && mkdir /d/sub && touch /d/sub/new && chown 65534:65534 /d/sub/new',
        '',
      ].join('\n'),
    );
    assertOk(
      await runStrata(['build', '--progress', 'plain', '-t', 'rl/chown', ctx], { root: rootStore }),
      'root build',
    );
    const built = await user.strata(['build', '--progress', 'plain', '-t', 'rl/chown', ctx]);
    assertOk(built, 'rootless build');
    const mine = await imageFilesystem(user.store, 'rl/chown:latest');
    const roots = await imageFilesystem(rootStore, 'rl/chown:latest');
    assert.match(mine.get('d/f') ?? '', /^file 4755 1000:1000 /);
    assert.match(mine.get('d/sub') ?? '', /^directory 755 0:0/);
    assert.match(mine.get('d/sub/new') ?? '', /^file 644 65534:65534 /);
    assert.equal(mine.has('d/l'), false);
    assert.deepEqual(listingDifferences(mine, roots), []);
    assert.equal(listingDigest(mine), listingDigest(roots));
  });

  it("RUN reaches the step's own network through slirp4netns from the user namespace", async () => {
    const ctx = context(
      'network',
      'FROM busybox:local\nRUN grep -q tap0 /proc/net/dev && ! grep -q eth0 /proc/net/dev\n',
    );
    const built = await user.strata(['build', '--progress', 'plain', '--no-cache', ctx]);
    assertOk(built, 'build with the sandbox network');
  });

  it('with no subordinate ids: warns, builds what needs only root, and a chown to another id fails the step', async () => {
    const ok = context('single-ok', 'FROM busybox:local\nRUN echo x > /f && chown 0:0 /f\n');
    const built = await single.strata(['build', '--progress', 'plain', '-t', 'rl/single', ok]);
    assertOk(built, 'single-id build');
    assert.match(
      built.stderr,
      new RegExp(
        `^strata: warning: rootless with a single id: ${single.name} has no subordinate uids or gids in /etc/subuid and /etc/subgid; an administrator can give ${single.name} 65536 ids: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${single.name}`,
        'm',
      ),
    );
    assert.match((await imageFilesystem(single.store, 'rl/single:latest')).get('f') ?? '', /^file 644 0:0 /);
    const info = await single.strata(['info']);
    assert.match(
      info.stdout,
      /^mode: +rootless, single id \(only root inside maps to you\): .*chown to any id but 0 fails$/m,
    );
    const chown = context('single-chown', 'FROM busybox:local\nRUN touch /f && chown 1000 /f\n');
    const failed = await single.strata(['build', '--progress', 'plain', chown]);
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /chown: \/f: Invalid argument/);
    assert.match(
      failed.stderr,
      /^error: .*Dockerfile:2: .*RUN failed with exit code 1: touch \/f && chown 1000 \/f$/m,
    );
    // A base with a file owned by uid 1000 cannot be unpacked with a single id: said so.
    const owned = join(work.path, 'owned');
    mkdirSync(join(owned, 'home'), { recursive: true });
    execFileSync('sh', ['-c', 'echo hi > "$1/home/file"', 'sh', owned]);
    const ownedTar = join(work.path, 'owned.tar');
    execFileSync('tar', ['-C', owned, '--owner=1000', '--group=1000', '-cf', ownedTar, 'home']);
    chmodSync(ownedTar, 0o644);
    assertOk(await single.strata(['import', ownedTar, 'owned:local']), 'import of the owned base');
    const unpack = context('single-unpack', 'FROM owned:local\nRUN true\n');
    const refused = await single.strata(['build', '--progress', 'plain', unpack]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(
      refused.stderr,
      /^error: .*cannot unpack layer sha256:[0-9a-f]{64}: \/home is owned by an id this rootless user namespace does not map \(it maps only id 0 \(a single-id mapping\)\).* \(.*has no subordinate uids or gids in \/etc\/subuid and \/etc\/subgid; .*see docs\/rootless.md\)$/m,
    );
    assert.deepEqual(leftovers(single.store), NOTHING_LEFT);
  });

  it('a failed build and an interrupted one leave nothing mounted, running or half-made', async () => {
    const failing = context('failing', 'FROM busybox:local\nRUN touch /x && false\n');
    const failed = await user.strata(['build', '--progress', 'plain', failing]);
    assert.equal(failed.code, 1, failed.stderr);
    assert.deepEqual(leftovers(user.store), NOTHING_LEFT);
    assert.deepEqual(user.processes(), []);

    const slow = context('slow', 'FROM busybox:local\nRUN echo started && sleep 120\n');
    const child = user.spawnStrata(['build', '--progress', 'plain', slow]);
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (/ started$/m.test(stderr)) resolve();
      });
      child.on('exit', () => reject(new Error(`build ended before its step started:\n${stderr}`)));
    });
    // Stopped as CI runners and `timeout` stop a job: SIGTERM to the strata process the user started.
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    assert.equal(code, 143, stderr);
    assert.deepEqual(leftovers(user.store), NOTHING_LEFT);
    assert.deepEqual(user.processes(), []);
  });

  describe("the examples' multi-stage Dockerfiles, built rootless, equal root's builds", () => {
    let inputs: ExampleInputs;
    before(async () => {
      inputs = await prepareExamples({ work: work.path, rootStore, user });
    });

    for (const name of ['go', 'node', 'python']) {
      it(`${name}/Dockerfile.multi`, async () => {
        const example = inputs.examples.find((e) => e.name === name)!;
        const tag = `rl/${name}:multi`;
        const args = inputs.buildArgs(example, tag);
        assertOk(await runStrata(args, { root: rootStore, timeoutMs: 900_000 }), `root build of ${name}`);
        assertOk(await user.strata(args, { timeoutMs: 900_000 }), `rootless build of ${name}`);
        const mine = await imageFilesystem(user.store, tag);
        const roots = await imageFilesystem(rootStore, tag);
        assert.ok(mine.size > 0);
        assert.deepEqual(listingDifferences(mine, roots).slice(0, 40), []);
        assert.equal(listingDigest(mine), listingDigest(roots));
        assert.deepEqual(leftovers(user.store), NOTHING_LEFT);
      });
    }
  });

  it('strata run runs as root of the namespace, and prune removes unpacked layers owned by subordinate ids', async () => {
    const ran = await user.strata(['run', 'busybox:local', 'sh', '-c', 'id -u; cat /proc/self/uid_map']);
    assertOk(ran, 'run');
    assert.match(ran.stdout, /^0$/m);
    assert.match(ran.stdout, new RegExp(`^\\s*0\\s+${user.uid}\\s+1$`, 'm'));
    assert.match(ran.stdout, new RegExp(`^\\s*1\\s+${SUBORDINATE.start}\\s+${SUBORDINATE.count}$`, 'm'));
    // On disk, what the image's uid 1000 owns belongs to the user's subordinate uid 1000.
    const layers = join(user.store, 'snapshots', 'overlay', 'layers');
    const owners = execFileSync('find', [layers, '-printf', '%U\\n'], { encoding: 'utf8' });
    assert.ok(
      owners.split('\n').includes(String(SUBORDINATE.start + 999)),
      'a file owned by subordinate uid 1000',
    );
    const images = JSON.parse((await user.strata(['images', '--json'])).stdout) as Array<{ name: string }>;
    assertOk(await user.strata(['rmi', ...images.map((i) => i.name)]), 'rmi');
    assertOk(await user.strata(['prune', '--all', '--force']), 'prune');
    assert.deepEqual(readdirSync(layers), []);
  });
});
