import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_CAPABILITIES,
  defaultSeccomp,
  generateSpec,
  type SpecOptions,
  withDefaultEnv,
} from '../../src/runtime/index.ts';

const base: SpecOptions = {
  rootfs: '/var/lib/strata/rootfs',
  args: ['/bin/sh', '-c', 'make'],
  env: ['A=1'],
  cwd: '/src',
  user: { uid: 1000, gid: 1000, additionalGids: [27], home: '/home/u' },
  hostname: 'buildkitsandbox',
  network: 'host',
  hostsPath: '/b/hosts',
  resolvConfPath: '/b/resolv.conf',
};

describe('generateSpec', () => {
  it('shares the host network by default and unshares it for network none', () => {
    const types = (options: SpecOptions) => generateSpec(options).linux.namespaces.map((n) => n.type);
    assert.deepEqual(types(base), ['pid', 'ipc', 'uts', 'mount']);
    assert.deepEqual(types({ ...base, network: 'none' }), ['pid', 'ipc', 'uts', 'mount', 'network']);
    assert.deepEqual(
      generateSpec({ ...base, network: 'sandbox', networkNamespace: '/run/netns/s' }).linux.namespaces.at(-1),
      {
        type: 'network',
        path: '/run/netns/s',
      },
    );
    assert.throws(() => generateSpec({ ...base, network: 'sandbox' }), { code: 'INVALID_INPUT' });
  });

  it('mounts the kernel filesystems, no /run tmpfs, and the generated etc files read-only', () => {
    const mounts = generateSpec(base).mounts;
    assert.deepEqual(
      mounts.map((m) => `${m.destination} ${m.type}`),
      [
        '/proc proc',
        '/dev tmpfs',
        '/dev/pts devpts',
        '/dev/shm tmpfs',
        '/dev/mqueue mqueue',
        '/sys sysfs',
        '/sys/fs/cgroup cgroup',
        '/etc/resolv.conf bind',
        '/etc/hosts bind',
      ],
    );
    assert.ok(mounts.find((m) => m.destination === '/sys')?.options.includes('ro'));
    assert.deepEqual(
      mounts.find((m) => m.destination === '/etc/hosts'),
      {
        destination: '/etc/hosts',
        type: 'bind',
        source: '/b/hosts',
        options: ['nosuid', 'noexec', 'nodev', 'rbind', 'ro'],
      },
    );
  });

  it('orders step mounts parents first and lets a step mount replace a standard one in place', () => {
    const mounts = generateSpec({
      ...base,
      mounts: [
        { destination: '/a/b/c', type: 'tmpfs', source: 'tmpfs', options: [] },
        { destination: '/a', type: 'bind', source: '/h/a', options: ['rbind', 'ro'] },
        { destination: '/etc/hosts', type: 'bind', source: '/mine', options: ['rbind', 'ro'] },
      ],
    }).mounts;
    assert.deepEqual(
      mounts.slice(-3).map((m) => m.destination),
      ['/etc/hosts', '/a', '/a/b/c'],
    );
    assert.equal(mounts.find((m) => m.destination === '/etc/hosts')?.source, '/mine');
    assert.equal(mounts.filter((m) => m.destination === '/etc/hosts').length, 1);
  });

  it("runs the process as the resolved user with Docker's capabilities and rlimits", () => {
    const spec = generateSpec(base);
    assert.deepEqual(spec.process.user, { uid: 1000, gid: 1000, additionalGids: [27] });
    assert.equal(spec.process.terminal, false);
    assert.equal(spec.process.noNewPrivileges, false);
    assert.equal(DEFAULT_CAPABILITIES.length, 14);
    assert.deepEqual(spec.process.capabilities.bounding, DEFAULT_CAPABILITIES);
    assert.deepEqual(spec.process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 1048576, soft: 1048576 }]);
    assert.equal(spec.root.path, '/var/lib/strata/rootfs');
    assert.ok(spec.linux.maskedPaths.includes('/proc/kcore'));
    assert.ok(spec.linux.readonlyPaths.includes('/proc/sys'));
    assert.deepEqual(spec.linux.resources?.devices[0], { allow: false, access: 'rwm' });
  });
});

