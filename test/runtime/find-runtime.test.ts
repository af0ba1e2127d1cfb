import assert from 'node:assert/strict';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  cgroupLayout,
  findExecutable,
  findRuntime,
  generateSpec,
  OciRuntime,
  type RuntimeInfo,
  runBundle,
} from '../../src/runtime/index.ts';
import { Collector } from './busybox-rootfs.ts';

describe('findRuntime', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-probe-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const stateDir = () => join(dir, `state-${++n}`);

  it('probes runc, which runs plainly, and caches the result on disk keyed by path and mtime', async () => {
    const state = stateDir();
    const info = await findRuntime({ stateDir: state, runtime: 'runc' });
    assert.equal(info.flavour, 'runc');
    assert.equal(info.mode, 'default');
    assert.match(info.version, /^runc version /);
    const cache = JSON.parse(readFileSync(join(state, 'runtime-probe.json'), 'utf8'));
    const entry = cache.entries[info.path];
    assert.equal(entry.mtimeMs, statSync(info.path).mtimeMs);
    assert.deepEqual(entry.result, { ok: true, info });
    // Nothing is left of the probe's container, bundle or rootfs.
    assert.deepEqual(
      readdirSync(state)
        .sort()
        .filter((name) => name !== 'runtime-probe.json'),
      [],
    );
  });

  it('trusts a cached probe result for the same binary and mtime, and re-probes when the mtime differs', async () => {
    const runc = (await findExecutable('runc', `${process.env.PATH}:/usr/sbin:/sbin`))!;
    const { layout } = await cgroupLayout();
    const planted = (mtimeMs: number) => ({
      version: 2,
      entries: {
        [runc]: {
          mtimeMs,
          size: statSync(runc).size,
          cgroups: layout,
          result: { ok: false, error: 'planted failure' },
        },
      },
    });
    const same = stateDir();
    mkdirSync(same);
    writeFileSync(join(same, 'runtime-probe.json'), JSON.stringify(planted(statSync(runc).mtimeMs)));
    await assert.rejects(findRuntime({ stateDir: same, runtime: 'runc' }), {
      code: 'RUNTIME_UNUSABLE',
      message: `no OCI runtime can run containers here (${runc}: planted failure)`,
    });
    const stale = stateDir();
    mkdirSync(stale);
    writeFileSync(join(stale, 'runtime-probe.json'), JSON.stringify(planted(1)));
    assert.equal((await findRuntime({ stateDir: stale, runtime: 'runc' })).mode, 'default');
  });

  it('makes crun work on this host, hiding the hybrid cgroup2 mount when crun refuses it', async () => {
    const { layout, hybridMounts } = await cgroupLayout();
    const info = await findRuntime({ stateDir: stateDir(), runtime: 'crun' });
    assert.equal(info.flavour, 'crun');
    assert.match(info.version, /^crun version /);
    if (layout === 'hybrid') {
      assert.equal(info.mode, 'no-cgroups-hidden-v2');
      assert.deepEqual(info.hiddenMounts, hybridMounts);
      // And the reason: crun run plainly (or with its cgroup manager disabled) fails here.
      for (const mode of ['default', 'no-cgroups'] as const) {
        const error = await plainCrunError({ ...info, mode, hiddenMounts: [] });
        assert.match(error, /cgroups in hybrid mode not supported/);
      }
    } else {
      assert.equal(info.mode, 'default');
    }
  });

  it('uses the runtime it is given (the CLI gives STRATA_RUNTIME), and reads no environment itself', async () => {
    assert.equal((await findRuntime({ stateDir: stateDir(), runtime: 'crun' })).flavour, 'crun');
    const saved = process.env.STRATA_RUNTIME;
    process.env.STRATA_RUNTIME = 'crun';
    try {
      assert.equal((await findRuntime({ stateDir: stateDir() })).flavour, 'runc');
    } finally {
      if (saved === undefined) delete process.env.STRATA_RUNTIME;
      else process.env.STRATA_RUNTIME = saved;
    }
  });

  it('prefers runc when both are installed', async () => {
    assert.equal((await findRuntime({ stateDir: stateDir() })).flavour, 'runc');
  });

  it('names the Debian packages when the runtime is missing', async () => {
    await assert.rejects(findRuntime({ stateDir: stateDir(), runtime: 'no-such-runtime' }), {
      code: 'RUNTIME_NOT_FOUND',
      message: 'OCI runtime "no-such-runtime" not found',
      hint: 'install an OCI runtime: apt-get install runc (or crun), or set STRATA_RUNTIME to its path',
    });
  });

  it('reports why an installed runtime cannot run containers', async () => {
    // Fault injection: a "runtime" that answers --version and fails every run.
    const fake = join(dir, 'fake-runc');
    writeFileSync(
      fake,
      '#!/bin/sh\nif [ "$1" = --version ]; then echo "fake version 1"; exit 0; fi\necho "no containers today" >&2\nexit 1\n',
    );
    chmodSync(fake, 0o755);
    await assert.rejects(
      findRuntime({ stateDir: stateDir(), runtime: fake }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, 'RUNTIME_UNUSABLE');
        assert.match(error.message, /fake-runc: default: exit code 1: no containers today/);
        return true;
      },
    );
  });
});

/** Runs crun in `info`'s mode with an empty bundle and returns the runtime's error text (log and stderr). */
async function plainCrunError(info: RuntimeInfo): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-crun-'));
  try {
    mkdirSync(join(dir, 'rootfs'));
    writeFileSync(join(dir, 'hosts'), '');
    const config = generateSpec({
      rootfs: join(dir, 'rootfs'),
      args: ['/x'],
      env: [],
      cwd: '/',
      user: { uid: 0, gid: 0, additionalGids: [], home: '/' },
      hostname: 'x',
      network: 'host',
      hostsPath: join(dir, 'hosts'),
      resolvConfPath: join(dir, 'hosts'),
      nofile: 1024,
    });
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    const runtime = new OciRuntime(info, join(dir, 'state'));
    const stderr = new Collector();
    const logPath = join(dir, 'log.json');
    const outcome = await runBundle(runtime, { bundle: dir, id: 'strata-plain', logPath, stderr });
    return `${outcome.runtimeError ?? ''}${stderr.text}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
