import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { setAttributeSync } from '@napi-rs/xattr';
import {
  ChecksumCache,
  type ChecksumOptions,
  ContextView,
  checksumSources,
  compileIgnoreFile,
  hashFileContent,
} from '../../src/context/index.ts';
import { sha256Hex } from '../../src/util/index.ts';
import { makeTree } from './fixture-tree.ts';

const IGNORE = 'ignored\n*.log\n';

/** A fresh context for each case, so cases cannot influence each other. */
function freshContext(): { root: string; remove: () => void } {
  return makeTree({
    'app/main.go': 'package main\n',
    'app/util.go': 'package main // util\n',
    'app/run.sh': '#!/bin/sh\n',
    'app/link': { link: 'main.go' },
    'ignored/big.bin': 'x'.repeat(1000),
    'debug.log': 'log line\n',
    README: 'readme\n',
  });
}

async function sum(root: string, options: Partial<ChecksumOptions> = {}): Promise<string> {
  const view = new ContextView(root, compileIgnoreFile(IGNORE));
  const result = await checksumSources({ view, sources: ['.'], ...options });
  return result.digest;
}

// [what changes, the change, whether the checksum must change]
const changes: Array<[string, (root: string) => void, boolean]> = [
  ['a file is touched (mtime only)', (r) => utimesSync(join(r, 'app/main.go'), 1e9, 1e9), false],
  ['a directory is touched', (r) => utimesSync(join(r, 'app'), 1e9, 1e9), false],
  ['an ignored file changes', (r) => writeFileSync(join(r, 'ignored/big.bin'), 'changed'), false],
  ['an ignored *.log changes', (r) => writeFileSync(join(r, 'debug.log'), 'more'), false],
  ['a file appears in an ignored directory', (r) => writeFileSync(join(r, 'ignored/new'), 'n'), false],
  [
    'the host owner changes (the context is copied as 0:0)',
    (r) => chownSync(join(r, 'README'), 1234, 5678),
    false,
  ],
  ['a file content changes', (r) => writeFileSync(join(r, 'app/main.go'), 'package main // v2\n'), true],
  ['same-size content changes', (r) => writeFileSync(join(r, 'README'), 'README\n'), true],
  ['a file mode changes', (r) => chmodSync(join(r, 'app/run.sh'), 0o755), true],
  ['a directory mode changes', (r) => chmodSync(join(r, 'app'), 0o700), true],
  ['a file is added', (r) => writeFileSync(join(r, 'app/new.go'), ''), true],
  ['an empty directory is added', (r) => mkdirSync(join(r, 'app/empty')), true],
  ['a file is removed', (r) => unlinkSync(join(r, 'app/util.go')), true],
  [
    'an extended attribute is set on a file',
    (r) => setAttributeSync(join(r, 'app/main.go'), 'user.note', 'x'),
    true,
  ],
  [
    'an extended attribute is set on a directory',
    (r) => setAttributeSync(join(r, 'app'), 'user.note', 'x'),
    true,
  ],
  [
    'a symlink target changes',
    (r) => {
      unlinkSync(join(r, 'app/link'));
      symlinkSync('util.go', join(r, 'app/link'));
    },
    true,
  ],
  [
    'a file is renamed',
    (r) => {
      writeFileSync(join(r, 'app/main2.go'), readFileSync(join(r, 'app/main.go')));
      unlinkSync(join(r, 'app/main.go'));
    },
    true,
  ],
];

