/**
 * bench/ci: the fresh-runner scenario of issue 19, strata and BuildKit side by side.
 *
 * Per example (Go with a go-build cache mount, Node with an npm cache mount, Python with a pip
 * cache mount: the examples' Dockerfile.multi with the mount added to the step that would use it):
 *
 *  1. Machine A (an empty STRATA_ROOT) builds commit N with
 *     `--cache-to type=registry,ref=<local registry>/…,mode=max` — and, when the flag is accepted,
 *     once more with `mounts=all` to a second ref (cache mounts travel with the cache).
 *  2. Each run: one source file changes (commit N+1, a change no run has seen), then
 *     - strata, fresh runner: a new, empty STRATA_ROOT builds N+1 with `--cache-from` the ref;
 *     - strata, fresh runner with `mounts=all`: the same from the mounts ref (or n/a);
 *     - BuildKit, fresh: `docker builder prune -af` and `docker rmi` of everything the bench gave
 *       the daemon, then `DOCKER_BUILDKIT=1 docker build --cache-from <inline-cache image>` of N+1
 *       (the image of N was built with `--build-arg BUILDKIT_INLINE_CACHE=1` and pushed);
 *     - strata, warm: machine A rebuilds N+1.
 *     The tools take turns run by run, so a slow minute on a shared machine costs each of them.
 *
 * A fresh runner has nothing: the base images are pushed to the same local registry and every
 * FROM is rewritten to pull them from there, for strata and for dockerd alike (the daemon's copy is
 * removed before each BuildKit run). Timed: the whole `build` command, wall clock. Medians of
 * BENCH_CI_RUNS runs (default 3). Output: a markdown table for bench/RESULTS.md.
 *
 * Usage: node --import tsx bench/ci.ts [go|node|python …]   (default: all three)
 * Needs the examples' bases in the store they were bootstrapped into (STRATA_BASES, default
 * /var/lib/strata-test/examples, read only), Debian's docker-registry, and dockerd for BuildKit.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startRegistry } from '../test/support/registry.ts';
import { DOCKER } from '../tools/compare-buildkit.ts';

const repo = resolve(import.meta.dirname, '..');
const strataBin = join(repo, 'bin', 'strata');
const BASES = process.env.STRATA_BASES ?? '/var/lib/strata-test/examples';
const RUNS = Number(process.env.BENCH_CI_RUNS ?? 3);
const work = mkdtempSync(join(tmpdir(), 'bench-ci-'));

/** The cache mount each example's variant adds, on the RUN step that matches. */
const MOUNTS: Record<string, { readonly step: RegExp; readonly target: string }> = {
  go: { step: /go build/, target: '/root/.cache/go-build' },
  node: { step: /npm ci/, target: '/root/.npm' },
  python: { step: /pip install/, target: '/root/.cache/pip' },
};

const demo = (await import(pathToFileURL(join(repo, 'scripts', 'demo.mjs')).href)) as {
  detectBuildEnvironment(o: {
    log: (s: string) => void;
  }): Promise<{ buildArgs: Record<string, string[]>; secrets: string[] }>;
};
const environment = await demo.detectBuildEnvironment({ log: () => undefined });

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const start = performance.now();
  const r = spawnSync(command, args, { encoding: 'utf8', env, maxBuffer: 1 << 28 });
  if (r.status !== 0)
    throw new Error(`${command} ${args.join(' ')} failed (${r.status}): ${(r.stderr ?? '').slice(-3000)}`);
  return (performance.now() - start) / 1000;
}

function strata(root: string, args: string[]): number {
  return run(strataBin, ['--root', root, ...args]);
}

/** Whether strata accepts `mounts=all` in `--cache-to` (issue 19's cache mounts; tried on a tiny build). */
function mountsSupported(): boolean {
  const ctx = join(work, 'probe');
  rmSync(ctx, { recursive: true, force: true });
  spawnSync('mkdir', ['-p', ctx]);
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY f /f\n');
  writeFileSync(join(ctx, 'f'), 'f');
  const r = spawnSync(
    strataBin,
    [
      '--root',
      join(work, 'probe-root'),
      'build',
      '-q',
      '--cache-to',
      `type=local,dest=${join(work, 'probe-cache')},mode=max,mounts=all`,
      ctx,
    ],
    { encoding: 'utf8' },
  );
  return r.status === 0;
}

