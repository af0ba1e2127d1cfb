/**
 * examples/go/Dockerfile.cross: the Go example cross-compiled (`FROM --platform=$BUILDPLATFORM`,
 * `GOOS=$TARGETOS GOARCH=$TARGETARCH`). Uses the examples' store as examples.test.ts does
 * ($STRATA_EXAMPLES_ROOT, default /var/lib/strata-test/examples), bootstrapping golang's base when
 * it is missing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { collectOutput, REPO, STRATA_BIN, tempDir } from '../support/cli.ts';

const ROOT = process.env.STRATA_EXAMPLES_ROOT ?? '/var/lib/strata-test/examples';

interface DemoModule {
  detectBuildEnvironment(o: {
    log: (t: string) => void;
    tmp: string;
  }): Promise<{ buildArgs: Record<string, string[]> }>;
}
interface BootstrapModule {
  bootstrapBases(o: { root: string; names: readonly string[]; log: (t: string) => void }): Promise<unknown>;
}

/** `e_machine` of an ELF file (little-endian), and its class. */
function elfMachine(file: string): { machine: number; bits: number } {
  const header = readFileSync(file).subarray(0, 20);
  assert.equal(header.subarray(0, 4).toString('latin1'), '\x7fELF', `${file} is an ELF file`);
  return { machine: header.readUInt16LE(18), bits: header[4] === 2 ? 64 : 32 };
}

/**
 * `strata build …` in a mount namespace whose binfmt_misc has no handlers: a build that needed
 * QEMU would fail, so one that passes ran nothing of the target platform.
 */
function buildWithoutEmulators(args: readonly string[]) {
  const dir = '/proc/sys/fs/binfmt_misc';
  const child = spawn(
    'unshare',
    [
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      `mount -t tmpfs no-binfmt ${dir} && echo enabled > ${dir}/status && exec "$@"`,
      'sh',
      process.execPath,
      STRATA_BIN,
      '--root',
      ROOT,
      'build',
      ...args,
    ],
    { env: process.env },
  );
  return collectOutput(child);
}

describe('examples/go/Dockerfile.cross', () => {
  const work = tempDir('strata-go-cross-');
  let buildArgs: string[] = [];
  before(async () => {
    const bootstrap = (await import(
      pathToFileURL(join(REPO, 'scripts/bootstrap.mjs')).href
    )) as BootstrapModule;
    await bootstrap.bootstrapBases({ root: ROOT, names: ['golang:1.19-bookworm'], log: () => undefined });
    const demo = (await import(pathToFileURL(join(REPO, 'scripts/demo.mjs')).href)) as DemoModule;
    buildArgs =
      (await demo.detectBuildEnvironment({ log: () => undefined, tmp: work.path })).buildArgs.go ?? [];
  });
  after(() => work.cleanup());

  for (const [platform, machine, bits] of [
    ['linux/arm64', 183, 64],
    ['linux/arm/v7', 40, 32],
  ] as const) {
    it(`cross-compiles for ${platform} on the build platform: the binary's e_machine is ${machine}, and nothing ran under QEMU`, async () => {
      const out = join(work.path, platform.replaceAll('/', '-'));
      const r = await buildWithoutEmulators([
        '--progress',
        'plain',
        '--platform',
        platform,
        '-f',
        join(REPO, 'examples/go/Dockerfile.cross'),
        ...buildArgs.flatMap((a) => ['--build-arg', a]),
        '-o',
        `type=local,dest=${out}`,
        join(REPO, 'examples/go'),
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(elfMachine(join(out, 'server')), { machine, bits });
    });
  }
});
