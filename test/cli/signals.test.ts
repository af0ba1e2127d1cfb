import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { type CliResult, REPO, runStrata, STRATA_BIN } from '../support/cli.ts';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy.ts';
import { leftovers, NOTHING_LEFT, sweepLeftovers } from '../support/leftovers.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

/** A strata process the test can watch and signal. */
interface RunningStrata {
  readonly child: ChildProcess;
  /** Resolves once standard error matches `pattern`. */
  waitFor(pattern: RegExp): Promise<void>;
  readonly done: Promise<CliResult>;
}

function startStrata(args: readonly string[], root: string): RunningStrata {
  const child = spawn(process.execPath, [STRATA_BIN, ...args], {
    cwd: REPO,
    env: { ...process.env, STRATA_ROOT: root },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ pattern: RegExp; resolve: () => void }> = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (!w.pattern.test(stderr)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  };
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
    check();
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return {
    child,
    done,
    waitFor: (pattern) =>
      Promise.race([
        new Promise<void>((resolve) => {
          waiters.push({ pattern, resolve });
          check();
        }),
        done.then((r) => {
          throw new Error(`strata ended (${r.code}) before ${pattern}: ${r.stderr}`);
        }),
      ]),
  };
}

/** Processes whose command line holds `marker` (a container's process, seen from the host). */
function processesWith(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(marker)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** A TCP server that accepts connections and never answers: a registry that hangs. */
async function startSilentServer(): Promise<{
  host: string;
  connected: Promise<void>;
  stop(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  let onConnection: () => void = () => undefined;
  const connected = new Promise<void>((resolve) => {
    onConnection = resolve;
  });
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    onConnection();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    connected,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('Ctrl-C and SIGTERM stop a command and clean up, as docker does', () => {
  let fx: BuildFixture;
  let registry: TestRegistry;
  before(async () => {
    fx = await buildFixture('strata-signals-');
    registry = await startRegistry();
  });
  after(async () => {
    await registry.stop();
    sweepLeftovers(fx.root);
    sweepLeftovers(join(fx.work, 'pull-store'));
    fx.cleanup();
  });

  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${signal} during a RUN step kills its container, unmounts, releases the lease and exits ${code}`, async () => {
      const marker = `${code}${process.pid}`;
      const ctx = fx.context(`run-${signal}`, {
        Dockerfile: `FROM busybox:local\nRUN echo a > /a\nRUN echo step-is-running; exec sleep ${marker}\n`,
      });
      const build = startStrata(['build', '--no-cache', '--progress', 'plain', ctx], fx.root);
      await build.waitFor(/step-is-running/);
      build.child.kill(signal);
      const r = await build.done;
      assert.equal(r.signal, null, 'strata exits by itself, after cleaning up');
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stderr, new RegExp(`interrupted by ${signal}`));
      assert.doesNotMatch(r.stderr, /internal error|Unhandled/);
      assert.deepEqual(processesWith(`sleep ${marker}`), []);
      assert.deepEqual(leftovers(fx.root), NOTHING_LEFT);
    });
  }

  it('SIGINT while a base image downloads stops the pull, keeps nothing half-written and exits 130', async () => {
    let proxy: FaultProxy | undefined;
    const root = join(fx.work, 'pull-store');
    try {
      const pushed = await runStrata(['push', 'busybox:local', `${registry.host}/base/busybox:1`], {
        root: fx.root,
      });
      assert.equal(pushed.code, 0, pushed.stderr);
      // Blobs over 100 kB (the busybox layer) are held back for a minute.
      proxy = await startFaultProxy(registry.host, {
        seed: 1,
        slowBlobs: { minBytes: 100_000, delayMs: 60_000 },
      });
      const pull = startStrata(['pull', '--progress', 'plain', `${proxy.host}/base/busybox:1`], root);
      await pull.waitFor(/Pulling fs layer/);
      pull.child.kill('SIGINT');
      const r = await pull.done;
      assert.equal(r.code, 130, r.stderr);
      assert.match(r.stderr, /interrupted by SIGINT/);
      assert.equal(r.stdout, '');
      const images = await runStrata(['images'], { root });
      assert.doesNotMatch(images.stdout, /busybox/);
      assert.deepEqual(leftovers(root), NOTHING_LEFT);
    } finally {
      await proxy?.stop();
    }
  });

  it('SIGINT while a build downloads its base image stops the download and exits 130', async () => {
    let proxy: FaultProxy | undefined;
    const root = join(fx.work, 'build-pull-store');
    try {
      const pushed = await runStrata(['push', 'busybox:local', `${registry.host}/base/busybox:2`], {
        root: fx.root,
      });
      assert.equal(pushed.code, 0, pushed.stderr);
      proxy = await startFaultProxy(registry.host, {
        seed: 2,
        slowBlobs: { minBytes: 100_000, delayMs: 60_000 },
      });
      const ctx = fx.context('build-pull', {
        Dockerfile: `FROM ${proxy.host}/base/busybox:2\nRUN echo a > /a\n`,
      });
      const build = startStrata(['build', '--progress', 'plain', ctx], root);
      // The base's layers downloading under its FROM step.
      await build.waitFor(/^#\d+ sha256:[0-9a-f]{64} waiting$/m);
      build.child.kill('SIGINT');
      const r = await build.done;
      assert.equal(r.code, 130, r.stderr);
      assert.match(r.stderr, /interrupted by SIGINT/);
      assert.deepEqual(leftovers(root), NOTHING_LEFT);
    } finally {
      await proxy?.stop();
      sweepLeftovers(root);
    }
  });

  it('SIGTERM while a push waits on the registry exits 143 and releases the lease', async () => {
    const silent = await startSilentServer();
    try {
      const push = startStrata(
        ['push', '--progress', 'plain', 'busybox:local', `${silent.host}/app:1`],
        fx.root,
      );
      await Promise.race([silent.connected, push.done]);
      push.child.kill('SIGTERM');
      const r = await push.done;
      assert.equal(r.code, 143, r.stderr);
      assert.match(r.stderr, /interrupted by SIGTERM/);
      assert.deepEqual(leftovers(fx.root), NOTHING_LEFT);
    } finally {
      await silent.stop();
    }
  });
});
