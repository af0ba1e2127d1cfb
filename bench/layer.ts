// Layer creation and extraction benchmark.
//
//   node --import tsx bench/layer.ts [tree-dir] [--runs=N] [--skip-extract] [--zstd]
//
// Builds a ~1 GB tree once (default /tmp/strata-bench-tree: a copy of /usr/share — tens of
// thousands of small files — plus a few large libraries from /usr/lib) and reuses it. Then, in one
// run and with a warm page cache, it times:
//   - strata: walk + tar + sha256 (diff_id) + gzip -1 + sha256 (digest) + write, in a child
//     process so its peak RSS is its own — with parallel gzip and with a single zlib stream;
//   - `tar -c | gzip -1 | sha256sum` and `tar -c | pigz -1 | sha256sum`;
//   - extraction of the same .tar.gz: strata's applyLayer vs `tar -xzf`, into /dev/shm (tmpfs,
//     so the numbers measure CPU cost rather than ext4 writeback).
// Every engineer shares the 2 cores: run the full thing sparingly.
import { spawnSync } from 'node:child_process';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { applyLayer, openDecompressed, packDirectory, writeLayerBlob } from '../src/archive/index.ts';

const args = process.argv.slice(2);
const DEFAULT_TREE = '/tmp/strata-bench-tree';
/** Path of the bundled child script, once built. */
let bundled: string | undefined;

if (args[0] === '--child') {
  await child(args.slice(1));
  process.exit(0);
}

const known = /^--(runs=\d+|skip-extract|zstd)$/;
const unknown = args.filter((a) => a.startsWith('-') && !known.test(a));
if (unknown.length > 0) {
  console.error('usage: node --import tsx bench/layer.ts [tree-dir] [--runs=N] [--skip-extract] [--zstd]');
  process.exit(unknown.includes('--help') ? 0 : 2);
}
const tree = resolve(args.find((a) => !a.startsWith('--')) ?? DEFAULT_TREE);
const runs = Number(args.find((a) => a.startsWith('--runs='))?.slice(7) ?? 1);
const scratch = existsSync('/dev/shm') ? '/dev/shm/strata-bench' : '/tmp/strata-bench-scratch';

ensureTree(tree);
await bundleChild();
rmSync(scratch, { recursive: true, force: true });
mkdirSync(scratch, { recursive: true });
const treeBytes = Number(sh(`du -sb ${q(tree)} | cut -f1`).trim());
const files = Number(sh(`find ${q(tree)} -type f | wc -l`).trim());
console.log(
  `tree ${tree}: ${(treeBytes / 1e6).toFixed(0)} MB, ${files} files; ${runs} run(s) each; scratch ${scratch}`,
);
sh(`tar -C ${q(tree)} -cf - . | cat > /dev/null`); // warm the page cache once for everyone

/** One timed run: wall and CPU seconds (all threads / all pipeline processes), child peak RSS. */
interface Measurement {
  seconds: number;
  cpu: number;
  rssMb?: number;
  size?: number;
}
interface Result {
  name: string;
  runs: Measurement[];
  note?: string;
}
const results: Result[] = [];
const record = (name: string, m: Measurement, note?: string): void => {
  let r = results.find((x) => x.name === name);
  if (!r) {
    r = { name, runs: [] };
    results.push(r);
  }
  r.runs.push(m);
  if (note) r.note = note;
};

