/**
 * bench/rootless: a rootless build against root's (issue 21; goal ≤ 1.15×). Builds each example's
 * Dockerfile.multi with `--no-cache` as root (a store of its own) and as a throwaway user with
 * subordinate ids (its own store, through strata's user namespace), alternating which goes first
 * each round, BENCH_RUNS rounds (default 3), and prints the median wall time of each and their
 * ratio, per example and over all.
 *
 * Needs root (it makes the user, as test/rootless does) and the examples' bootstrapped bases
 * ($STRATA_EXAMPLES_ROOT, default /var/lib/strata-test/examples; only read).
 *
 * Usage: node --import tsx bench/rootless.ts [go node python]
 */
import { spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { prepareExamples } from '../test/rootless/example-bases.ts';
import { createTestUser, openTunDevice } from '../test/rootless/test-user.ts';
import { runStrata, tempDir } from '../test/support/cli.ts';

const runs = Number(process.env.BENCH_RUNS ?? 3);
const only = process.argv.slice(2);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const restoreTun = openTunDevice();
const work = tempDir('strata-bench-rootless-');
chmodSync(work.path, 0o755);
const rootStore = join(work.path, 'root-store');
const user = createTestUser(`strata-rb${process.pid}`, { start: 700000, count: 65536 });
try {
  const inputs = await prepareExamples({ work: work.path, rootStore, user });
  const examples = inputs.examples.filter((e) => only.length === 0 || only.includes(e.name));
  const times = new Map<string, { root: number[]; rootless: number[] }>();
  const load = () =>
    spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.split(' ').slice(0, 3).join(' ');
  console.log(`${new Date().toISOString()} start, load ${load()}`);
  for (let round = 0; round < runs; round++) {
    for (const example of examples) {
      const entry = times.get(example.name) ?? { root: [], rootless: [] };
      times.set(example.name, entry);
      const args = inputs.buildArgs(example, `bench/${example.name}:multi`, ['--no-cache']);
      const order = round % 2 === 0 ? (['root', 'rootless'] as const) : (['rootless', 'root'] as const);
      for (const who of order) {
        const start = performance.now();
        const result =
          who === 'root'
            ? await runStrata(args, { root: rootStore, timeoutMs: 1_800_000 })
            : await user.strata(args, { timeoutMs: 1_800_000 });
        const seconds = (performance.now() - start) / 1000;
        if (result.code !== 0)
          throw new Error(`${who} build of ${example.name} failed:\n${result.stderr.slice(-3000)}`);
        entry[who].push(seconds);
        console.log(`round ${round + 1} ${example.name} ${who}: ${seconds.toFixed(2)} s`);
      }
    }
  }
  console.log(`${new Date().toISOString()} end, load ${load()}\n`);
  console.log('| example | root s (median) | rootless s (median) | ratio |');
  console.log('|---|---|---|---|');
  let rootTotal = 0;
  let rootlessTotal = 0;
  for (const [name, { root, rootless }] of times) {
    rootTotal += median(root);
    rootlessTotal += median(rootless);
    console.log(
      `| ${name}/Dockerfile.multi | ${median(root).toFixed(2)} | ${median(rootless).toFixed(2)} | ${(median(rootless) / median(root)).toFixed(2)} |`,
    );
  }
  console.log(
    `| all | ${rootTotal.toFixed(2)} | ${rootlessTotal.toFixed(2)} | ${(rootlessTotal / rootTotal).toFixed(2)} |`,
  );
} finally {
  user.remove();
  restoreTun();
  work.cleanup();
}
