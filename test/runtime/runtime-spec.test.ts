import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_CAPABILITIES,
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
    assert.deepEqual(spec.linux.resources.devices[0], { allow: false, access: 'rwm' });
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
