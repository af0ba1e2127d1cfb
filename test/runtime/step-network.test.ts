import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  findTool,
  NetworkSetupError,
  openStepNetwork,
  StepNetworkPool,
  stepIsolation,
  sweepStepNetworks,
} from '../../src/runtime/index.ts';
import { formatErrorChain, nativeCalls } from '../../src/util/index.ts';
import { tempDir } from '../support/cli.ts';

/** The network namespaces this process holds open (by fd), as `net:[inode]`. */
function heldNamespaces(): string[] {
  const held: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith('net:[')) held.push(target);
    } catch {
      // the fd readdir itself used, closed by now
    }
  }
  return held;
}

/** Pids of this process's children (running or not yet reaped) whose command is `name`. */
function children(name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const command = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (command === name && ppid === process.pid) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Runs `script` with /bin/sh through the addon's spawnProcess; resolves to what it printed and its status. */
async function spawnShell(script: string): Promise<{ stdout: string; status: number }> {
  const native = nativeCalls();
  assert.ok(native?.spawnProcess && native.pipe && native.waitPid, 'the addon is built');
  const [read, write] = native.pipe();
  let pid: number;
  try {
    pid = await native.spawnProcess('/bin/sh', ['sh', '-c', script], [-1, write, 2]);
  } finally {
    closeSync(write);
  }
  let stdout = '';
  const chunk = Buffer.alloc(4096);
  for (let n = readSync(read, chunk); n > 0; n = readSync(read, chunk))
    stdout += chunk.toString('utf8', 0, n);
  closeSync(read);
  let status = native.waitPid(pid);
  while (status === null) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    status = native.waitPid(pid);
  }
  return { stdout, status };
}

