import assert from 'node:assert/strict';
import { readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import * as napi from '@napi-rs/xattr';
import { getAttributeSync, listAttributesSync, nativeCalls, setAttributeSync } from '../../src/util/index.ts';
import { tempDir } from '../support/cli.ts';

describe("strata's native addon: extended attributes", () => {
  const work = tempDir('strata-native-');
  after(() => work.cleanup());
  const native = nativeCalls();

  it('has the l*xattr calls, which util/xattr uses', () => {
    assert.ok(native?.llistxattr && native.lgetxattr && native.lsetxattr);
  });

  it('writes what @napi-rs/xattr reads, and reads what it writes', () => {
    const file = join(work.path, 'file');
    writeFileSync(file, 'x');
    setAttributeSync(file, 'user.from-strata', Buffer.from([0, 1, 2, 255]));
    napi.setAttributeSync(file, 'user.from-napi', 'hello');
    assert.deepEqual(napi.getAttributeSync(file, 'user.from-strata'), Buffer.from([0, 1, 2, 255]));
    assert.deepEqual(getAttributeSync(file, 'user.from-napi'), Buffer.from('hello'));
    assert.deepEqual(listAttributesSync(file).sort(), napi.listAttributesSync(file).sort());
    assert.deepEqual(listAttributesSync(file).sort(), ['user.from-napi', 'user.from-strata']);
    setAttributeSync(file, 'user.empty', '');
    assert.deepEqual(getAttributeSync(file, 'user.empty'), Buffer.alloc(0), 'an empty value is not "unset"');
    assert.equal(getAttributeSync(file, 'user.missing'), null);
  });

  it('acts on a symlink itself, never on its target', () => {
    const target = join(work.path, 'target');
    writeFileSync(target, 't');
    setAttributeSync(target, 'user.on-target', 't');
    const link = join(work.path, 'link');
    symlinkSync(target, link);
    assert.deepEqual(listAttributesSync(link), []);
    assert.equal(getAttributeSync(link, 'user.on-target'), null);
    setAttributeSync(link, 'trusted.on-link', 'l'); // user.* is refused on symlinks; trusted.* as root
    assert.deepEqual(getAttributeSync(link, 'trusted.on-link'), Buffer.from('l'));
    assert.equal(getAttributeSync(target, 'trusted.on-link'), null);
  });

  it('throws system errors with their code', () => {
    assert.throws(() => listAttributesSync(join(work.path, 'missing')), {
      code: 'ENOENT',
      syscall: 'llistxattr',
    });
    assert.throws(() => native!.lsetxattr!(join(work.path, 'missing'), 'user.x', Buffer.from('x')), {
      code: 'ENOENT',
    });
    assert.throws(() => native!.mount('overlay', `${work.path}\0evil`, 'overlay', 0, null), /NUL byte/);
  });
});

describe("strata's native addon: copyFile (COPY's regular files)", () => {
  const work = tempDir('strata-native-copy-');
  after(() => work.cleanup());
  const copyFile = nativeCalls()?.copyFile;

  it('copies contents, xattrs (not trusted.overlay.*), owner, set-id mode and nanosecond-ish times', () => {
    assert.ok(copyFile, 'the addon has copyFile');
    const source = join(work.path, 'source');
    const content = Buffer.alloc(300_000, 7);
    content.write('head', 0);
    writeFileSync(source, content);
    setAttributeSync(source, 'user.kept', 'yes');
    setAttributeSync(source, 'trusted.overlay.opaque', 'y');
    const target = join(work.path, 'target');
    copyFile!(source, target, 1234, 5678, 0o4751, 1_700_000_000_123.5, 1_600_000_000_456.25);
    const st = statSync(target, { bigint: true }); // before reading it, which may move its atime
    assert.deepEqual(readFileSync(target), content);
    assert.equal(st.uid, 1234n);
    assert.equal(st.gid, 5678n);
    assert.equal(Number(st.mode & 0o7777n), 0o4751, 'set-uid kept: the mode is set after the owner');
    assert.equal(st.mtimeNs, 1_600_000_000_456_250_000n);
    assert.equal(st.atimeNs, 1_700_000_000_123_500_000n);
    assert.deepEqual(listAttributesSync(target), ['user.kept']);
    assert.deepEqual(getAttributeSync(target, 'user.kept'), Buffer.from('yes'));
    const empty = join(work.path, 'empty');
    writeFileSync(empty, '');
    copyFile!(empty, join(work.path, 'empty-copy'), 0, 0, 0o600, 0, 0);
    assert.equal(readFileSync(join(work.path, 'empty-copy')).length, 0);
  });

  it('never writes an existing file or through a symlink, and never follows a source symlink', () => {
    const source = join(work.path, 's');
    writeFileSync(source, 'new');
    const existing = join(work.path, 'existing');
    writeFileSync(existing, 'old');
    assert.throws(() => copyFile!(source, existing, 0, 0, 0o644, 0, 0), { code: 'EEXIST', syscall: 'open' });
    assert.equal(readFileSync(existing, 'utf8'), 'old');
    const outside = join(work.path, 'outside');
    writeFileSync(outside, 'host file');
    const link = join(work.path, 'link');
    symlinkSync(outside, link);
    assert.throws(() => copyFile!(source, link, 0, 0, 0o644, 0, 0), { code: 'EEXIST' });
    assert.equal(readFileSync(outside, 'utf8'), 'host file');
    assert.throws(() => copyFile!(link, join(work.path, 'via-link'), 0, 0, 0o644, 0, 0), { code: 'ELOOP' });
    assert.throws(() => copyFile!(join(work.path, 'missing'), join(work.path, 'x'), 0, 0, 0o644, 0, 0), {
      code: 'ENOENT',
    });
  });
});