describe('checksumSources', () => {
  for (const [name, change, differs] of changes) {
    it(`${differs ? 'changes' : 'keeps'} the checksum when ${name}`, async () => {
      const ctx = freshContext();
      try {
        const before = await sum(ctx.root);
        assert.equal(await sum(ctx.root), before, 'stable when nothing changes');
        change(ctx.root);
        const afterChange = await sum(ctx.root);
        if (differs) assert.notEqual(afterChange, before);
        else assert.equal(afterChange, before);
      } finally {
        ctx.remove();
      }
    });
  }

  it('covers exactly the selected files', async () => {
    const ctx = freshContext();
    try {
      const view = new ContextView(ctx.root, compileIgnoreFile(IGNORE));
      const goOnly = await checksumSources({ view, sources: ['app/*.go'] });
      assert.equal(goOnly.files, 2);
      writeFileSync(join(ctx.root, 'app/run.sh'), 'changed');
      writeFileSync(join(ctx.root, 'README'), 'changed');
      const again = await checksumSources({ view: new ContextView(ctx.root), sources: ['app/*.go'] });
      assert.equal(again.digest, goOnly.digest, 'files outside the selection do not count');
      const excluded = await checksumSources({
        view: new ContextView(ctx.root),
        sources: ['app'],
        excludes: ['*.sh'],
      });
      writeFileSync(join(ctx.root, 'app/run.sh'), 'changed again');
      const excludedAgain = await checksumSources({
        view: new ContextView(ctx.root),
        sources: ['app'],
        excludes: ['*.sh'],
      });
      assert.equal(excludedAgain.digest, excluded.digest, '--exclude keeps a file out of the sum');
    } finally {
      ctx.remove();
    }
  });

  it('takes --chown and --chmod overrides instead of the files own values', async () => {
    const ctx = freshContext();
    try {
      const plain = await sum(ctx.root);
      const chowned = await sum(ctx.root, { chown: { uid: 1000, gid: 1000 } });
      assert.notEqual(chowned, plain);
      assert.equal(await sum(ctx.root, { chown: { uid: 1000, gid: 1000 } }), chowned);
      const chmodded = await sum(ctx.root, { chmod: 0o644 });
      chmodSync(join(ctx.root, 'app/run.sh'), 0o755);
      assert.equal(await sum(ctx.root, { chmod: 0o644 }), chmodded, 'the source mode no longer matters');
      const kept = await sum(ctx.root, { keepOwnership: true });
      chownSync(join(ctx.root, 'README'), 1234, 5678);
      assert.notEqual(await sum(ctx.root, { keepOwnership: true }), kept);
    } finally {
      ctx.remove();
    }
  });

  it('leaves extended attributes out when asked to', async () => {
    const ctx = freshContext();
    try {
      const before = await sum(ctx.root, { xattrs: false });
      setAttributeSync(join(ctx.root, 'app/main.go'), 'user.note', 'x');
      assert.equal(await sum(ctx.root, { xattrs: false }), before);
    } finally {
      ctx.remove();
    }
  });

  it('notices an xattr change on a cached file (setxattr changes the ctime)', async () => {
    const ctx = freshContext();
    try {
      const cache = await ChecksumCache.open(join(ctx.root, '.c.json'), { racyWindowMs: 0 });
      const before = await sum(ctx.root, { cache });
      await sleep(50); // past the filesystem's timestamp granularity, so the ctime really moves
      setAttributeSync(join(ctx.root, 'app/util.go'), 'user.note', 'y');
      assert.notEqual(await sum(ctx.root, { cache }), before);
    } finally {
      ctx.remove();
    }
  });

  it("remembers a directory's xattrs until its ctime moves", async () => {
    const ctx = freshContext();
    try {
      // in an ignored directory: saving the cache must not change the context
      const cache = await ChecksumCache.open(join(ctx.root, 'ignored', 'c.json'), { racyWindowMs: 0 });
      const app = join(ctx.root, 'app');
      const before = await sum(ctx.root, { cache });
      assert.equal(cache.lookupDirectoryXattrs(app, lstatSync(app)), '', 'read once, then remembered');
      await sleep(50);
      setAttributeSync(app, 'user.note', 'z');
      assert.equal(cache.lookupDirectoryXattrs(app, lstatSync(app)), undefined, 'setxattr moved the ctime');
      const after = await sum(ctx.root, { cache });
      assert.notEqual(after, before);
      assert.match(cache.lookupDirectoryXattrs(app, lstatSync(app)) ?? '', /^[0-9a-f]{64}$/);
      await cache.save();
      const reopened = await ChecksumCache.open(join(ctx.root, 'ignored', 'c.json'), { racyWindowMs: 0 });
      assert.equal(await sum(ctx.root, { cache: reopened }), after);
      assert.equal(reopened.lookup(app, lstatSync(app)), undefined, 'a directory is no file entry');
    } finally {
      ctx.remove();
    }
  });

  it('tells hardlinked files from equal copies', async () => {
    const linked = makeTree({ a: 'same', b: 'other' });
    const copied = makeTree({ a: 'same', b: 'same' });
    try {
      unlinkSync(join(linked.root, 'b'));
      linkSync(join(linked.root, 'a'), join(linked.root, 'b'));
      const one = await checksumSources({ view: new ContextView(linked.root), sources: ['.'] });
      const two = await checksumSources({ view: new ContextView(copied.root), sources: ['.'] });
      assert.notEqual(one.digest, two.digest, 'a hardlink is written as a link entry');
    } finally {
      linked.remove();
      copied.remove();
    }
  });

  it('refuses to read through a symlink swapped in after the walk', async () => {
    const ctx = makeTree({ small: 's', big: 'b'.repeat(2 << 20), link: { link: '/etc/hostname' } });
    try {
      await assert.rejects(hashFileContent(join(ctx.root, 'link'), 10), { code: 'ELOOP' });
      await assert.rejects(hashFileContent(join(ctx.root, 'link'), 2 << 20), { code: 'ELOOP' });
    } finally {
      ctx.remove();
    }
  });

  it('hashes large files by streaming, to the same sha256', async () => {
    const ctx = makeTree({ big: 'y'.repeat(3 << 20) });
    try {
      assert.equal(await hashFileContent(join(ctx.root, 'big'), 3 << 20), sha256Hex('y'.repeat(3 << 20)));
    } finally {
      ctx.remove();
    }
  });
});

