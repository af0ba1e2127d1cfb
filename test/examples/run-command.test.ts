import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { containerArgs, containerEnv } from '../../src/api/run-image.ts';
import type { ImageConfig } from '../../src/oci/index.ts';
import { runStrata, STRATA_BIN, tempDir } from '../support/cli.ts';
import { makeBusyboxTarball } from '../support/rootfs.ts';

const config = (c: ImageConfig['config']): Pick<{ config: ImageConfig }, 'config'> => ({
  config: {
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: [] },
    ...(c ? { config: c } : {}),
  },
});

describe('containerArgs: docker run override rules', () => {
  const cases: Array<
    [string, ImageConfig['config'], { command?: string[]; entrypoint?: string[] }, string[]]
  > = [
    ['Entrypoint + Cmd', { Entrypoint: ['/server'], Cmd: ['--port', '80'] }, {}, ['/server', '--port', '80']],
    [
      'a command replaces Cmd, keeps Entrypoint',
      { Entrypoint: ['/e'], Cmd: ['c'] },
      { command: ['x'] },
      ['/e', 'x'],
    ],
    [
      'an entrypoint replaces Entrypoint and drops Cmd',
      { Entrypoint: ['/e'], Cmd: ['c'] },
      { entrypoint: ['/f'] },
      ['/f'],
    ],
    [
      'entrypoint and command together',
      { Entrypoint: ['/e'], Cmd: ['c'] },
      { entrypoint: ['/f'], command: ['y'] },
      ['/f', 'y'],
    ],
    [
      'an empty entrypoint clears it',
      { Entrypoint: ['/e'], Cmd: ['c'] },
      { entrypoint: [], command: ['ls'] },
      ['ls'],
    ],
    ['Cmd only', { Cmd: ['python3'] }, {}, ['python3']],
    ['nothing', {}, {}, []],
  ];
  for (const [name, c, overrides, expected] of cases) {
    it(name, () => assert.deepEqual(containerArgs(config(c), overrides), expected));
  }
});

describe('containerEnv: -e entries over the image Env', () => {
  it('overrides, appends, and copies KEY alone from the caller', () => {
    assert.deepEqual(
      containerEnv(['PATH=/bin', 'A=1'], ['A=2', 'B=x=y', 'HOME_COPY', 'UNSET_HERE'], {
        HOME_COPY: '/h',
      }),
      ['PATH=/bin', 'A=2', 'B=x=y', 'HOME_COPY=/h'],
    );
  });
  it('rejects an entry without a name', () => {
    assert.throws(() => containerEnv([], ['=x']), { code: 'INVALID_INPUT' });
  });
});

describe('strata run (busybox image built with strata)', () => {
  const work = tempDir('strata-run-');
  const root = join(work.path, 'store');
  before(async () => {
    const tarball = makeBusyboxTarball(work.path);
    const imported = await runStrata(['import', tarball, 'busybox:run-test'], { root });
    assert.equal(imported.code, 0, imported.stderr);
    const context = join(work.path, 'ctx');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(context);
    writeFileSync(
      join(context, 'Dockerfile'),
      [
        'FROM busybox:run-test',
        'ENV GREETING=hello PATH=/bin',
        'WORKDIR /srv/app',
        'USER nobody',
        'ENTRYPOINT ["/bin/sh", "-c"]',
        'CMD ["echo $GREETING from $(pwd) as $(id -u); exit 7"]',
      ].join('\n'),
    );
    const built = await runStrata(['build', '-t', 'runme:1', '--progress', 'plain', context], { root });
    assert.equal(built.code, 0, built.stderr);
  });
  after(() => work.cleanup());

  it("runs Entrypoint+Cmd with the image's Env, WorkingDir and User, and exits with its status", async () => {
    const r = await runStrata(['run', 'runme:1'], { root });
    assert.equal(r.stdout, 'hello from /srv/app as 65534\n');
    assert.equal(r.code, 7, r.stderr);
  });

  it('takes -e, -u, -w and a command after the image (its options are not strata run options)', async () => {
    const r = await runStrata(
      [
        'run',
        '-e',
        'GREETING=bye',
        '-u',
        '0',
        '-w',
        '/tmp',
        'runme:1',
        'echo $GREETING from $(pwd) as $(id -u) "$0" "$1"',
        '-e',
        '-u',
      ],
      { root },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'bye from /tmp as 0 -e -u\n');
  });

  it('leaves options after IMAGE to the container even when none come before it', async () => {
    const r = await runStrata(['run', 'runme:1', 'printf "%s|" "$0" "$1" "$2"', '-e', 'A=1', '-u'], { root });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '-e|A=1|-u|');
  });

  it('discards the container filesystem: a file written by one run is gone in the next', async () => {
    const first = await runStrata(['run', '-u', '0', 'runme:1', 'echo x > /marker && ls /marker'], { root });
    assert.equal(first.code, 0, first.stderr);
    const second = await runStrata(['run', 'runme:1', 'test -e /marker && echo kept || echo gone'], { root });
    assert.equal(second.stdout, 'gone\n');
  });

  it('stops the container on SIGTERM and exits 143', async () => {
    const child = spawn(process.execPath, [STRATA_BIN, 'run', 'runme:1', 'echo started; sleep 60'], {
      env: { ...process.env, STRATA_ROOT: root },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('started')) resolve();
      }),
    );
    const start = Date.now();
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 143);
    assert.ok(Date.now() - start < 10_000, 'stopped promptly');
  });

  it('prints its help for --help before IMAGE', async () => {
    const r = await runStrata(['run', '--help'], { root });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: strata run \[options\] <image> \[command\.\.\.\]/m);
  });

  it('names a missing image and exits 1', async () => {
    const r = await runStrata(['run', 'nope:latest'], { root });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /nope/);
  });
});
