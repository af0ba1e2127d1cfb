import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { REPO, tempDir } from '../support/cli.ts';

interface Package {
  readonly name: string;
  readonly command?: string;
  readonly path?: string;
  readonly for: readonly string[];
  readonly why: string;
}
interface SetupModule {
  PACKAGES: Package[];
  installed(pkg: Package): boolean;
  missingPackages(purpose?: string): Package[];
  dockerAnswers(socket?: string, timeoutMs?: number): Promise<boolean>;
  installHint(packages: readonly Package[]): string;
}
const setup = (await import(pathToFileURL(join(REPO, 'scripts', 'test-setup.mjs')).href)) as SetupModule;

describe('npm test set-up (scripts/test-setup.mjs)', () => {
  it('knows every Debian package the tests need, each with its reason', () => {
    const names = setup.PACKAGES.map((p) => p.name);
    // What .ci/run installed before `npm test` did its own set-up.
    for (const name of [
      'ca-certificates',
      'git',
      'tar',
      'gzip',
      'xz-utils',
      'bzip2',
      'zstd',
      'pigz',
      'openssl',
      'iproute2',
      'procps',
      'g++',
      'make',
      'python3',
      'skopeo',
      'docker-registry',
      'runc',
      'crun',
      'busybox-static',
      'apache2-utils',
      'mmdebstrap',
      'uidmap',
      'slirp4netns',
      'docker.io',
      'chromium',
      'libcap2-bin',
    ])
      assert.ok(names.includes(name), name);
    for (const p of setup.PACKAGES) {
      assert.ok(p.why.length > 5, `${p.name} says why it is needed`);
      assert.ok(p.command || p.path, `${p.name} has something to check`);
    }
    // The demo needs no docker and no oracles.
    const demo = setup.PACKAGES.filter((p) => p.for.includes('demo')).map((p) => p.name);
    assert.ok(demo.includes('runc') && demo.includes('mmdebstrap'));
    assert.ok(!demo.includes('docker.io') && !demo.includes('skopeo'));
  });

  it('checks a package by its files only, and finds a missing one', () => {
    assert.equal(setup.installed({ name: 'x', command: 'sh', for: ['test'], why: 'a shell' }), true);
    assert.equal(setup.installed({ name: 'x', path: '/no/such/file', for: ['test'], why: 'nothing' }), false);
    assert.equal(
      setup.installed({ name: 'x', command: 'no-such-command-here', for: ['test'], why: 'no' }),
      false,
    );
    assert.equal(
      setup
        .installHint([{ name: 'skopeo', command: 'skopeo', for: ['test'], why: '' }])
        .includes('apt-get install -y --no-install-recommends skopeo'),
      true,
    );
  });

  it('tells a daemon that answers /_ping from a socket left behind by one that died', async () => {
    const dir = tempDir();
    try {
      const stale = join(dir.path, 'stale.sock');
      writeFileSync(stale, '');
      assert.equal(await setup.dockerAnswers(stale), false);
      assert.equal(await setup.dockerAnswers(join(dir.path, 'missing.sock')), false);
      for (const [status, expected] of [
        ['200 OK', true],
        ['500 Internal Server Error', false],
      ] as const) {
        const sock = join(dir.path, `${expected}.sock`);
        const server = createServer((conn) => {
          conn.once('data', (request) => {
            assert.match(request.toString(), /^GET \/_ping HTTP\/1\.0\r\n/);
            conn.end(`HTTP/1.1 ${status}\r\nContent-Length: 2\r\n\r\nOK`);
          });
        });
        await new Promise<void>((r) => server.listen(sock, r));
        try {
          assert.equal(await setup.dockerAnswers(sock), expected, status);
        } finally {
          await new Promise((r) => server.close(r));
        }
      }
    } finally {
      dir.cleanup();
    }
  });

  it('as a user who is not root, names what is missing and how to install it, and fails', () => {
    // A package no machine has: the message must name it, its reason and the apt-get line.
    const script = `
      const m = await import(${JSON.stringify(pathToFileURL(join(REPO, 'scripts', 'test-setup.mjs')).href)});
      m.PACKAGES.push({ name: 'no-such-package', command: 'no-such-command', for: ['test'], why: 'the reason it is needed' });
      try { await m.setUp({ purpose: 'test', log: () => {} }); console.log('no error'); }
      catch (e) { console.log(e.constructor.name); console.log(e.message); process.exitCode = 1; }`;
    const r = spawnSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        '--input-type=module',
        '-e',
        script,
      ],
      {
        encoding: 'utf8',
        env: { PATH: process.env.PATH, HOME: '/tmp' },
      },
    );
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^SetupError\nmissing Debian packages \(not root, so not installing them\):\n/);
    assert.match(r.stdout, /^ {2}no-such-package +the reason it is needed$/m);
    assert.match(r.stdout, /sudo apt-get install -y --no-install-recommends [^\n]*no-such-package/);
    assert.doesNotMatch(r.stdout, /no error/);
  });
});
