import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveChown } from '../../src/solver/steps/resolve-chown.ts';

/*
 * `--chown` (and the USER a WORKDIR is made for) resolved as BuildKit's file op resolves an owner
 * (llb.WithUser → readUser), each row checked against docker 20.10's BuildKit by
 * test/build/buildkit-parity-more.test.ts.
 */
describe('resolveChown: owners as BuildKit file ops resolve them', () => {
  let rootfs = '';
  before(() => {
    rootfs = mkdtempSync(join(tmpdir(), 'strata-chown-'));
    mkdirSync(join(rootfs, 'etc'));
    writeFileSync(
      join(rootfs, 'etc/passwd'),
      'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\nnumbered:x:1500:77::/:/bin/sh\n',
    );
    writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\ngrp:x:1001:\nother:x:2000:app\n');
  });
  after(() => rmSync(rootfs, { recursive: true, force: true }));

  const rows: ReadonlyArray<readonly [string, number, number]> = [
    ['app', 1000, 1001], // a name takes its passwd group, not gid = uid
    ['app:other', 1000, 2000],
    ['app:5', 1000, 5],
    ['1234', 1234, 1234], // a number is an id: gid = uid, passwd not read
    ['1500', 1500, 1500], // even when passwd has that uid with another group
    ['1234:5678', 1234, 5678],
    ['7:other', 7, 2000],
    ['root', 0, 0],
    ['root:grp', 0, 1001],
    ['app:', 1000, 0], // an empty group is id 0
    [':grp', 0, 1001], // an empty user is id 0
    ['nosuch', 0, 0], // an unknown name is 0:0, as BuildKit builds on
    ['app:nosuch', 1000, 1001], // an unknown group leaves the user's gid
    ['5:nosuch', 5, 5],
  ];
  for (const [chown, uid, gid] of rows) {
    it(`--chown=${chown} is ${uid}:${gid}`, async () => {
      assert.deepEqual(await resolveChown(rootfs, chown), { uid, gid });
    });
  }

  it('names resolve to 0:0 in an image without passwd or group files; numbers need none', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'strata-chown-empty-'));
    try {
      assert.deepEqual(await resolveChown(empty, 'app:grp'), { uid: 0, gid: 0 });
      assert.deepEqual(await resolveChown(empty, '5:6'), { uid: 5, gid: 6 });
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('refuses an id out of range, saying which', async () => {
    await assert.rejects(resolveChown(rootfs, '-1'), /invalid user or group id -1/);
    await assert.rejects(resolveChown(rootfs, 'app:4294967296'), /invalid user or group id 4294967296/);
  });
});
