import assert from 'node:assert/strict';
import { symlinkSync, writeFileSync } from 'node:fs';
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