/** The example's Dockerfile.multi with the cache mount, every FROM of an image pulled from `registry`. */
function variant(example: string, registry: string): { dockerfile: string; bases: string[] } {
  const source = readFileSync(join(repo, 'examples', example, 'Dockerfile.multi'), 'utf8');
  const lines = source.replace(/^#\s*syntax=.*\n/m, '').split('\n');
  const mount = MOUNTS[example]!;
  const at = lines.findIndex((l) => mount.step.test(l));
  let runLine = at;
  while (runLine >= 0 && !lines[runLine]!.startsWith('RUN ')) runLine--;
  if (runLine < 0) throw new Error(`examples/${example}: no RUN step matches ${mount.step}`);
  lines[runLine] = lines[runLine]!.replace(/^RUN /, `RUN --mount=type=cache,target=${mount.target} `);
  // Resolve the ARGs before the first FROM (their defaults) to name the bases.
  const args = new Map<string, string>();
  const stages = new Set<string>();
  const bases: string[] = [];
  const out = lines.map((line) => {
    const arg = /^ARG\s+(\w+)=(\S+)/.exec(line);
    if (arg && stages.size === 0 && bases.length === 0) args.set(arg[1]!, arg[2]!);
    const from = /^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (!from) return line;
    const image = from[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a, b) => args.get(a ?? b) ?? '');
    const isStage = stages.has(image);
    if (from[2]) stages.add(from[2]);
    if (image === 'scratch' || isStage) return line;
    const name = image.includes('/') ? image : `library/${image}`;
    bases.push(image);
    return line.replace(from[1]!, `${registry}/${name}`);
  });
  const file = join(work, `Dockerfile.${example}`);
  writeFileSync(file, out.join('\n'));
  return { dockerfile: file, bases: [...new Set(bases)] };
}

function sourceFile(dir: string): string {
  for (const candidate of ['main.go', 'app.py', 'src/index.ts', 'src/server.ts', 'index.js'])
    if (existsSync(join(dir, candidate))) return join(dir, candidate);
  throw new Error(`no source file to change in ${dir}`);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[(sorted.length - 1) >> 1]!;
}

