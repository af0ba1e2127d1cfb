import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseIsolation, isolationNotice, parseIsolation } from '../../src/runtime/index.ts';
import { InvalidInputError } from '../../src/util/index.ts';

const DOCKER_DEFAULT = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

describe('chooseIsolation', () => {
  const cases = [
    {
      name: 'root on a host: oci',
      requested: 'default',
      euid: 0,
      caps: [...DOCKER_DEFAULT, 'CAP_SYS_ADMIN'],
      mode: 'oci',
      notice: false,
    },
    {
      name: 'root in an unprivileged container: chroot, with the reason',
      requested: 'default',
      euid: 0,
      caps: DOCKER_DEFAULT,
      mode: 'chroot',
      notice: true,
    },
    {
      name: 'an explicit oci is kept where runc cannot run',
      requested: 'oci',
      euid: 0,
      caps: DOCKER_DEFAULT,
      mode: 'oci',
      notice: false,
    },
    {
      name: 'an explicit chroot is kept on a host',
      requested: 'chroot',
      euid: 0,
      caps: [...DOCKER_DEFAULT, 'CAP_SYS_ADMIN'],
      mode: 'chroot',
      notice: false,
    },
    {
      name: 'a non-root user is not sent to chroot (it needs root)',
      requested: 'default',
      euid: 1000,
      caps: [],
      mode: 'oci',
      notice: false,
    },
  ] as const;
  for (const c of cases) {
    it(c.name, () => {
      const choice = chooseIsolation(c.requested, { euid: c.euid, capabilities: c.caps });
      assert.equal(choice.mode, c.mode);
      const notice = isolationNotice(choice);
      if (c.notice) {
        assert.equal(
          notice,
          'RUN steps use --isolation=chroot: runc cannot make a container here (root without CAP_SYS_ADMIN, as in an unprivileged container); the container strata runs in is the boundary (docs/kubernetes.md)',
        );
      } else {
        assert.equal(notice, undefined);
      }
    });
  }
});

describe('parseIsolation', () => {
  it("takes buildah's names, in any case", () => {
    assert.equal(parseIsolation('default'), 'default');
    assert.equal(parseIsolation('OCI'), 'oci');
    assert.equal(parseIsolation('chroot'), 'chroot');
  });
  it('refuses an unknown one with the list', () => {
    assert.throws(
      () => parseIsolation('rootles'),
      (error: unknown) =>
        error instanceof InvalidInputError &&
        error.message === 'unknown isolation "rootles"' &&
        error.hint === 'use one of default, oci, chroot',
    );
  });
});