describe('ChecksumCache', () => {
  it('answers unchanged files from the cache, across processes (save and reopen)', async () => {
    const ctx = freshContext();
    const file = join(ctx.root, '..', `${ctx.root.split('/').pop()}-cache/checksums.json`);
    try {
      const view = () => new ContextView(ctx.root, compileIgnoreFile(IGNORE));
      const cold = await ChecksumCache.open(file, { racyWindowMs: 0 });
      const first = await checksumSources({ view: view(), sources: ['.'], cache: cold });
      assert.equal(first.hashedFiles, first.files);
      await cold.save();

      const warm = await ChecksumCache.open(file, { racyWindowMs: 0 });
      const second = await checksumSources({ view: view(), sources: ['.'], cache: warm });
      assert.equal(second.hashedFiles, 0);
      assert.equal(second.digest, first.digest);
      assert.equal(warm.hits, first.files);

      // Same size, mtime restored: the ctime still gives the change away.
      await sleep(50); // past the filesystem's timestamp granularity
      const path = join(ctx.root, 'README');
      writeFileSync(path, 'README\n');
      utimesSync(path, 1e9, 1e9);
      const third = await checksumSources({ view: view(), sources: ['.'], cache: warm });
      assert.equal(third.hashedFiles, 1);
      assert.notEqual(third.digest, first.digest);
    } finally {
      ctx.remove();
      rmSync(join(file, '..'), { recursive: true, force: true });
    }
  });

  it('does not remember files changed moments before they were hashed', async () => {
    const ctx = freshContext();
    const file = join(ctx.root, '.cache.json');
    try {
      const cache = await ChecksumCache.open(file); // default 2 s window; the files are brand new
      await checksumSources({ view: new ContextView(ctx.root), sources: ['app'], cache });
      assert.equal(cache.size, 0);
    } finally {
      ctx.remove();
    }
  });

  it('merges what concurrent processes saved and survives a damaged file', async () => {
    const ctx = freshContext();
    const file = join(ctx.root, '.cache.json');
    try {
      const a = await ChecksumCache.open(file, { racyWindowMs: 0 });
      const b = await ChecksumCache.open(file, { racyWindowMs: 0 });
      await checksumSources({ view: new ContextView(ctx.root), sources: ['app/main.go'], cache: a });
      await checksumSources({ view: new ContextView(ctx.root), sources: ['app/util.go'], cache: b });
      await Promise.all([a.save(), b.save()]);
      assert.equal((await ChecksumCache.open(file)).size, 2);
      writeFileSync(file, '{"version":2,"entries":{"x":[1,2,3');
      assert.equal((await ChecksumCache.open(file)).size, 0);
    } finally {
      ctx.remove();
    }
  });

  it('checksums a 10,000-file context: cold vs warm', async (t) => {
    const spec: Record<string, string> = {};
    for (let d = 0; d < 100; d++)
      for (let f = 0; f < 100; f++) spec[`pkg${d}/file${f}.txt`] = `${d}/${f} `.repeat(50 + ((d * f) % 200));
    const ctx = makeTree(spec);
    const file = join(ctx.root, '.strata-checksums.json');
    try {
      const started = performance.now();
      const cold = await ChecksumCache.open(file, { racyWindowMs: 0 });
      const first = await checksumSources({
        view: new ContextView(ctx.root, compileIgnoreFile('.strata-*')),
        sources: ['.'],
        cache: cold,
      });
      await cold.save();
      const coldMs = performance.now() - started;

      const restarted = performance.now();
      const warm = await ChecksumCache.open(file, { racyWindowMs: 0 });
      const second = await checksumSources({
        view: new ContextView(ctx.root, compileIgnoreFile('.strata-*')),
        sources: ['.'],
        cache: warm,
      });
      await warm.save();
      const warmMs = performance.now() - restarted;

      assert.equal(first.files, 10_000);
      assert.equal(second.hashedFiles, 0);
      assert.equal(second.digest, first.digest);
      const line = `10,000 files, ${(first.bytes / 1e6).toFixed(1)} MB: cold ${coldMs.toFixed(0)} ms, warm ${warmMs.toFixed(0)} ms`;
      t.diagnostic(line);
      console.log(`# checksum bench: ${line}`);
    } finally {
      ctx.remove();
    }
  });
});
