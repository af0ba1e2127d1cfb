/**
 * bench/network: what a RUN step's own network namespace costs (issue 16 §1; goal: < 20 ms per
 * RUN). Runs `true` in a busybox rootfs with each network mode — `host` (the host's namespace),
 * `sandbox` (a namespace of its own with slirp4netns, the default), `sandbox` again right after a
 * sandbox step (its network made while the previous step ran, as in a build's run of RUNs) and
 * `none` — alternating in that order, BENCH_RUNS rounds (default 30), and prints the median and
 * quartiles per step, the sandbox's cost over host (from the medians, and per round paired), how
 * long a step waits for its network from the pool, and the setup and teardown of one network
 * alone, without the executor's spare (namespace + slirp4netns up; slirp4netns down + namespace gone).
 *
 * Usage: node --import tsx bench/network.ts [runc|crun]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type OciExecutor, openExecutor, openStepNetwork, StepNetworkPool } from '../src/runtime/index.ts';
import { Collector, makeBusyboxRootfs, removeTempDir } from '../test/runtime/busybox-rootfs.ts';

const runs = Number(process.env.BENCH_RUNS ?? 30);
const runtime = process.argv[2] ?? 'runc';
const modes = ['host', 'sandbox', 'sandbox, after sandbox', 'none'] as const;
type Mode = (typeof modes)[number];

function quartiles(values: readonly number[]): { q1: number; median: number; q3: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
  return { q1: at(0.25), median: at(0.5), q3: at(0.75) };
}

/** CPU time of this process and its reaped children, user + system, in ms (/proc/self/stat). */
function cpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime, stime, cutime, cstime: fields 14–17 of proc(5), 11–14 after the command.
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  return (ticks * 1000) / 100; // USER_HZ
}

async function step(executor: OciExecutor, rootfs: string, mode: Mode): Promise<number> {
  const network = mode === 'host' || mode === 'none' ? mode : 'sandbox';
  const start = performance.now();
  const result = await executor.run({
    rootfs,
    process: { args: ['true'], env: [], cwd: '/', user: '', network },
    stdout: new Collector(),
    stderr: new Collector(),
  });
  if (result.exitCode !== 0) throw new Error(`true exited ${result.exitCode} with network ${network}`);
  return performance.now() - start;
}

const { dir, rootfs } = makeBusyboxRootfs('strata-bench-network-');
const fmt = (q: { q1: number; median: number; q3: number }) =>
  `${q.median.toFixed(1)} ms (q1 ${q.q1.toFixed(1)}, q3 ${q.q3.toFixed(1)})`;
try {
  const executor = await openExecutor({ stateDir: join(dir, 'state'), runtime });
  const times = new Map<string, number[]>(modes.map((m) => [m, []]));
  for (const mode of modes) await step(executor, rootfs, mode); // warm-up
  for (let i = 0; i < runs; i++)
    for (const mode of modes) times.get(mode)?.push(await step(executor, rootfs, mode));
  // What a sandboxed step waits for its network: take one, run a (host) step as long as a RUN,
  // give it back, as the executor does.
  const pool = new StepNetworkPool();
  const waits: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const network = await pool.take();
    waits.push(performance.now() - start);
    const running = step(executor, rootfs, 'host');
    pool.prepareNext();
    await running;
    pool.release(network);
  }
  await pool.close();
  const setup: number[] = [];
  const teardown: number[] = [];
  const cpuBefore = cpuMs();
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const network = await openStepNetwork(`strata-net-${process.pid}-bench${i}`);
    const up = performance.now();
    await network.release();
    setup.push(up - start);
    teardown.push(performance.now() - up);
  }
  console.log(`${executor.runtime.flavour} (${executor.runtime.mode}), ${runs} runs each, RUN true:`);
  for (const mode of modes) console.log(`  ${mode.padEnd(22)} ${fmt(quartiles(times.get(mode) ?? []))}`);
  const host = quartiles(times.get('host') ?? []).median;
  for (const mode of ['sandbox', 'sandbox, after sandbox'] as const) {
    const sandbox = quartiles(times.get(mode) ?? []).median;
    // Paired: each round's sandbox step against the host step of the same round (load drifts
    // over seconds, so neighbours share more of it than the two columns' medians do).
    const hosts = times.get('host') ?? [];
    const paired = quartiles((times.get(mode) ?? []).map((t, i) => t - (hosts[i] ?? Number.NaN)));
    console.log(
      `  ${mode} − host: ${(sandbox - host).toFixed(1)} ms per RUN (medians); per round, paired: ${fmt(paired)}`,
    );
  }
  console.log(
    `  a step's wait for its network (pool.take(), the next made while a step runs): ${fmt(quartiles(waits))}`,
  );
  console.log(`  namespace + slirp4netns up:    ${fmt(quartiles(setup))}`);
  console.log(`  slirp4netns down + netns gone: ${fmt(quartiles(teardown))}`);
  console.log(
    `  CPU per network (strata + slirp4netns, user + system): ${((cpuMs() - cpuBefore) / runs).toFixed(1)} ms`,
  );
  await executor.close();
} finally {
  removeTempDir(dir);
}
