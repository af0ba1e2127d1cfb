/**
 * bench/startup: how long `strata` takes to start, against Node's own start and BuildKit. One loop
 * runs, alternating run by run (so a noisy minute on the machine hits all alike):
 *   node -e 0                      Node's start-up, without NODE_EXTRA_CA_CERTS (the floor)
 *   node -e 0, NODE_EXTRA_CA_CERTS  as these machines start it (when the variable is set)
 *   strata --version               bin/strata
 *   strata --help
 *   strata build (no-op)           a rebuild of examples/go/Dockerfile.multi whose every step is cached
 *   BuildKit build (no-op)         the same with `DOCKER_BUILDKIT=1 /usr/bin/docker build` (warm daemon)
 * and prints the median and fastest of each, with the `node -e 0` of the same run beside them, so
 * runs on different machines compare. The no-op builds use `-q` for both tools.
 *
 * Usage: node --import tsx bench/startup.ts [--runs N] [--root DIR] [--no-build] [--strata BIN]
 * The strata no-op needs the example's base image (golang:1.19-bookworm) in the store: by default a
 * private store made from the examples' one ($STRATA_EXAMPLES_ROOT or /var/lib/strata-test/examples,
 * which `npm test` bootstraps) by hard-linking its blobs (never written in place) and copying its
 * image index, so the shared store is only read. BuildKit needs the same base in docker (loaded
 * from strata's store when missing).
 */
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { openStore } from '../src/strata.ts';
import { DOCKER, loadIntoDocker } from '../tools/compare-buildkit.ts';

const repo = resolve(import.meta.dirname, '..');

const example = join(repo, 'examples', 'go');
const dockerfile = join(example, 'Dockerfile.multi');
const BASE = 'golang:1.19-bookworm';

const argv = process.argv.slice(2);
const option = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const runs = Number(option('--runs') ?? 21);
/** The strata command to time (another checkout's bin/strata, for a before/after in one run). */
const strataBin = resolve(option('--strata') ?? join(repo, 'bin', 'strata'));
const withBuild = !argv.includes('--no-build');

/** The environment strata and Node run in: the machine's, less NODE_EXTRA_CA_CERTS for `node -e 0`. */
const machineEnv = { ...process.env };
const bareEnv = { ...process.env };
delete bareEnv.NODE_EXTRA_CA_CERTS;

/** A private store holding the examples' images: blobs hard-linked, metadata copied. */
function privateRoot(): string {
  const source = process.env.STRATA_EXAMPLES_ROOT ?? '/var/lib/strata-test/examples';
  const dir = join(process.env.BENCH_DIR ?? '/var/tmp', 'strata-bench-startup');
  if (existsSync(join(dir, 'index.json'))) return dir;
  if (!existsSync(join(source, 'index.json')))
    throw new Error(`no examples store at ${source}: run \`npm test -- examples\` once, or pass --root`);
  mkdirSync(dir, { recursive: true });
  // Blobs are content-addressed and replaced only by rename: hard links are safe and instant.
  for (const algorithm of readdirSync(join(source, 'blobs'))) {
    mkdirSync(join(dir, 'blobs', algorithm), { recursive: true });
    for (const blob of readdirSync(join(source, 'blobs', algorithm))) {
      const target = join(dir, 'blobs', algorithm, blob);
      if (!existsSync(target)) linkSync(join(source, 'blobs', algorithm, blob), target);
    }
  }
  for (const file of ['index.json', 'oci-layout']) cpSync(join(source, file), join(dir, file));
  return dir;
}

interface Sample {
  readonly label: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly times: number[];
}

function time(sample: Sample): number {
  const start = performance.now();
  const r = spawnSync(sample.command, sample.args, { env: sample.env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - start;
  if (r.status !== 0)
    throw new Error(`${sample.label} failed (${r.status ?? r.signal}): ${r.stderr.toString().slice(-2000)}`);
  return ms;
}

const samples: Sample[] = [
  { label: '`node -e 0`', command: process.execPath, args: ['-e', '0'], env: bareEnv, times: [] },
];
if (process.env.NODE_EXTRA_CA_CERTS)
  samples.push({
    label: '`node -e 0` with NODE_EXTRA_CA_CERTS',
    command: process.execPath,
    args: ['-e', '0'],
    env: machineEnv,
    times: [],
  });
samples.push(
  { label: '`strata --version`', command: strataBin, args: ['--version'], env: machineEnv, times: [] },
  { label: '`strata --help`', command: strataBin, args: ['--help'], env: machineEnv, times: [] },
);
let buildkitFile: string | undefined;
if (withBuild) {
  const root = option('--root') ?? privateRoot();
  const buildArgs = ['--build-arg', 'GO_DEPS=debian'];
  const strataArgs = ['--root', root, 'build', '-q', ...buildArgs, '-f', dockerfile, example];
  samples.push({
    label: 'strata no-op build (Go multi)',
    command: strataBin,
    args: strataArgs,
    env: machineEnv,
    times: [],
  });
  // docker 20.10 would pull a `# syntax=` frontend from Docker Hub: build from a copy without it.
  buildkitFile = join(tmpdir(), `bench-startup-${process.pid}.Dockerfile`);
  writeFileSync(buildkitFile, readFileSync(dockerfile, 'utf8').replace(/^#\s*syntax=.*\n/m, ''));
  if (spawnSync(DOCKER, ['image', 'inspect', BASE], { stdio: 'ignore' }).status !== 0) {
    const work = mkdtempSync(join(tmpdir(), 'bench-startup-'));
    try {
      await loadIntoDocker(await openStore(root), [BASE], work);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  samples.push({
    label: 'BuildKit no-op build (Go multi)',
    command: DOCKER,
    args: ['build', '-q', ...buildArgs, '-f', buildkitFile, example],
    env: { ...machineEnv, DOCKER_BUILDKIT: '1' },
    times: [],
  });
  // The first builds fill both caches (and strata's code cache); they are not timed.
  for (const s of samples.slice(-2)) {
    const r = spawnSync(s.command, s.args, { env: s.env, stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error(`${s.label}: the warm-up build failed`);
  }
}

try {
  for (let i = 0; i < runs + 2; i++) {
    for (const s of samples) {
      const ms = time(s);
      if (i >= 2) s.times.push(ms); // two warm-up rounds (code caches, page cache)
    }
  }
} finally {
  if (buildkitFile) rmSync(buildkitFile, { force: true });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const floor = median(samples[0]!.times);
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(
  `${new Date().toISOString()}: ${runs} alternating runs, load average ${load}, Node ${process.version}`,
);
console.log('');
console.log('| command | median | fastest | median − `node -e 0` |');
console.log('|---|---|---|---|');
for (const s of samples) {
  const m = median(s.times);
  console.log(
    `| ${s.label} | ${m.toFixed(1)} ms | ${Math.min(...s.times).toFixed(1)} ms | ${s === samples[0] ? '—' : `${(m - floor).toFixed(1)} ms`} |`,
  );
}
if (withBuild) {
  const strata = median(samples.at(-2)!.times);
  const buildkit = median(samples.at(-1)!.times);
  console.log('');
  console.log(`no-op rebuild: strata/BuildKit = ${(strata / buildkit).toFixed(2)} (medians)`);
}