describe('withDefaultEnv', () => {
  it("adds BuildKit's PATH and the user's HOME only when missing", () => {
    assert.deepEqual(withDefaultEnv(['A=1'], '/root'), [
      'A=1',
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOME=/root',
    ]);
    assert.deepEqual(withDefaultEnv(['PATH=/x', 'HOME=/h'], '/root'), ['PATH=/x', 'HOME=/h']);
    assert.deepEqual(withDefaultEnv(['PATHX=1'], '/'), [
      'PATHX=1',
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOME=/',
    ]);
  });
});

describe('defaultSeccomp', () => {
  const allowed = (seccomp: ReturnType<typeof defaultSeccomp>, name: string) =>
    seccomp.syscalls.filter((r) => r.names.includes(name) && r.action === 'SCMP_ACT_ALLOW');

  it('denies with EPERM by default and filters the x86 family on x64', () => {
    const seccomp = defaultSeccomp({
      capabilities: DEFAULT_CAPABILITIES,
      arch: 'x64',
      kernel: '6.1.0-18-amd64',
    });
    assert.equal(seccomp.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(seccomp.defaultErrnoRet, 1);
    assert.deepEqual(seccomp.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    assert.equal(allowed(seccomp, 'arch_prctl').length, 1);
    assert.equal(allowed(seccomp, 'set_tls').length, 0);
  });

  it("blocks namespaces, mounts and keys without CAP_SYS_ADMIN, as Docker's profile does", () => {
    const seccomp = defaultSeccomp({ capabilities: DEFAULT_CAPABILITIES, arch: 'x64', kernel: '6.1.0' });
    for (const name of [
      'unshare',
      'setns',
      'mount',
      'umount2',
      'bpf',
      'keyctl',
      'add_key',
      'kexec_load',
      'userfaultfd',
    ])
      assert.equal(allowed(seccomp, name).length, 0, name);
    assert.deepEqual(allowed(seccomp, 'clone'), [
      {
        names: ['clone'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      },
    ]);
    assert.deepEqual(
      seccomp.syscalls.find((r) => r.names.includes('clone3')),
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
    );
    assert.equal(allowed(seccomp, 'chroot').length, 1, 'CAP_SYS_CHROOT is a default capability');
    assert.ok(
      !allowed(seccomp, 'socket').some((r) => r.args?.some((a) => a.value === 40 && a.op === 'SCMP_CMP_EQ')),
    );
  });

  it('allows what CAP_SYS_ADMIN makes legitimate when the process holds it', () => {
    const seccomp = defaultSeccomp({ capabilities: [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'], arch: 'x64' });
    assert.equal(allowed(seccomp, 'unshare').length, 1);
    assert.equal(allowed(seccomp, 'clone').length, 1);
    assert.equal(
      seccomp.syscalls.filter((r) => r.names.includes('clone3') && r.action === 'SCMP_ACT_ERRNO').length,
      0,
    );
  });

  it('puts the profile into every sandboxed step', () => {
    assert.deepEqual(
      generateSpec(base).linux.seccomp,
      defaultSeccomp({ capabilities: DEFAULT_CAPABILITIES }),
    );
  });
});

describe('generateSpec for an insecure step', () => {
  it('gives the privileged capabilities, no seccomp, nothing masked, writable /sys and every device', () => {
    const spec = generateSpec({ ...base, security: 'insecure', privilegedCapabilities: ['CAP_SYS_ADMIN'] });
    assert.deepEqual(spec.process.capabilities.bounding, ['CAP_SYS_ADMIN']);
    assert.equal(spec.linux.seccomp, undefined);
    assert.deepEqual([spec.linux.maskedPaths, spec.linux.readonlyPaths], [[], []]);
    assert.ok(spec.mounts.find((m) => m.destination === '/sys')?.options.includes('rw'));
    assert.deepEqual(spec.linux.resources?.devices, [{ allow: true, access: 'rwm' }]);
  });
});
