import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  MountError,
  mountOverlay,
  type OverlayDirs,
  overlayOptions,
  releaseViews,
  unmount,
} from '../../src/snapshot/index.ts';
import { nativeCalls, nativeCallsStatus } from '../../src/util/index.ts';
import { REPO, tempDir } from '../support/cli.ts';

/** Whether `path` is a mount point of this process's namespace. */
function mounted(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === path);
}

/** `count` lower dirs under `cwd` (`l0` top … ), each holding a file named after it. */
function lowers(cwd: string, count: number, name = (i: number) => `l${i}`): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    mkdirSync(join(cwd, name(i)), { recursive: true });
    writeFileSync(join(cwd, name(i), `from-${i}`), `${i}\n`);
    out.push(name(i));
  }
  return out;
}

describe('overlay mounts', () => {
  const work = tempDir('strata-mount-');
  after(() => work.cleanup());

  it('are made with system calls through the addon that npm install built', () => {
    assert.ok(nativeCalls(), nativeCallsStatus());
    assert.match(nativeCallsStatus(), /build\/Release\/strata_native\.node$/);
  });

  it('mount a writable overlay from directories relative to a working directory, and unmount it', async () => {
    const cwd = join(work.path, 'rw');
    const dirs: OverlayDirs = {
      lower: lowers(cwd, 2),
      upper: { upper: 'upper', work: 'work' },
      options: ['index=off'],
    };
    for (const d of ['upper', 'work', 'merged']) mkdirSync(join(cwd, d));
    const target = join(cwd, 'merged');
    await mountOverlay(target, dirs, cwd);
    try {
      assert.ok(mounted(target));
      assert.equal(readFileSync(join(target, 'from-1'), 'utf8'), '1\n', 'the bottom layer shows through');
      writeFileSync(join(target, 'written'), 'w');
    } finally {
      await unmount(target);
    }
    assert.ok(!mounted(target));
    assert.equal(readFileSync(join(cwd, 'upper', 'written'), 'utf8'), 'w', 'writes land in upperdir');
    assert.ok(!existsSync(join(cwd, 'l0', 'written')));
  });

  it('spawn mount(8) with relative paths when the absolute options would not fit in a page', async () => {
    // 40 lowers under a 200-character directory: ~8 kB of absolute options, ~200 bytes relative.
    const cwd = join(work.path, 'x'.repeat(200));
    const dirs: OverlayDirs = { lower: lowers(cwd, 40) };
    assert.ok(overlayOptions(dirs, `${cwd}/`).length > 4096);
    mkdirSync(join(cwd, 'merged'));
    await mountOverlay(join(cwd, 'merged'), dirs, cwd);
    try {
      assert.equal(readFileSync(join(cwd, 'merged', 'from-39'), 'utf8'), '39\n');
      assert.equal(readFileSync(join(cwd, 'merged', 'from-0'), 'utf8'), '0\n');
    } finally {
      await unmount(join(cwd, 'merged'));
    }
  });

  it('count the page limit in bytes, not characters', async () => {
    // 35 lowers under a 50-character, 100-byte name: under 4095 characters, over 4095 bytes.
    const cwd = join(work.path, 'é'.repeat(50));
    const dirs: OverlayDirs = { lower: lowers(cwd, 35) };
    const absolute = overlayOptions(dirs, `${cwd}/`);
    assert.ok(absolute.length < 4095 && Buffer.byteLength(absolute) > 4095);
    mkdirSync(join(cwd, 'merged'));
    await mountOverlay(join(cwd, 'merged'), dirs, cwd);
    try {
      assert.equal(readFileSync(join(cwd, 'merged', 'from-34'), 'utf8'), '34\n');
    } finally {
      await unmount(join(cwd, 'merged'));
    }
  });

  it('report failures with the system error', async () => {
    const cwd = join(work.path, 'bad');
    const dirs: OverlayDirs = { lower: lowers(cwd, 2) };
    await assert.rejects(mountOverlay(join(cwd, 'missing'), dirs, cwd), (error: unknown) => {
      assert.ok(error instanceof MountError);
      assert.match(error.message, /mounting overlay at .*missing failed: ENOENT/);
      return true;
    });
    await assert.rejects(unmount(join(cwd, 'l0')), MountError, 'not a mount point');
  });

  it('fall back to mount(8) and umount(8) when the addon is turned off', () => {
    const cwd = join(work.path, 'spawned');
    lowers(cwd, 2);
    for (const d of ['upper', 'work', 'merged']) mkdirSync(join(cwd, d));
    const script = `
      import { mountOverlay, unmount } from './src/snapshot/index.ts';
      import { nativeCalls } from './src/util/index.ts';
      import { readFileSync, writeFileSync } from 'node:fs';
      if (nativeCalls()) throw new Error('the addon was loaded');
      const cwd = ${JSON.stringify(cwd)};
      await mountOverlay(cwd + '/merged', { lower: ['l0', 'l1'], upper: { upper: 'upper', work: 'work' } }, cwd);
      const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
      writeFileSync(cwd + '/merged/spawned', readFileSync(cwd + '/merged/from-1'));
      await unmount(cwd + '/merged');
      process.stdout.write(String(mounts.includes(' ' + cwd + '/merged ')));
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: REPO,
      env: { ...process.env, STRATA_NATIVE: '0' },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'true', 'it was mounted');
    assert.ok(!mounted(join(cwd, 'merged')), 'and unmounted');
    assert.equal(readFileSync(join(cwd, 'upper', 'spawned'), 'utf8'), '1\n');
  });
});

describe('releaseViews', () => {
  it('releases the newest view first, every view even when one fails, then throws the first failure', async () => {
    const released: string[] = [];
    const view = (name: string, fail = false) => ({
      path: `/${name}`,
      release: async () => {
        released.push(name);
        if (fail) throw new Error(`${name} is busy`);
      },
    });
    await assert.rejects(releaseViews([view('a'), view('b', true), view('c', true), view('d')]), /c is busy/);
    assert.deepEqual(released, ['d', 'c', 'b', 'a']);
  });
});
