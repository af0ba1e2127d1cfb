import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { REPO, tempDir } from '../support/cli.ts';

/** The parts of scripts/bootstrap.mjs tested here. */
interface BootstrapModule {
  hostDebianSources(suite: string, aptDir: string): string[];
  mmdebstrapArgs(suite: string, output: string, sources: readonly string[]): string[];
  extraCaCertificates(dir: string): { files: string[]; pem: string } | undefined;
  BASES: ReadonlyArray<{ name: string; dir: string | null }>;
}

describe('scripts/bootstrap.mjs', () => {
  const work = tempDir('strata-bootstrap-');
  let bootstrap: BootstrapModule;
  before(async () => {
    bootstrap = (await import(pathToFileURL(join(REPO, 'scripts/bootstrap.mjs')).href)) as BootstrapModule;
  });
  after(() => work.cleanup());

  function aptDir(name: string, files: Record<string, string>): string {
    const dir = join(work.path, name);
    mkdirSync(join(dir, 'sources.list.d'), { recursive: true });
    for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
    return dir;
  }

  it("uses the mirror the host's deb822 sources name, with updates and security, and skips other archives", () => {
    const dir = aptDir('deb822', {
      'sources.list.d/debian.sources': [
        'Types: deb',
        '# http://snapshot.debian.org/archive/debian/20250520T000000Z',
        'URIs: http://mirror.example.org/debian',
        'Suites: bookworm bookworm-updates',
        'Components: main contrib',
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
        '',
        'Types: deb deb-src',
        'URIs: http://mirror.example.org/debian-security',
        'Suites: bookworm-security',
        'Components: main',
        '',
        'Types: deb',
        'URIs: http://disabled.example.org/debian',
        'Suites: bookworm',
        'Components: main',
        'Enabled: no',
      ].join('\n'),
      'sources.list.d/nodesource.sources':
        'Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\nComponents: main\n',
    });
    assert.deepEqual(bootstrap.hostDebianSources('bookworm', dir), [
      'deb http://mirror.example.org/debian bookworm main',
      'deb http://mirror.example.org/debian bookworm-updates main',
      'deb http://mirror.example.org/debian-security bookworm-security main',
    ]);
  });

  it('reads one-line sources.list entries with options, and ignores comments and deb-src', () => {
    const dir = aptDir('one-line', {
      'sources.list': [
        '# deb http://commented.example.org/debian bookworm main',
        'deb-src http://src.example.org/debian bookworm main',
        'deb [arch=amd64 signed-by=/k.gpg] http://ftp.example.de/debian/ bookworm main non-free-firmware',
        'deb http://ftp.example.de/debian/ bookworm-updates main',
      ].join('\n'),
    });
    assert.deepEqual(bootstrap.hostDebianSources('bookworm', dir), [
      'deb http://ftp.example.de/debian/ bookworm main',
      'deb http://ftp.example.de/debian/ bookworm-updates main',
    ]);
  });

  it('falls back to deb.debian.org when the host has no Debian bookworm source', () => {
    const dir = aptDir('ubuntu', { 'sources.list': 'deb http://archive.ubuntu.com/ubuntu jammy main\n' });
    assert.deepEqual(bootstrap.hostDebianSources('bookworm', dir), [
      'deb http://deb.debian.org/debian bookworm main',
    ]);
  });

  it("asks mmdebstrap for minbase with merged /usr and Docker's apt slimming", () => {
    const args = bootstrap.mmdebstrapArgs('bookworm', '/out.tar', ['deb http://m/debian bookworm main']);
    assert.ok(args.includes('--variant=minbase'));
    assert.ok(args.includes('--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr'));
    assert.ok(
      args.some((a) => a.includes('/etc/apt/apt.conf.d/docker-clean') && a.includes('DPkg::Post-Invoke')),
    );
    assert.ok(args.includes('--dpkgopt=path-exclude=/usr/share/doc/*'));
    assert.deepEqual(args.slice(-3), ['bookworm', '/out.tar', 'deb http://m/debian bookworm main']);
  });

  it('concatenates local CA certificates (.crt and .pem, sorted, nested) and reports none when there are none', () => {
    const dir = join(work.path, 'ca');
    mkdirSync(join(dir, 'corp'), { recursive: true });
    writeFileSync(join(dir, 'b.crt'), '-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----\n');
    writeFileSync(join(dir, 'corp', 'a.pem'), '-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----');
    writeFileSync(join(dir, 'notes.txt'), 'not a certificate');
    const ca = bootstrap.extraCaCertificates(dir);
    assert.deepEqual(ca?.files, [join(dir, 'b.crt'), join(dir, 'corp/a.pem')]);
    assert.equal((ca?.pem.match(/BEGIN CERTIFICATE/g) ?? []).length, 2);
    assert.ok(ca?.pem.endsWith('-----END CERTIFICATE-----\n'));
    assert.equal(bootstrap.extraCaCertificates(join(work.path, 'nothing-here')), undefined);
  });

  it('builds every base FROM one listed before it', async () => {
    const { readFileSync } = await import('node:fs');
    const seen = new Set<string>();
    for (const base of bootstrap.BASES) {
      if (base.dir) {
        const text = readFileSync(join(REPO, 'scripts/bases', base.dir, 'Dockerfile'), 'utf8');
        const from = text.match(/^FROM\s+(\S+)/m)?.[1];
        assert.ok(from && seen.has(from), `${base.name} is built FROM ${from}, which comes first`);
      }
      seen.add(base.name);
    }
  });
});
