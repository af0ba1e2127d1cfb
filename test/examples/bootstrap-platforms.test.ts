import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { REPO, runStrata, tempDir } from '../support/cli.ts';
import { makeForeignBusyboxTarball } from '../support/foreign-busybox.ts';
import { makeBusyboxTarball } from '../support/rootfs.ts';

interface Manifest {
  digest: string;
  platform: { os: string; architecture: string; variant?: string };
}
/** The parts of scripts/bootstrap.mjs for other platforms. */
interface BootstrapModule {
  bootstrapPlatforms(value?: string): string[];
  debianArch(platform: string): string;
  hostPlatformName(): string;
  mmdebstrapArgs(suite: string, output: string, sources: readonly string[], o?: { arch?: string }): string[];
  storedManifests(root: string, name: string): Manifest[] | undefined;
  mergeIntoIndex(root: string, name: string, extra: string): void;
}

describe('scripts/bootstrap.mjs for other platforms', () => {
  const work = tempDir('strata-bootstrap-platforms-');
  let bootstrap: BootstrapModule;
  before(async () => {
    bootstrap = (await import(pathToFileURL(join(REPO, 'scripts/bootstrap.mjs')).href)) as BootstrapModule;
  });
  after(() => work.cleanup());

  it("bootstraps the host's platform only unless asked, and names platforms as docker does", () => {
    assert.deepEqual(bootstrap.bootstrapPlatforms(''), [bootstrap.hostPlatformName()]);
    assert.deepEqual(bootstrap.bootstrapPlatforms(undefined), [bootstrap.hostPlatformName()]);
    assert.deepEqual(bootstrap.bootstrapPlatforms('linux/amd64, arm64,arm'), [
      'linux/amd64',
      'linux/arm64',
      'linux/arm/v7',
    ]);
    assert.equal(bootstrap.debianArch('linux/arm64'), 'arm64');
    assert.equal(bootstrap.debianArch('linux/arm/v7'), 'armhf');
    assert.equal(bootstrap.debianArch('linux/386'), 'i386');
    const args = bootstrap.mmdebstrapArgs('bookworm', '/tmp/x.tar', [], { arch: 'arm64' });
    assert.ok(args.includes('--architectures=arm64'));
    assert.ok(
      !bootstrap.mmdebstrapArgs('bookworm', '/tmp/x.tar', []).some((a) => a.startsWith('--architectures')),
    );
  });

  it('merges a foreign build into the name as an OCI index of both platforms, replacing an older one of the same platform', async () => {
    const root = join(work.path, 'store');
    const strata = async (...args: string[]) => {
      const r = await runStrata(args, { root });
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    await strata('import', makeBusyboxTarball(join(work.path, 'amd64')), 'bb:multi');
    const arm64 = makeForeignBusyboxTarball(join(work.path, 'arm64'), 'arm64');
    await strata('import', '--platform', 'linux/arm64', '-m', 'first', arm64, 'tmp/bb:arm64');
    bootstrap.mergeIntoIndex(root, 'bb:multi', 'tmp/bb:arm64');
    const first = bootstrap.storedManifests(root, 'bb:multi')!;
    assert.deepEqual(
      first.map((m) => m.platform.architecture),
      [bootstrap.hostPlatformName().split('/')[1], 'arm64'],
    );
    // The temporary name is gone; the index is what `strata inspect` and a build see.
    assert.doesNotMatch(await strata('images'), /tmp\/bb/);
    assert.match(
      await strata('inspect', 'bb:multi'),
      /^MediaType: +application\/vnd\.oci\.image\.index\.v1\+json$/m,
    );
    // Again with another arm64 image: it replaces the first, the host's stays.
    await strata('import', '--platform', 'linux/arm64', '-m', 'second', arm64, 'tmp/bb:arm64');
    bootstrap.mergeIntoIndex(root, 'bb:multi', 'tmp/bb:arm64');
    const second = bootstrap.storedManifests(root, 'bb:multi')!;
    assert.equal(second.length, 2);
    assert.equal(second[0]!.digest, first[0]!.digest);
    assert.notEqual(second[1]!.digest, first[1]!.digest);
    // A build for arm64 FROM the name gets the arm64 busybox (file's view of /bin/busybox).
    const out = join(work.path, 'out');
    await strata(
      'build',
      '--platform',
      'linux/arm64',
      '-o',
      `type=local,dest=${out}`,
      makeContext(join(work.path, 'ctx'), 'FROM bb:multi\nCOPY Dockerfile /\n'),
    );
    assert.match(execFileSync('file', ['-b', join(out, 'bin/busybox')], { encoding: 'utf8' }), /ARM aarch64/);
  });
});

function makeContext(dir: string, dockerfile: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  return dir;
}
