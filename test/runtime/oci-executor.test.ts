import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Container,
  type ExecMount,
  type OciExecutor,
  OciRuntime,
  openExecutor,
  type ProcessSpec,
  type RunResult,
} from '../../src/runtime/index.ts';
import { Collector, findProcesses, listDir, makeBusyboxRootfs, removeTempDir } from './busybox-rootfs.ts';

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nalice:x:1234:2345:Alice:/home/alice:/bin/sh\n';
const GROUP = 'root:x:0:\nalice:x:2345:\nwheel:x:10:alice,bob\naudio:x:29:bob,alice\n';

/** One executor test suite, run against every runtime (hono's one-suite-many-implementations). */
function describeExecutor(runtime: 'runc' | 'crun'): void {
  describe(`OciExecutor over ${runtime}`, () => {
    let dir: string;
    let rootfs: string;
    let executor: OciExecutor;

    before(async () => {
      ({ dir, rootfs } = makeBusyboxRootfs());
      mkdirSync(join(rootfs, 'etc'));
      writeFileSync(join(rootfs, 'etc/passwd'), PASSWD);
      writeFileSync(join(rootfs, 'etc/group'), GROUP);
      executor = await openExecutor({ stateDir: join(dir, 'state'), runtime });
    });
    after(() => removeTempDir(dir));

    async function run(
      process: Partial<ProcessSpec> & { args: string[] },
      options: { rootfs?: string; signal?: AbortSignal } = {},
    ): Promise<RunResult & { stdout: string; stderr: string }> {
      const stdout = new Collector();
      const stderr = new Collector();
      const container: Container = {
        rootfs: options.rootfs ?? rootfs,
        process: { env: [], cwd: '/', user: '', network: 'host', ...process },
        stdout,
        stderr,
      };
      const result = await executor.run(container, options.signal);
      return { ...result, stdout: stdout.text, stderr: stderr.text };
    }

    it('uses the runtime it was asked for', () => {
      assert.equal(executor.runtime.flavour, runtime);
    });

    it('reports exit code 0 and captures stdout and stderr separately', async () => {
      const result = await run({ args: ['sh', '-c', 'echo out; echo err >&2'] });
      assert.deepEqual([result.exitCode, result.stdout, result.stderr], [0, 'out\n', 'err\n']);
    });

    it('reports a non-zero exit as a result, not an error', async () => {
      const result = await run({ args: ['sh', '-c', 'exit 3'] });
      assert.equal(result.exitCode, 3);
    });

    it('maps death by SIGKILL to 137', async () => {
      const marker = ['sleep', `${1000 + Math.floor(Math.random() * 1000)}.${runtime.length}`];
      const running = run({ args: marker });
      let pids: number[] = [];
      for (let i = 0; i < 200 && pids.length === 0; i++) {
        await sleep(10);
        pids = findProcesses(marker);
      }
      assert.equal(pids.length, 1, 'the container process should be visible from the host');
      process.kill(pids[0]!, 'SIGKILL');
      assert.equal((await running).exitCode, 137);
    });

    it('passes env, adds the default PATH and the passwd HOME, and runs in cwd', async () => {
      const result = await run({
        args: ['sh', '-c', 'echo "$FOO|$PATH|$HOME|$(pwd)"'],
        env: ['FOO=bar baz'],
        cwd: '/bin',
      });
      assert.equal(
        result.stdout,
        'bar baz|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|/root|/bin\n',
      );
      const own = await run({ args: ['sh', '-c', 'echo "$PATH|$HOME"'], env: ['PATH=/bin', 'HOME=/x'] });
      assert.equal(own.stdout, '/bin|/x\n');
    });

    it('creates a missing working directory owned by the user, and keeps it', async () => {
      const result = await run({ args: ['sh', '-c', 'pwd; id -u'], cwd: '/work/app', user: 'alice' });
      assert.equal(result.stdout, '/work/app\n1234\n');
      const info = statSync(join(rootfs, 'work/app'));
      assert.deepEqual([info.uid, info.gid, info.mode & 0o7777], [1234, 2345, 0o755]);
    });

    it('runs as uid:gid without supplementary groups', async () => {
      const result = await run({
        args: [
          'sh',
          '-c',
          'id -u; id -g; id -G; echo $HOME; cat /etc/hosts /etc/resolv.conf >/dev/null && echo readable',
        ],
        user: '1000:1001',
      });
      assert.equal(result.stdout, '1000\n1001\n1001\n/\nreadable\n');
    });

    it('runs as a named user with the groups /etc/group lists it in', async () => {
      const result = await run({ args: ['sh', '-c', 'id -u; id -g; echo $HOME; id -G'], user: 'alice' });
      const [uid, gid, home, groups] = result.stdout.trim().split('\n');
      assert.deepEqual([uid, gid, home], ['1234', '2345', '/home/alice']);
      assert.deepEqual(
        groups
          ?.split(' ')
          .map(Number)
          .sort((a, b) => a - b),
        [10, 29, 2345],
      );
    });

    it('runs as name:group with that group and no supplementary ones', async () => {
      const result = await run({ args: ['sh', '-c', 'id -u; id -G'], user: 'alice:wheel' });
      assert.equal(result.stdout, '1234\n10\n');
    });

    it("fails on an unknown user name with runc's message", async () => {
      await assert.rejects(run({ args: ['true'], user: 'mallory' }), {
        code: 'USER_NOT_FOUND',
        message: 'unable to find user mallory: no matching entries in passwd file',
      });
    });

    it("applies Docker's default seccomp profile: Seccomp 2 in /proc/self/status", async () => {
      const result = await run({ args: ['sh', '-c', 'grep ^Seccomp: /proc/self/status'] });
      assert.match(result.stdout, /^Seccomp:\s+2$/m);
    });

    it('refuses a user namespace to mount a tmpfs in (unshare -U -r -m, then mount)', async () => {
      const result = await run({
        args: ['sh', '-c', "unshare -U -r -m sh -c 'mount -t tmpfs t /dev/shm' && echo mounted"],
      });
      assert.notEqual(result.exitCode, 0);
      assert.doesNotMatch(result.stdout, /mounted/);
      assert.match(result.stderr, /Operation not permitted/);
    });

    it('still forks, threads and runs pipelines under the profile', async () => {
      const result = await run({
        args: ['sh', '-c', 'echo a b c | tr " " "\\n" | sort -r | head -1; (exit 4); echo $?'],
      });
      assert.equal(result.stdout, 'c\n4\n');
    });

    it('lifts the profile, masks and capability limits for an insecure (privileged) step', async () => {
      const result = await run({
        args: [
          'sh',
          '-c',
          "grep ^Seccomp: /proc/self/status; unshare -U -r -m sh -c 'mount -t tmpfs t /dev/shm' && echo mounted; " +
            'mount -o remount,rw /sys && echo sys-rw',
        ],
        security: 'insecure',
      });
      assert.match(result.stdout, /^Seccomp:\s+0$/m);
      assert.match(result.stdout, /^mounted$/m);
      assert.match(result.stdout, /^sys-rw$/m);
    });

    it("gives a sandbox step its own namespace with lo and tap0, and no way to the host's loopback", async () => {
      const server = createServer((socket) => socket.end('host-secret\n'));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const port = (server.address() as AddressInfo).port;
      try {
        const probe = `cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' '; echo; readlink /proc/self/ns/net; (nc 127.0.0.1 ${port} </dev/null; nc 10.0.2.2 ${port} </dev/null) 2>&1; true`;
        const sandbox = await run({ args: ['sh', '-c', probe], network: 'sandbox' });
        const [interfaces, ns] = sandbox.stdout.split('\n');
        assert.equal(interfaces, 'lo tap0 ');
        assert.notEqual(ns, readlinkSync('/proc/self/ns/net'));
        assert.doesNotMatch(sandbox.stdout, /host-secret/);
        const host = await run({ args: ['sh', '-c', probe], network: 'host' });
        assert.match(host.stdout, /host-secret/);
      } finally {
        server.close();
      }
      await executor.close(); // the network made ahead for a next sandbox step goes too
      // This process's (other strata processes may be running on the machine).
      assert.deepEqual(
        execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).match(
          new RegExp(`strata-net-${process.pid}-\\S+`, 'g'),
        ) ?? [],
        [],
      );
    });

    it('has only lo with network none, and the host interfaces with network host', async () => {
      const interfaces = (text: string) =>
        text
          .split('\n')
          .slice(2)
          .map((line) => line.split(':')[0]?.trim())
          .filter((name) => name !== undefined && name !== '')
          .sort();
      const none = await run({ args: ['cat', '/proc/net/dev'], network: 'none' });
      assert.deepEqual(interfaces(none.stdout), ['lo']);
      const host = await run({ args: ['cat', '/proc/net/dev'], network: 'host' });
      assert.deepEqual(interfaces(host.stdout), interfaces(readFileSync('/proc/net/dev', 'utf8')));
    });

    it("provides /etc/hosts and /etc/resolv.conf without touching the rootfs's own files", async () => {
      writeFileSync(join(rootfs, 'etc/hosts'), 'own hosts\n');
      const etcBefore = statSync(join(rootfs, 'etc'), { bigint: true }).mtimeNs;
      const result = await run({
        args: ['sh', '-c', 'cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; hostname'],
        hostname: 'builder',
      });
      const [hosts, resolv, hostname] = result.stdout.split('---\n');
      assert.equal(hosts, '127.0.0.1\tlocalhost builder\n::1\tlocalhost ip6-localhost ip6-loopback\n');
      assert.match(resolv ?? '', /nameserver /);
      assert.equal(hostname, 'builder\n');
      assert.equal(readFileSync(join(rootfs, 'etc/hosts'), 'utf8'), 'own hosts\n');
      assert.deepEqual(listDir(join(rootfs, 'etc')), ['group', 'hosts', 'passwd']);
      assert.equal(statSync(join(rootfs, 'etc'), { bigint: true }).mtimeNs, etcBefore);
      assert.deepEqual(result.mountStubs, ['/etc/resolv.conf']);
    });

    it("removes the mount points it had to create, with the parent's mtime restored to the nanosecond", async () => {
      const fresh = makeBusyboxRootfs();
      try {
        const bare = fresh.rootfs;
        const rootBefore = statSync(bare, { bigint: true }).mtimeNs;
        const result = await run(
          {
            args: ['sh', '-c', 'test -f /etc/hosts && test -d /run/secrets'],
            mounts: [{ type: 'secret', target: '/run/secrets/id', content: Buffer.from('x') }],
          },
          { rootfs: bare },
        );
        assert.equal(result.exitCode, 0);
        assert.deepEqual(result.mountStubs, [
          '/etc',
          '/etc/resolv.conf',
          '/etc/hosts',
          '/run',
          '/run/secrets',
          '/run/secrets/id',
        ]);
        // What the runtime itself creates stays, as in BuildKit: /proc, /dev, /sys.
        assert.deepEqual(listDir(bare), ['bin', 'dev', 'proc', 'sys']);
        assert.notEqual(statSync(bare, { bigint: true }).mtimeNs, rootBefore);
      } finally {
        removeTempDir(fresh.dir);
      }
    });

    it("runs on an overlay mount, leaving in the upper dir only the step's changes and what the runtime made", async () => {
      const lower = makeBusyboxRootfs();
      const upper = join(lower.dir, 'upper');
      const work = join(lower.dir, 'work');
      const merged = join(lower.dir, 'merged');
      for (const d of [upper, work, merged]) mkdirSync(d);
      mkdirSync(join(lower.rootfs, 'etc'));
      writeFileSync(join(lower.rootfs, 'etc/passwd'), PASSWD);
      const etcMtime = statSync(join(lower.rootfs, 'etc'), { bigint: true }).mtimeNs;
      execFileSync('mount', [
        '-t',
        'overlay',
        'overlay',
        '-o',
        `lowerdir=${lower.rootfs},upperdir=${upper},workdir=${work}`,
        merged,
      ]);
      try {
        const result = await run(
          { args: ['sh', '-c', 'echo hi > /new; cat /etc/hosts >/dev/null'] },
          { rootfs: merged },
        );
        assert.equal(result.exitCode, 0);
      } finally {
        execFileSync('umount', [merged]);
      }
      try {
        // /etc was copied up to hold the hosts and resolv.conf stubs; they are gone and its mtime is the lower's.
        // /dev, /proc and /sys are the runtime's own mount points, kept as BuildKit keeps them.
        assert.deepEqual(listDir(upper), ['dev', 'etc', 'new', 'proc', 'sys']);
        assert.deepEqual(listDir(join(upper, 'etc')), []);
        assert.equal(statSync(join(upper, 'etc'), { bigint: true }).mtimeNs, etcMtime);
      } finally {
        removeTempDir(lower.dir);
      }
    });

    it('mounts a secret read-only with mode 0400, and leaves no trace of it', async () => {
      const secret: ExecMount = {
        type: 'secret',
        target: '/run/secrets/token',
        content: Buffer.from('s3cret-value'),
      };
      const result = await run({
        args: [
          'sh',
          '-c',
          'cat /run/secrets/token; echo; stat -c %a:%u:%g /run/secrets/token; echo x > /run/secrets/token',
        ],
        mounts: [secret],
      });
      const [content, mode, write] = result.stdout.split('\n');
      assert.deepEqual([content, mode, write], ['s3cret-value', '400:0:0', '']);
      assert.match(result.stderr, /Read-only file system/);
      assert.deepEqual(listDir(join(rootfs, 'run')), []);
      const grep = spawnSync('grep', ['-rl', 's3cret-value', dir], { encoding: 'utf8' });
      assert.deepEqual([grep.status, grep.stdout], [1, '']);
      assert.deepEqual(listDir(join(dir, 'state/bundles')), []);
      assert.doesNotMatch(readFileSync('/proc/self/mountinfo', 'utf8'), new RegExp(dir));
    });

    it('gives a secret the owner and mode asked for', async () => {
      const result = await run({
        args: ['sh', '-c', 'cat /run/secrets/key; stat -c %a:%u:%g /run/secrets/key'],
        user: 'alice',
        mounts: [
          {
            type: 'secret',
            target: '/run/secrets/key',
            content: Buffer.from('k'),
            uid: 1234,
            gid: 2345,
            mode: 0o440,
          },
        ],
      });
      assert.equal(result.stdout, 'k440:1234:2345\n');
    });

    it('leaves nothing behind when a mount cannot be prepared', async () => {
      await assert.rejects(
        run({
          args: ['true'],
          mounts: [
            { type: 'secret', target: '/run/secrets/a', content: Buffer.from('a') },
            { type: 'bind', source: join(dir, 'no-such-dir'), target: '/src', readonly: true },
          ],
        }),
        { code: 'INVALID_INPUT' },
      );
      assert.deepEqual(listDir(join(dir, 'state/bundles')), []);
      assert.deepEqual(listDir(join(rootfs, 'run')), []);
      assert.doesNotMatch(readFileSync('/proc/self/mountinfo', 'utf8'), new RegExp(dir));
    });

    it('mounts a tmpfs whose contents vanish with the step', async () => {
      const result = await run({
        args: ['sh', '-c', 'grep " /scratch " /proc/mounts; echo data > /scratch/file'],
        mounts: [{ type: 'tmpfs', target: '/scratch', sizeBytes: 1 << 20 }],
      });
      assert.equal(result.exitCode, 0);
      assert.match(result.stdout, /^tmpfs \/scratch tmpfs rw,nosuid.*size=1024k/);
      assert.deepEqual(listDir(join(rootfs, 'scratch')), []);
    });

    it('keeps a cache mount between runs and creates it with its uid, gid and mode', async () => {
      const cache = join(dir, `cache-${runtime}`);
      const mount: ExecMount = {
        type: 'cache',
        source: cache,
        target: '/root/.cache',
        uid: 1234,
        gid: 2345,
        mode: 0o770,
      };
      const first = await run({
        args: ['sh', '-c', 'echo one > /root/.cache/f; stat -c %a:%u:%g /root/.cache'],
        mounts: [mount],
      });
      assert.equal(first.stdout, '770:1234:2345\n');
      const second = await run({ args: ['cat', '/root/.cache/f'], mounts: [mount] });
      assert.equal(second.stdout, 'one\n');
      assert.equal(readFileSync(join(cache, 'f'), 'utf8'), 'one\n');
    });

    it('binds a host directory read-only or read-write', async () => {
      const src = join(dir, `bind-${runtime}`);
      mkdirSync(src, { recursive: true });
      writeFileSync(join(src, 'in'), 'input\n');
      const ro = await run({
        args: ['sh', '-c', 'cat /src/in; touch /src/out'],
        mounts: [{ type: 'bind', source: src, target: '/src', readonly: true }],
      });
      assert.equal(ro.stdout, 'input\n');
      assert.notEqual(ro.exitCode, 0);
      const rw = await run({
        args: ['sh', '-c', 'echo output > /src/out'],
        mounts: [{ type: 'bind', source: src, target: '/src', readonly: false }],
      });
      assert.equal(rw.exitCode, 0);
      assert.equal(readFileSync(join(src, 'out'), 'utf8'), 'output\n');
    });

    it('reports a command that cannot be started as ContainerStartError', async () => {
      await assert.rejects(run({ args: ['/no/such/binary'] }), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'CONTAINER_START_FAILED');
        assert.match(error.message, /\/no\/such\/binary/);
        return true;
      });
      assert.deepEqual(listDir(join(dir, 'state/bundles')), []);
    });

    it('kills the container quickly on abort and cleans everything up', async () => {
      const controller = new AbortController();
      const marker = ['sleep', `100.${runtime.length}${Math.floor(Math.random() * 1000)}`];
      const started = Date.now();
      const running = run({ args: marker }, { signal: controller.signal });
      for (let i = 0; i < 200 && findProcesses(marker).length === 0; i++) await sleep(10);
      controller.abort();
      await assert.rejects(running, { code: 'ABORTED' });
      assert.ok(Date.now() - started < 5000, `abort took ${Date.now() - started} ms`);
      assert.deepEqual(findProcesses(marker), []);
      assert.deepEqual(listDir(join(dir, 'state/bundles')), []);
      assert.deepEqual(await new OciRuntime(executor.runtime, executor.runtimeRoot).list(), []);
      assert.deepEqual(listDir(executor.runtimeRoot), []);
    });

    it('sweeps the container of a strata process that died mid-run', async () => {
      const marker = ['sleep', `200.${runtime.length}${Math.floor(Math.random() * 1000)}`];
      const running = run({ args: marker });
      for (let i = 0; i < 200 && findProcesses(marker).length === 0; i++) await sleep(10);
      const [id] = listDir(join(dir, 'state/bundles'));
      assert.ok(id !== undefined);
      assert.deepEqual(await executor.sweep(), [], "a live owner's container is left alone");
      // Fault injection: pretend the bundle belongs to a process that no longer exists.
      writeFileSync(join(dir, 'state/bundles', id, 'owner'), '999999999 1');
      assert.deepEqual(await executor.sweep(), [id]);
      assert.equal((await running).exitCode, 137);
      assert.deepEqual(findProcesses(marker), []);
      assert.deepEqual(await new OciRuntime(executor.runtime, executor.runtimeRoot).list(), []);
    });

    it('sweeps side by side with another process sweeping the same state directory', async () => {
      // Two strata processes share a store: both list the same dead bundles, and one removes a
      // bundle while the other is still looking at it. Neither may fail for a bundle that vanished.
      const bundles = join(dir, 'state/bundles');
      const ids = Array.from({ length: 40 }, (_, i) => `strata-dead-${i}`);
      for (const id of ids) {
        mkdirSync(join(bundles, id), { recursive: true });
        writeFileSync(join(bundles, id, 'owner'), '999999999 1');
      }
      const [a, b] = await Promise.all([executor.sweep(), executor.sweep()]);
      assert.deepEqual([...new Set([...a, ...b])].sort(), [...ids].sort());
      assert.deepEqual(listDir(bundles), []);
    });

    it("finishes the step and reports it when the caller's output stream fails", async () => {
      const broken = new Writable({
        write(_chunk, _encoding, callback) {
          callback(new Error('disk full'));
        },
      });
      const started = Date.now();
      const running = executor.run({
        rootfs,
        process: {
          args: ['sh', '-c', 'yes | head -c 1000000; echo done >&2'],
          env: [],
          cwd: '/',
          user: '',
          network: 'host',
        },
        stdout: broken,
        stderr: new Collector(),
      });
      await assert.rejects(running, (error: Error & { code?: string; cause?: Error }) => {
        assert.equal(error.code, 'OUTPUT_STREAM_FAILED');
        assert.equal(error.cause?.message, 'disk full');
        return true;
      });
      assert.ok(Date.now() - started < 5000);
      assert.deepEqual(listDir(join(dir, 'state/bundles')), []);
    });

    it('rejects at once when the signal is already aborted', async () => {
      await assert.rejects(run({ args: ['true'] }, { signal: AbortSignal.abort() }), { code: 'ABORTED' });
    });

    it('runs containers in parallel', async () => {
      const roots = [1, 2, 3].map(() => makeBusyboxRootfs());
      try {
        const results = await Promise.all(
          roots.map((r, n) => run({ args: ['sh', '-c', `echo ${n}; exit ${n}`] }, { rootfs: r.rootfs })),
        );
        assert.deepEqual(
          results.map((r) => [r.exitCode, r.stdout]),
          [
            [0, '0\n'],
            [1, '1\n'],
            [2, '2\n'],
          ],
        );
      } finally {
        for (const r of roots) removeTempDir(r.dir);
      }
    });
  });
}

describeExecutor('runc');
describeExecutor('crun');
