import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runStrata, tempDir } from '../support/cli.ts';

describe('strata info', () => {
  const dir = tempDir('strata-info-');
  after(() => dir.cleanup());

  it('says which snapshotter and runtime builds use, and why', async () => {
    const root = join(dir.path, 'store');
    const auto = JSON.parse((await runStrata(['info', '--json'], { root })).stdout);
    assert.equal(auto.snapshotter.kind, 'overlay', 'overlay mounts work for root here');
    assert.equal(auto.snapshotter.reason, 'overlay mounts work here');
    assert.equal(auto.runtime.name, 'runc');
    assert.equal(auto.root, root);
    const forced = JSON.parse(
      (await runStrata(['info', '--json'], { root, env: { STRATA_SNAPSHOTTER: 'native' } })).stdout,
    );
    assert.equal(forced.snapshotter.kind, 'native');
    assert.equal(forced.snapshotter.reason, 'forced by STRATA_SNAPSHOTTER=native');
    const human = await runStrata(['info'], { root });
    assert.match(human.stdout, /^snapshotter: {2}overlay — overlay mounts work here$/m);
  });

  it('says how RUN steps are isolated: the network probed, seccomp, namespaces, capabilities, masked paths', async () => {
    const root = join(dir.path, 'store');
    const json = await runStrata(['info', '--json'], { root });
    assert.equal(json.code, 0, json.stderr);
    const { isolation } = JSON.parse(json.stdout);
    assert.deepEqual(isolation.network, {
      available: true,
      mode: 'sandbox',
      slirp4netns: { path: '/usr/bin/slirp4netns', version: isolation.network.slirp4netns.version },
      namespace: 'addon',
    });
    assert.match(isolation.network.slirp4netns.version, /^\d+\.\d+\.\d+$/);
    assert.equal(isolation.seccomp.enabled, true);
    assert.ok(
      isolation.seccomp.allowedSyscalls > 300,
      `${isolation.seccomp.allowedSyscalls} syscalls allowed`,
    );
    assert.deepEqual(isolation.namespaces, ['mount', 'pid', 'ipc', 'uts', 'network']);
    assert.equal(isolation.userNamespace, false);
    assert.ok(isolation.capabilities.includes('CAP_NET_RAW'));
    assert.ok(!isolation.capabilities.includes('CAP_SYS_ADMIN'));
    assert.ok(isolation.maskedPaths.includes('/proc/kcore'));
    const human = await runStrata(['info'], { root });
    assert.equal(human.code, 0, human.stderr);
    assert.match(
      human.stdout,
      /^ {2}network: +a private network namespace per RUN \(made in-process by the addon\), outbound through slirp4netns \d[\d.]* \(\/usr\/bin\/slirp4netns\)/m,
    );
    assert.match(
      human.stdout,
      /^ {2}seccomp: +on — Docker's default profile, built into strata, \d+ syscalls allowed/m,
    );
    assert.match(human.stdout, /^ {2}namespaces: +mount, pid, ipc, uts, network; no user namespace/m);
  });

  it('probes the network with `ip netns` without the addon, and removes the namespace it made', async () => {
    const root = join(dir.path, 'store');
    const json = await runStrata(['info', '--json'], { root, env: { STRATA_NATIVE: '0' } });
    assert.equal(json.code, 0, json.stderr);
    const { isolation } = JSON.parse(json.stdout);
    assert.equal(isolation.network.available, true, isolation.network.error);
    assert.equal(isolation.network.namespace, 'ip netns');
    // The probe's own namespace (named after its pid) is gone; other strata runs on the machine
    // may have theirs meanwhile.
    assert.ok(json.pid !== undefined);
    const listed = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    assert.ok(!listed.includes(`strata-net-${json.pid}-info`), listed);
  });
});