describe('step networks', () => {
  const dir = tempDir('strata-step-network-');
  after(() => dir.cleanup());

  it('gives a namespace of its own, held by strata alone, and lets go of it and of slirp4netns on release', async () => {
    const before = heldNamespaces();
    const network = await openStepNetwork('strata-net-test-own');
    // A namespace file (nsfs: the inode is the namespace's), not the one this process is in.
    assert.notEqual(statSync(network.path).ino, statSync('/proc/self/ns/net').ino);
    assert.equal(children('slirp4netns').length, 1);
    await network.release();
    assert.deepEqual(heldNamespaces(), before);
    assert.deepEqual(children('slirp4netns'), []);
    await network.release(); // idempotent
  });

  it("makes namespaces off Node's thread, and leaves every thread of strata in its own namespace", async () => {
    const netNamespace = nativeCalls()?.netNamespace;
    assert.ok(netNamespace, 'the addon is built');
    const pending = [netNamespace(), netNamespace(), netNamespace()];
    assert.ok(pending.every((p) => p instanceof Promise));
    const fds = await Promise.all(pending);
    try {
      const own = readlinkSync('/proc/self/ns/net');
      const made = fds.map((fd) => readlinkSync(`/proc/self/fd/${fd}`));
      assert.equal(new Set(made).size, 3, made.join(' '));
      assert.ok(!made.includes(own));
      // Neither Node's thread nor libuv's pool threads (which run other work later) moved.
      for (const task of readdirSync('/proc/self/task'))
        assert.equal(readlinkSync(`/proc/self/task/${task}/ns/net`), own, `thread ${task}`);
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  });

  it('fails with the hint to install slirp4netns when it is missing, and leaves no namespace', async () => {
    const before = heldNamespaces();
    await assert.rejects(
      openStepNetwork('strata-net-test-missing', { slirp4netns: join(dir.path, 'no-such-slirp4netns') }),
      (error: unknown) => {
        assert.ok(error instanceof NetworkSetupError);
        assert.match(formatErrorChain(error), /cannot start slirp4netns for the step: .*ENOENT/);
        assert.match(formatErrorChain(error), /apt-get install slirp4netns/);
        return true;
      },
    );
    assert.deepEqual(heldNamespaces(), before);
  });

  it('never runs a slirp4netns of the current directory: a missing one is a clear error', async () => {
    // The current directory of a build is often its context: a `slirp4netns` there must not run (as root).
    const cwd = join(dir.path, 'context-with-slirp4netns');
    const marker = join(dir.path, 'planted-slirp4netns-ran');
    mkdirSync(cwd);
    writeFileSync(join(cwd, 'slirp4netns'), `#!/bin/sh\ntouch ${marker}\nexit 1\n`);
    chmodSync(join(cwd, 'slirp4netns'), 0o755);
    const previous = process.cwd();
    process.chdir(cwd);
    try {
      await assert.rejects(
        findTool('slirp4netns', 'slirp4netns', join(dir.path, 'empty-bin')),
        (error: unknown) => {
          assert.ok(error instanceof NetworkSetupError);
          assert.match(formatErrorChain(error), /slirp4netns not found on PATH/);
          assert.match(formatErrorChain(error), /apt-get install slirp4netns/);
          return true;
        },
      );
      const spawnProcess = nativeCalls()?.spawnProcess;
      assert.ok(spawnProcess, 'the addon is built');
      for (const file of ['slirp4netns', './slirp4netns'])
        assert.throws(() => spawnProcess(file, [file], []), /spawnProcess takes an absolute path/);
      await assert.rejects(
        openStepNetwork('strata-net-test-relative', { slirp4netns: 'slirp4netns' }),
        NetworkSetupError,
      );
      await new Promise((resolve) => setTimeout(resolve, 200)); // a started script would have run by now
      assert.equal(existsSync(marker), false, './slirp4netns was run');
    } finally {
      process.chdir(previous);
    }
  });

  it('reports what slirp4netns printed when it exits before the network is up', async () => {
    const fake = join(dir.path, 'failing-slirp4netns');
    writeFileSync(fake, '#!/bin/sh\necho "cannot open /dev/net/tun: no such device" >&2\nexit 3\n');
    chmodSync(fake, 0o755);
    const before = heldNamespaces();
    await assert.rejects(
      openStepNetwork('strata-net-test-fails', { slirp4netns: fake }),
      (error: unknown) => {
        assert.match(
          formatErrorChain(error),
          /slirp4netns exited \(3\) before the network was up: cannot open \/dev\/net\/tun: no such device/,
        );
        return true;
      },
    );
    assert.deepEqual(heldNamespaces(), before);
  });

  it('makes the next network while a step runs, never hands one out twice, and leaves nothing after close', async () => {
    const before = heldNamespaces();
    const pool = new StepNetworkPool();
    const first = await pool.take();
    pool.prepareNext();
    pool.prepareNext(); // one spare at most
    const second = await pool.take();
    assert.notEqual(statSync(first.path).ino, statSync(second.path).ino);
    pool.release(first);
    pool.release(second);
    await pool.close();
    assert.deepEqual(heldNamespaces(), before);
    assert.deepEqual(children('slirp4netns'), []);
    // Usable again after close: a fresh network, and again nothing left.
    const third = await pool.take();
    pool.release(third);
    await pool.close();
    assert.deepEqual(heldNamespaces(), before);
  });

  it('replaces a spare network whose slirp4netns died before a step took it', async () => {
    const before = heldNamespaces();
    const pool = new StepNetworkPool();
    try {
      await pool.prepareNext();
      const [spare, ...others] = children('slirp4netns');
      assert.ok(spare !== undefined && others.length === 0, 'one spare slirp4netns');
      process.kill(spare, 'SIGKILL');
      // The pool reaps it: then it knows.
      for (let i = 0; i < 1000 && children('slirp4netns').length > 0; i++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      const network = await pool.take();
      assert.equal(network.isUp(), true);
      const running = children('slirp4netns');
      assert.equal(running.length, 1);
      assert.notEqual(running[0], spare);
      // The step's namespace has slirp4netns's tap0, configured.
      const tap = execFileSync(
        'nsenter',
        [`--net=${network.path}`, 'ip', '-o', '-4', 'addr', 'show', 'tap0'],
        {
          encoding: 'utf8',
        },
      );
      assert.match(tap, /inet 10\.0\.2\.100\/24/);
      pool.release(network);
    } finally {
      await pool.close();
    }
    assert.deepEqual(heldNamespaces(), before);
    assert.deepEqual(children('slirp4netns'), []);
  });

  it('says the default network is unavailable, and why, when slirp4netns is missing', async () => {
    const isolation = await stepIsolation({ slirp4netns: join(dir.path, 'no-such-slirp4netns') });
    assert.equal(isolation.network.available, false);
    assert.ok(!isolation.network.available && /apt-get install slirp4netns/.test(isolation.network.error));
    assert.equal(isolation.seccomp.enabled, true);
  });

  it('sweeps the namespaces of dead strata processes only, whatever store made the live ones', async () => {
    // A pid no process can have (a dead process's pid may be reused meanwhile).
    const dead = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8')) + 1;
    const names = {
      deadOwner: `strata-net-${dead}-sweep`,
      liveOwner: `strata-net-${process.pid}-sweep`,
      oldUnserved: `strata-${randomBytes(12).toString('hex')}`,
      oldOfThisStore: `strata-${randomBytes(12).toString('hex')}`,
    };
    for (const name of Object.values(names)) execFileSync('ip', ['netns', 'add', name]);
    try {
      const swept = await sweepStepNetworks((name) => name === names.oldOfThisStore);
      // Other strata processes on the machine sweep too (and older ones everything not theirs), so
      // only this sweep's own decisions are asserted: what it kept, and that the dead are gone.
      assert.ok(!swept.includes(names.liveOwner) && !swept.includes(names.oldOfThisStore), swept.join(' '));
      const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
      assert.ok(!left.includes(names.deadOwner) && !left.includes(names.oldUnserved), left);
    } finally {
      for (const name of Object.values(names)) spawnSync('ip', ['netns', 'delete', name]);
    }
  });
});

describe("the addon's spawnProcess (slirp4netns's start)", () => {
  const dir = tempDir('strata-spawn-process-');
  after(() => dir.cleanup());

  it('gives the child the environment as it is at the call', async () => {
    const value = randomBytes(8).toString('hex');
    process.env.STRATA_SPAWN_TEST = value;
    try {
      const child = await spawnShell('printf %s "$STRATA_SPAWN_TEST"');
      assert.deepEqual(child, { stdout: value, status: 0 });
    } finally {
      delete process.env.STRATA_SPAWN_TEST;
    }
  });

  it('passes the child no fd but its own, even one without close-on-exec', () => {
    // Node opens its fds close-on-exec, and marks the ones it inherits so at its start; native
    // code loaded later may not. A node whose fd 3 is made inheritable again (by a library's
    // constructor, loaded with process.dlopen) starts a shell that lists its fds.
    const clear = join(dir.path, 'clear-cloexec.so');
    const source = join(dir.path, 'clear-cloexec.c');
    writeFileSync(
      source,
      '#include <fcntl.h>\n__attribute__((constructor)) static void clear(void) { fcntl(3, F_SETFD, 0); }\n',
    );
    execFileSync('gcc', ['-shared', '-fPIC', '-o', clear, source]);
    const addon = join(import.meta.dirname, '..', '..', 'build', 'Release', 'strata_native.node');
    const script = `
      const native = require(${JSON.stringify(addon)});
      try { process.dlopen({ exports: {} }, ${JSON.stringify(clear)}); } catch {} // not a Node module: its constructor ran
      const flags = /^flags:\\s+(\\d+)/m.exec(require('fs').readFileSync('/proc/self/fdinfo/3', 'utf8'))[1];
      process.stderr.write('cloexec ' + ((parseInt(flags, 8) & 0o2000000) !== 0) + '\\n');
      native.spawnProcess('/bin/sh', ['sh', '-c', 'ls /proc/$$/fd'], [-1, 1, 2]).then((pid) => {
        const wait = () => (native.waitPid(pid) === null ? setTimeout(wait, 5) : undefined);
        wait();
      });`;
    const child = spawnSync(process.execPath, ['-e', script], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stderr, /^cloexec false$/m, 'the fd 3 of the node is inheritable');
    assert.deepEqual(child.stdout.split('\n').filter(Boolean).sort(), ['0', '1', '2']);
  });
});