const blob = join(scratch, 'layer.tar.gz');
for (let i = 0; i < runs; i++) {
  record(
    'tar -c | gzip -1 | sha256sum',
    timeShell(`tar -C ${q(tree)} -cf - . | gzip -1 | sha256sum > /dev/null`),
  );
  record(
    'tar -c | pigz -1 | sha256sum',
    timeShell(`tar -C ${q(tree)} -cf - . | pigz -1 | sha256sum > /dev/null`),
  );
  // Single last, so the extraction below reads the single-stream blob (either would do).
  for (const mode of ['parallel', 'single'] as const) {
    rmSync(blob, { force: true });
    const out = runChild(['create', tree, blob, 'gzip', mode, '1']);
    record(`strata gzip -1 (${mode})`, out, `${((out.size ?? 0) / 1e6).toFixed(0)} MB blob`);
  }
  if (args.includes('--zstd')) {
    const zst = join(scratch, 'layer.tar.zst');
    rmSync(zst, { force: true });
    const out = runChild(['create', tree, zst, 'zstd', 'single', '3']);
    record('strata zstd -3', out, `${((out.size ?? 0) / 1e6).toFixed(0)} MB blob`);
    rmSync(zst, { force: true });
  }
}
if (!args.includes('--skip-extract')) {
  for (let i = 0; i < runs; i++) {
    const a = join(scratch, 'x-strata');
    const b = join(scratch, 'x-gnu');
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
    mkdirSync(b);
    record('strata apply (gunzip + extract)', runChild(['extract', blob, a]));
    record('tar -xzf', timeShell(`tar --xattrs --xattrs-include='*' -xzpf ${q(blob)} -C ${q(b)}`));
    const diff = sh(
      `diff <(cd ${q(a)} && find . -printf '%p %y %m %U %G %s %l\\n' | sort) <(cd ${q(b)} && find . -printf '%p %y %m %U %G %s %l\\n' | sort) | head -5`,
    );
    if (diff.trim() !== '') console.log(`extraction trees differ:\n${diff}`);
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
}
rmSync(scratch, { recursive: true, force: true });

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const wall = (r: Result): number => median(r.runs.map((m) => m.seconds));
const gzipRef = wall(results.find((r) => r.name.startsWith('tar -c | gzip'))!);
const pigzRef = wall(results.find((r) => r.name.startsWith('tar -c | pigz'))!);
const mb = treeBytes / 1e6;
console.log(
  '\n| what | wall (median) | CPU s | MB/s | vs tar\\|gzip -1 | vs tar\\|pigz -1 | peak RSS | note |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const r of results) {
  const s = wall(r);
  const cpu = median(r.runs.map((m) => m.cpu));
  const rss = r.runs.map((m) => m.rssMb).filter((x): x is number => x !== undefined);
  const create = !r.name.includes('apply') && !r.name.includes('-x');
  console.log(
    `| ${r.name} | ${s.toFixed(2)} s | ${cpu.toFixed(2)} | ${(mb / s).toFixed(0)} | ${create ? `${(gzipRef / s).toFixed(2)}×` : ''} | ${create ? `${(pigzRef / s).toFixed(2)}×` : ''} | ${rss.length ? `${Math.max(...rss).toFixed(0)} MB` : ''} | ${r.note ?? ''} |`,
  );
}
const xs = results.find((r) => r.name.startsWith('strata apply'));
const xg = results.find((r) => r.name === 'tar -xzf');
if (xs && xg) console.log(`\nextraction: strata ${(wall(xg) / wall(xs)).toFixed(2)}× the speed of tar -xzf`);
console.log(`load average after: ${sh('cat /proc/loadavg').trim()}`);

// ---------------------------------------------------------------------------------------------

async function child([what, ...rest]: string[]): Promise<void> {
  const start = process.hrtime.bigint();
  let size = 0;
  if (what === 'create') {
    const [dir, out, compression, mode, level] = rest as [
      string,
      string,
      'gzip' | 'zstd',
      'parallel' | 'single',
      string,
    ];
    const blob = await writeLayerBlob(packDirectory(dir), {
      sink: out,
      compression,
      gzipMode: mode,
      level: Number(level),
    });
    size = blob.size;
  } else {
    const [blob, dest] = rest as [string, string];
    await applyLayer(openDecompressed(createReadStream(blob, { highWaterMark: 1024 * 1024 })), dest);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const usage = process.resourceUsage();
  const cpu = (usage.userCPUTime + usage.systemCPUTime) / 1e6;
  process.stdout.write(JSON.stringify({ seconds, cpu, rssMb: usage.maxRSS / 1024, size }));
}

/**
 * The child runs from an esbuild bundle of this file, as the shipped CLI does (dist/strata-bundle.cjs):
 * under tsx alone the loader adds ~30 MB of RSS that a user never pays.
 */
async function bundleChild(): Promise<string> {
  if (bundled) return bundled;
  const { build } = await import('esbuild');
  const out = join(resolve(import.meta.dirname, '..'), '.tmp', 'bench-layer.mjs');
  await build({
    entryPoints: [import.meta.filename],
    outfile: out,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    external: ['zstd-napi', '@napi-rs/xattr', 'esbuild'],
    logLevel: 'warning',
  });
  bundled = out;
  return out;
}

function runChild(childArgs: string[]): Measurement {
  const result = spawnSync(process.execPath, [bundled!, '--child', ...childArgs], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (result.status !== 0) throw new Error(`bench child ${childArgs[0]} failed (${result.status})`);
  return JSON.parse(result.stdout) as Measurement;
}

/** Wall and CPU time (user + sys of every process in the pipeline) of a shell command. */
function timeShell(command: string): Measurement {
  const out = sh(`TIMEFORMAT='%3R %3U %3S'; { time ( ${command} ) ; } 2>&1`);
  const [real, user, system] = out.trim().split('\n').at(-1)!.split(' ').map(Number) as [
    number,
    number,
    number,
  ];
  return { seconds: real, cpu: user + system };
}

function sh(command: string): string {
  const result = spawnSync('bash', ['-o', 'pipefail', '-c', command], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (result.status !== 0) throw new Error(`${command}: exited ${result.status}: ${result.stderr}`);
  return result.stdout;
}

function q(path: string): string {
  return `'${path.replaceAll("'", "'\\''")}'`;
}

/** Builds the bench tree once: /usr/share (many small files) + the largest /usr/lib files. */
function ensureTree(dir: string): void {
  if (existsSync(join(dir, '.complete'))) return;
  // A tree the user named is used as it is: only a half-built default tree is ever removed.
  if (existsSync(dir) && dir !== DEFAULT_TREE) return;
  console.log(`building the bench tree in ${dir} (once)…`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'big'), { recursive: true });
  sh(`cp -a /usr/share ${q(join(dir, 'share'))}`);
  let bytes = Number(sh(`du -sb ${q(dir)} | cut -f1`).trim());
  const big = sh(`find /usr/lib -type f -size +20M -printf '%s %p\\n' | sort -rn | head -20`)
    .trim()
    .split('\n')
    .map((line) => line.slice(line.indexOf(' ') + 1));
  for (const file of big) {
    if (bytes > 1.0e9) break;
    const target = join(dir, 'big', file.replaceAll('/', '_'));
    sh(`cp -a ${q(file)} ${q(target)}`);
    bytes += statSync(target).size;
  }
  writeFileSync(join(dir, '.complete'), `${new Date().toISOString()}\n`);
  console.log(
    `bench tree: ${readdirSync(join(dir, 'big')).length} large files, ${(bytes / 1e6).toFixed(0)} MB`,
  );
}
