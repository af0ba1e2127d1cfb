/**
 * bench/multiplatform: the Go example built for linux/arm64 on this (amd64) machine, four ways, in
 * one run, alternating so a noisy minute hits every way:
 *
 * - strata, cross-compiled: examples/go/Dockerfile.cross (`FROM --platform=$BUILDPLATFORM`,
 *   `GOARCH=$TARGETARCH`): nothing runs under QEMU.
 * - strata, emulated: examples/go/Dockerfile.multi with an arm64 golang base: `RUN go build` runs
 *   arm64 Go under QEMU (binfmt_misc, `strata binfmt --install arm64`).
 * - BuildKit (docker 20.10, `DOCKER_BUILDKIT=1 docker build --platform linux/arm64`), the same two,
 *   with the same binfmt_misc handlers and the same base images (loaded into docker).
 *
 * Every build is `--no-cache` (each compiles gin and its dependencies). Prints each run and the
 * median per way.
 *
 * And the cost of emulation itself, without Go: one RUN of a busybox shell loop (arm64 busybox from
 * Debian's busybox-static:arm64, BENCH_LOOP iterations, default 100000) under QEMU, strata vs
 * BuildKit, BENCH_LOOP_RUNS times each (default 5), alternating.
 *
 * Usage: node --import tsx bench/multiplatform.ts
 *   BENCH_RUNS (default 3): cross-compiled runs per tool; BENCH_EMULATED_RUNS (default 1): emulated
 *   runs per tool (each takes minutes); BENCH_SKIP_EMULATED=1 skips them; BENCH_SKIP_GO=1 skips
 *   the Go builds (only the shell loop).
 * Needs golang:1.19-bookworm in strata's store with an arm64 manifest for the emulated builds:
 *   STRATA_BOOTSTRAP_PLATFORMS=linux/amd64,linux/arm64 node scripts/bootstrap.mjs golang:1.19-bookworm
 * ($STRATA_ROOT or --root of strata's default store).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parsePlatform } from '../src/oci/index.ts';
import { copyImage, openStore } from '../src/strata.ts';
import { makeForeignBusyboxTarball } from '../test/support/foreign-busybox.ts';
import { DOCKER } from '../tools/compare-buildkit.ts';

const repo = resolve(import.meta.dirname, '..');
const strataBin = join(repo, 'bin', 'strata');
const example = join(repo, 'examples', 'go');
const PLATFORM = 'linux/arm64';
/** The arm64 golang base under a name of its own in docker (whose store holds one image per name). */
const DOCKER_ARM64_BASE = 'strata-bench/golang:1.19-bookworm-arm64';

const bootstrap = (await import(pathToFileURL(join(repo, 'scripts', 'bootstrap.mjs')).href)) as {
  storedManifests(
    root: string | undefined,
    name: string,
  ): Array<{ digest: string; platform: { os: string; architecture: string } }> | undefined;
};
const demo = (await import(pathToFileURL(join(repo, 'scripts', 'demo.mjs')).href)) as {
  detectBuildEnvironment(o: { log: (s: string) => void }): Promise<{ buildArgs: Record<string, string[]> }>;
};
const buildArgs = ((await demo.detectBuildEnvironment({ log: () => undefined })).buildArgs.go ?? []).flatMap(
  (a) => ['--build-arg', a],
);