const registry = await startRegistry();
const dockerUp = spawnSync(DOCKER, ['info'], { stdio: 'ignore' }).status === 0;
const withMounts = mountsSupported();
const rows: string[][] = [];
const examples = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['go', 'node', 'python'];
try {
  for (const example of examples) {
    const { dockerfile, bases } = variant(example, registry.host);
    for (const base of bases) {
      const name = base.includes('/') ? base : `library/${base}`;
      run(strataBin, ['--root', BASES, 'copy', '-q', `strata:${base}`, `docker://${registry.host}/${name}`]);
    }
    // The context: a copy of the example, so the one-line changes stay out of the repository.
    const ctx = join(work, `ctx-${example}`);
    spawnSync('cp', ['-r', join(repo, 'examples', example), ctx]);
    const src = sourceFile(ctx);
    const original = readFileSync(src, 'utf8');
    const comment = src.endsWith('.py') ? '#' : '//';
    const change = (n: number) => writeFileSync(src, `${original}\n${comment} ci bench ${n} ${Date.now()}\n`);
    const flags = [
      ...(environment.buildArgs[example] ?? []).flatMap((a) => ['--build-arg', a]),
      ...(example === 'node' ? environment.secrets.flatMap((s) => ['--secret', s]) : []),
    ];
    const build = ['build', '-q', '-f', dockerfile, ...flags];
    const ref = `${registry.host}/cache/${example}`;
    const machineA = join(work, `a-${example}`);
    change(0);
    const cold = strata(machineA, [...build, '--cache-to', `type=registry,ref=${ref}:strata,mode=max`, ctx]);
    if (withMounts)
      strata(machineA, [...build, '--cache-to', `type=registry,ref=${ref}:mounts,mode=max,mounts=all`, ctx]);
    const bkImage = `${ref}:buildkit`;
    const dockerEnv = { ...process.env, DOCKER_BUILDKIT: '1' };
    const pruneDocker = () => {
      for (const image of [
        bkImage,
        ...bases.map((b) => `${registry.host}/${b.includes('/') ? b : `library/${b}`}`),
      ])
        spawnSync(DOCKER, ['rmi', '-f', image], { stdio: 'ignore' });
      spawnSync(DOCKER, ['builder', 'prune', '-af'], { stdio: 'ignore' });
    };
    let bkCold = 0;
    // The daemon is shared with other users of the machine: when it goes away mid-bench, the
    // BuildKit columns say so instead of the whole bench failing.
    let bkError: string | undefined;
    const buildkitStep = (f: () => void) => {
      if (!dockerUp || bkError) return;
      try {
        f();
      } catch (error) {
        bkError = (error as Error).message.split('\n')[0]!.slice(0, 300);
        console.error(`BuildKit: ${bkError}`);
      }
    };
    buildkitStep(() => {
      pruneDocker();
      bkCold = run(
        DOCKER,
        [
          'build',
          '-q',
          '-f',
          dockerfile,
          ...flags,
          '--build-arg',
          'BUILDKIT_INLINE_CACHE=1',
          '-t',
          bkImage,
          ctx,
        ],
        dockerEnv,
      );
      run(DOCKER, ['push', '-q', bkImage]);
    });
    const fresh: number[] = [];
    const freshMounts: number[] = [];
    const buildkit: number[] = [];
    const warm: number[] = [];
    for (let r = 1; r <= RUNS; r++) {
      change(r);
      const root = join(work, `fresh-${example}-${r}`);
      fresh.push(strata(root, [...build, '--cache-from', `type=registry,ref=${ref}:strata`, ctx]));
      rmSync(root, { recursive: true, force: true });
      if (withMounts) {
        freshMounts.push(
          strata(`${root}-m`, [...build, '--cache-from', `type=registry,ref=${ref}:mounts`, ctx]),
        );
        rmSync(`${root}-m`, { recursive: true, force: true });
      }
      buildkitStep(() => {
        pruneDocker();
        buildkit.push(
          run(DOCKER, ['build', '-q', '-f', dockerfile, ...flags, '--cache-from', bkImage, ctx], dockerEnv),
        );
      });
      warm.push(strata(machineA, [...build, ctx]));
    }
    if (dockerUp) pruneDocker();
    rmSync(machineA, { recursive: true, force: true });
    const f = (n: number) => `${n.toFixed(1)} s`;
    const bk = buildkit.length > 0 ? median(buildkit) : undefined;
    const best = withMounts ? median(freshMounts) : median(fresh);
    rows.push([
      example,
      f(cold),
      bkCold > 0 ? f(bkCold) : '-',
      f(median(fresh)),
      withMounts ? f(median(freshMounts)) : 'n/a',
      bk ? f(bk) : '-',
      f(median(warm)),
      bk ? `${(best / bk).toFixed(2)}×` : '-',
      `${(best / median(warm)).toFixed(2)}×`,
    ]);
    console.error(
      `${example}: fresh ${fresh.map(f).join(', ')}; mounts ${freshMounts.map(f).join(', ') || 'n/a'}; BuildKit ${buildkit.map(f).join(', ')}; warm ${warm.map(f).join(', ')}`,
    );
  }
} finally {
  await registry.stop();
  rmSync(work, { recursive: true, force: true });
}
const header = [
  'example',
  'cold N (cache-to)',
  'BuildKit cold N',
  'fresh N+1',
  'fresh N+1 mounts=all',
  'BuildKit fresh N+1',
  'strata warm N+1',
  'fresh/BuildKit',
  'fresh/warm',
];
console.log(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`);
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
console.log(`\n${RUNS} run(s) each, medians; fresh/… ratios use the mounts=all run when strata has it.`);
