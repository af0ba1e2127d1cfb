import assert from 'node:assert/strict';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMountStubs } from '../../src/runtime/index.ts';

describe('createMountStubs', () => {
  let dir: string;
  let root: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'strata-stubs-'));
    root = join(dir, 'rootfs');
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(root, 'etc/hosts'), 'mine\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const mtime = (path: string) => statSync(path, { bigint: true }).mtimeNs;

  it('creates only what is missing, shallowest first, and removes it again with mtimes restored exactly', async () => {
    const etcBefore = mtime(join(root, 'etc'));
    const rootBefore = mtime(root);
    await sleep(5); // so that a bumped mtime would differ
    const stubs = await createMountStubs(root, [
      { path: '/etc/hosts', kind: 'file' },
      { path: '/etc/resolv.conf', kind: 'file' },
      { path: '/run/secrets/token', kind: 'file' },
      { path: '/cache/go/', kind: 'directory' },
    ]);
    assert.deepEqual(stubs.paths, [
      '/etc/resolv.conf',
      '/run',
      '/run/secrets',
      '/run/secrets/token',
      '/cache',
      '/cache/go',
    ]);
    assert.ok(statSync(join(root, 'run/secrets/token')).isFile());
    assert.ok(statSync(join(root, 'cache/go')).isDirectory());
    assert.notEqual(mtime(join(root, 'etc')), etcBefore);
    await stubs.remove();
    assert.deepEqual(readdirSync(root).sort(), ['etc']);
    assert.deepEqual(readdirSync(join(root, 'etc')), ['hosts']);
    assert.equal(mtime(join(root, 'etc')), etcBefore);
    assert.equal(mtime(root), rootBefore);
  });

  it("keeps what the step put in a stub directory, and the step's own change to a parent's mtime", async () => {
    const stubs = await createMountStubs(root, [
      { path: '/run/secrets/token', kind: 'file' },
      { path: '/etc/resolv.conf', kind: 'file' },
    ]);
    await sleep(5);
    writeFileSync(join(root, 'run/pid'), '1\n'); // the step writes next to the mount point
    writeFileSync(join(root, 'etc/new'), 'x\n');
    const etcAfterStep = mtime(join(root, 'etc'));
    await stubs.remove();
    assert.deepEqual(readdirSync(join(root, 'run')), ['pid']);
    assert.deepEqual(readdirSync(join(root, 'etc')).sort(), ['hosts', 'new']);
    assert.equal(mtime(join(root, 'etc')), etcAfterStep);
  });

  it('does not remove a stub the step wrote into', async () => {
    const stubs = await createMountStubs(root, [{ path: '/etc/resolv.conf', kind: 'file' }]);
    writeFileSync(join(root, 'etc/resolv.conf'), 'nameserver 1.1.1.1\n');
    await stubs.remove();
    assert.ok(existsSync(join(root, 'etc/resolv.conf')));
  });

  it('creates stubs through a symlink where it leads inside the root', async () => {
    symlinkSync('/private/var', join(root, 'var'));
    const stubs = await createMountStubs(root, [{ path: '/var/cache/apt', kind: 'directory' }]);
    assert.deepEqual(stubs.paths, [
      '/private',
      '/private/var',
      '/private/var/cache',
      '/private/var/cache/apt',
    ]);
    await stubs.remove();
    assert.equal(existsSync(join(root, 'private')), false);
  });

  it("never removes outside the root when the step swapped a stub's parent for a symlink", async () => {
    const outside = join(dir, 'outside');
    mkdirSync(join(outside, 'secrets'), { recursive: true });
    const stubs = await createMountStubs(root, [{ path: '/run/secrets', kind: 'directory' }]);
    renameSync(join(root, 'run'), join(root, 'run-old'));
    symlinkSync(outside, join(root, 'run')); // on the host this leads to <dir>/outside/secrets
    await stubs.remove();
    assert.ok(existsSync(join(outside, 'secrets')), 'the host directory must survive');
  });
  it("never touches the times of a host directory the step put a symlink to where a stub's parent was", async () => {
    const outside = join(dir, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'file'), 'host\n');
    mkdirSync(join(root, 'a'));
    const stubs = await createMountStubs(root, [{ path: '/a/mnt', kind: 'directory' }]);
    rmSync(join(root, 'a'), { recursive: true });
    symlinkSync(outside, join(root, 'a')); // on the host this leads to <dir>/outside
    const before = statSync(outside, { bigint: true });
    await sleep(20);
    await stubs.remove();
    const after = statSync(outside, { bigint: true });
    assert.equal(after.mtimeNs, before.mtimeNs, 'mtime of the host directory');
    assert.equal(after.ctimeNs, before.ctimeNs, 'ctime of the host directory');
    assert.equal(lstatSync(join(root, 'a')).isSymbolicLink(), true, "the step's symlink stays");
  });
});
