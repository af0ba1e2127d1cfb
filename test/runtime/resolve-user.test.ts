import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ResolvedUser, resolveUser } from '../../src/runtime/index.ts';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'alice:x:1234:2345:Alice:/home/alice:/bin/sh',
  '',
  'bob:x:1500:1500::/home/bob:/bin/sh',
  'alias:x:1234:99::/alias:/bin/sh',
].join('\n');
const GROUP = [
  'root:x:0:',
  'alice:x:2345:',
  'wheel:x:10:alice,bob',
  'audio:x:29:bob,alice',
  'staff:x:50:',
].join('\n');

describe('resolveUser', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-user-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  writeFileSync(join(rootfs, 'etc/passwd'), PASSWD);
  writeFileSync(join(rootfs, 'etc/group'), GROUP);

  const cases: Array<[string, ResolvedUser]> = [
    ['', { uid: 0, gid: 0, additionalGids: [], home: '/root' }],
    ['root', { uid: 0, gid: 0, additionalGids: [], home: '/root' }],
    ['alice', { uid: 1234, gid: 2345, additionalGids: [10, 29], home: '/home/alice' }],
    // A number is always a uid; the first entry with it wins and its name gives the groups.
    ['1234', { uid: 1234, gid: 2345, additionalGids: [10, 29], home: '/home/alice' }],
    ['alice:staff', { uid: 1234, gid: 50, additionalGids: [], home: '/home/alice' }],
    ['alice:50', { uid: 1234, gid: 50, additionalGids: [], home: '/home/alice' }],
    ['alice:777', { uid: 1234, gid: 777, additionalGids: [], home: '/home/alice' }],
    ['bob', { uid: 1500, gid: 1500, additionalGids: [10, 29], home: '/home/bob' }],
    // uid:gid is BuildKit's fast path: no groups looked up, HOME still from the uid's entry.
    ['1234:1', { uid: 1234, gid: 1, additionalGids: [], home: '/home/alice' }],
    ['4242:4242', { uid: 4242, gid: 4242, additionalGids: [], home: '/' }],
    // A bare unknown uid runs with gid 0.
    ['4242', { uid: 4242, gid: 0, additionalGids: [], home: '/' }],
    ['4242:staff', { uid: 4242, gid: 50, additionalGids: [], home: '/' }],
  ];
  for (const [user, want] of cases) {
    it(`resolves ${JSON.stringify(user)} like runc's GetExecUser`, async () => {
      assert.deepEqual(await resolveUser(rootfs, user), want);
    });
  }

  it('fails on an unknown name with the passwd message', async () => {
    await assert.rejects(resolveUser(rootfs, 'mallory'), {
      code: 'USER_NOT_FOUND',
      message: 'unable to find user mallory: no matching entries in passwd file',
    });
  });

  it('fails on an unknown group name with the group message', async () => {
    await assert.rejects(resolveUser(rootfs, 'alice:nogroup'), {
      code: 'USER_NOT_FOUND',
      message: 'unable to find group nogroup: no matching entries in group file',
    });
  });

  it('treats a rootfs without /etc/passwd as root for the default user and fails for names', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    assert.deepEqual(await resolveUser(empty, ''), { uid: 0, gid: 0, additionalGids: [], home: '/' });
    assert.deepEqual(await resolveUser(empty, '1000'), { uid: 1000, gid: 0, additionalGids: [], home: '/' });
    await assert.rejects(resolveUser(empty, 'alice'), { code: 'USER_NOT_FOUND' });
  });

  it("reads /etc/passwd through a symlink inside the rootfs, never the host's", async () => {
    const linked = join(dir, 'linked');
    mkdirSync(join(linked, 'etc'), { recursive: true });
    mkdirSync(join(linked, 'data'));
    writeFileSync(join(linked, 'data/passwd'), 'carol:x:3000:3000::/home/carol:/bin/sh\n');
    symlinkSync('/data/passwd', join(linked, 'etc/passwd'));
    assert.equal((await resolveUser(linked, 'carol')).uid, 3000);

    const escaping = join(dir, 'escaping');
    mkdirSync(join(escaping, 'etc'), { recursive: true });
    // Followed on the host, this link reaches a passwd file outside the rootfs that has "mallory".
    writeFileSync(join(dir, 'host-passwd'), 'mallory:x:0:0::/:/bin/sh\n');
    symlinkSync(`../../../../../../..${dir}/host-passwd`, join(escaping, 'etc/passwd'));
    await assert.rejects(resolveUser(escaping, 'mallory'), { code: 'USER_NOT_FOUND' });
  });

  it('ignores an /etc/passwd that is not a regular file', async () => {
    const odd = join(dir, 'odd');
    mkdirSync(join(odd, 'etc/passwd'), { recursive: true });
    await assert.rejects(resolveUser(odd, 'root'), { code: 'USER_NOT_FOUND' });
  });
  it('never opens an /etc/group or /etc/passwd that is a FIFO or a device: it reads regular files only', async () => {
    const planted = join(dir, 'planted');
    mkdirSync(join(planted, 'etc'), { recursive: true });
    writeFileSync(join(planted, 'etc/passwd'), 'dave:x:4000:4000::/:/bin/sh\n');
    execFileSync('mkfifo', [join(planted, 'etc/group')]);
    // A writer blocks in open() until someone opens the FIFO for reading: had strata opened it,
    // the writer would get through and exit.
    const writer = spawn('sh', ['-c', `echo x > ${join(planted, 'etc/group')}`], { stdio: 'ignore' });
    await sleep(300); // the writer is waiting in open() by now
    try {
      assert.equal((await resolveUser(planted, 'dave:dave')).uid, 4000);
    } catch (error) {
      assert.match(String(error), /unable to find group dave/);
    }
    const exited = await Promise.race([
      new Promise((resolve) => writer.once('exit', () => resolve(true))),
      sleep(1000).then(() => false),
    ]);
    writer.kill('SIGKILL');
    assert.equal(exited, false, 'the FIFO was opened');
    // A device node (/dev/null's numbers): not opened, not read.
    rmSync(join(planted, 'etc/group'));
    execFileSync('mknod', [join(planted, 'etc/group'), 'c', '1', '3']);
    await assert.rejects(resolveUser(planted, 'dave:dave'), { code: 'USER_NOT_FOUND' });
  });
});