const work = mkdtempSync(join(tmpdir(), 'bench-multiplatform-'));
/** A copy of `dockerfile` without `# syntax=` (docker 20.10 would pull that frontend) and with `from` → `to`. */
function dockerfileCopy(dockerfile: string, replace?: { from: RegExp; to: string }): string {
  let text = readFileSync(join(example, dockerfile), 'utf8').replace(/^#\s*syntax=.*\n/m, '');
  if (replace) text = text.replace(replace.from, replace.to);
  const file = join(work, `${dockerfile}${replace ? '.arm64-base' : ''}`);
  writeFileSync(file, text);
  return file;
}

function timed(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): number {
  const start = performance.now();
  const r = spawnSync(command, args, { encoding: 'utf8', env, maxBuffer: 1 << 28 });
  const seconds = (performance.now() - start) / 1000;
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${r.stderr.slice(-3000)}`);
  return seconds;
}

const strata = (dockerfile: string) =>
  timed(strataBin, [
    'build',
    '--no-cache',
    '--progress',
    'plain',
    '--platform',
    PLATFORM,
    '-f',
    dockerfile,
    ...buildArgs,
    '-o',
    `type=local,dest=${join(work, 'out')}`,
    example,
  ]);
const buildkit = (dockerfile: string) =>
  timed(
    DOCKER,
    ['build', '-q', '--no-cache', '--platform', PLATFORM, '-f', dockerfile, ...buildArgs, example],
    {
      ...process.env,
      DOCKER_BUILDKIT: '1',
    },
  );

const root = process.env.STRATA_ROOT;
const golang = bootstrap.storedManifests(root, 'golang:1.19-bookworm') ?? [];
const hasArm64 = golang.some((m) => m.platform.architecture === 'arm64');
const dockerUp = spawnSync(DOCKER, ['info'], { stdio: 'ignore' }).status === 0;
const skipGo = process.env.BENCH_SKIP_GO === '1';
const runs = skipGo ? 0 : Number(process.env.BENCH_RUNS ?? 3);
const emulatedRuns =
  skipGo || process.env.BENCH_SKIP_EMULATED === '1' ? 0 : Number(process.env.BENCH_EMULATED_RUNS ?? 1);
const loopRuns = Number(process.env.BENCH_LOOP_RUNS ?? 5);
const loop = Number(process.env.BENCH_LOOP ?? 100_000);
if (emulatedRuns > 0 && !hasArm64)
  throw new Error(
    'golang:1.19-bookworm has no linux/arm64 manifest in the store: STRATA_BOOTSTRAP_PLATFORMS=linux/amd64,linux/arm64 node scripts/bootstrap.mjs golang:1.19-bookworm',
  );

const results = new Map<string, number[]>();
const record = (way: string, seconds: number) => {
  results.set(way, [...(results.get(way) ?? []), seconds]);
  process.stderr.write(`${way.padEnd(28)} ${seconds.toFixed(1)} s\n`);
};

try {
  const cross = dockerfileCopy('Dockerfile.cross');
  const multi = dockerfileCopy('Dockerfile.multi');
  const multiArm64 = dockerfileCopy('Dockerfile.multi', {
    from: /^FROM golang:\$\{GO_VERSION\}-bookworm/m,
    to: `FROM ${DOCKER_ARM64_BASE}`,
  });
  if (dockerUp) {
    // The same bases in docker: the host's golang for the cross build's builder stage, the arm64
    // one (as strata picks it from the index) under a name of its own for the emulated build.
    const store = await openStore(root);
    const hostGolang = golang.find((m) => m.platform.architecture !== 'arm64');
    const load = async (platform: string, name: string) => {
      const file = join(work, `${name.replace(/\W/g, '_')}.tar`);
      await copyImage('strata:golang:1.19-bookworm', `docker-archive:${file}:${name}`, {
        store,
        platform: parsePlatform(platform),
      });
      timed(DOCKER, ['load', '-q', '-i', file]);
      rmSync(file);
    };
    if (hostGolang) await load('linux/amd64', 'golang:1.19-bookworm');
    if (emulatedRuns > 0) await load(PLATFORM, DOCKER_ARM64_BASE);
    await store.close();
  }
  if (loopRuns > 0) {
    // The busybox arm64 base, in strata's store and in docker under the same name.
    const tarball = makeForeignBusyboxTarball(join(work, 'busybox'), 'arm64');
    timed(strataBin, ['import', '--platform', PLATFORM, tarball, 'strata-bench/busybox:arm64']);
    const context = join(work, 'loop');
    mkdirSync(context);
    writeFileSync(
      join(context, 'Dockerfile'),
      `FROM strata-bench/busybox:arm64\nRUN i=0; while [ $i -lt ${loop} ]; do i=$((i+1)); done; uname -m > /arch\n`,
    );
    if (dockerUp) {
      const store = await openStore(root);
      const file = join(work, 'busybox.tar');
      await copyImage(
        'strata:strata-bench/busybox:arm64',
        `docker-archive:${file}:strata-bench/busybox:arm64`,
        {
          store,
        },
      );
      await store.close();
      timed(DOCKER, ['load', '-q', '-i', file]);
    }
    for (let i = 0; i < loopRuns; i++) {
      record(
        `strata RUN loop (QEMU)`,
        timed(strataBin, ['build', '--no-cache', '--progress', 'plain', '--platform', PLATFORM, context]),
      );
      if (dockerUp)
        record(
          `BuildKit RUN loop (QEMU)`,
          timed(DOCKER, ['build', '-q', '--no-cache', '--platform', PLATFORM, context], {
            ...process.env,
            DOCKER_BUILDKIT: '1',
          }),
        );
    }
  }
  for (let i = 0; i < Math.max(runs, emulatedRuns); i++) {
    if (i < runs) {
      record('strata cross-compiled', strata(cross));
      if (dockerUp) record('BuildKit cross-compiled', buildkit(cross));
    }
    if (i < emulatedRuns) {
      record('strata emulated (QEMU)', strata(multi));
      if (dockerUp) record('BuildKit emulated (QEMU)', buildkit(multiArm64));
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1]!;
console.log(
  `${PLATFORM} on ${process.arch}, --no-cache, wall seconds (Go: the gin example; RUN loop: ${loop} busybox sh iterations):`,
);
console.log(`${'way'.padEnd(28)} ${'median'.padStart(8)}  runs`);
for (const [way, xs] of results)
  console.log(
    `${way.padEnd(28)} ${median(xs).toFixed(1).padStart(8)}  ${xs.map((x) => x.toFixed(1)).join(', ')}`,
  );
