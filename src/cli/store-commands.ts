import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import {
  diskUsage,
  type PruneOptions,
  type PrunePlan,
  type PruneResult,
  parseDuration,
  parseSize,
  planPrune,
  prune,
} from '../api/prune.ts';
import { InvalidInputError, StrataError } from '../util/index.ts';
import { collect, storeFor } from './cli-context.ts';
import { formatBytes, formatTable } from './format.ts';

/** Thrown by `strata store verify` when any blob is damaged or missing. */
export class StoreVerifyFailedError extends StrataError {
  constructor(count: number) {
    super('STORE_CORRUPT', `store verification failed: ${count} problem${count === 1 ? '' : 's'}`, {
      hint: 'remove the damaged images with `strata rmi` and pull or build them again',
    });
  }
}

/** The options `strata prune` accepts (docker builder prune's, plus `--dry-run` and `--json`). */
interface PruneCommandOptions {
  force?: boolean;
  all?: boolean;
  keepStorage?: string;
  filter: string[];
  dryRun?: boolean;
  json?: boolean;
}

/** `strata prune` without `-f` was not confirmed (docker: "builder prune has been cancelled"). */
export class PruneCancelledError extends StrataError {
  constructor() {
    super('PRUNE_CANCELLED', 'prune has been cancelled', {
      hint: 'answer y, or use strata prune -f to prune without asking; --dry-run shows what would go',
    });
  }
}

/**
 * `strata prune [-f] [-a] [--keep-storage SIZE] [--filter until=DURATION] [--dry-run] [--json]`,
 * as `docker builder prune`: says what it will remove and asks (y/N) unless `-f`; removes build
 * cache (least recently used first), then blobs and unpacked layers nothing needs. Without `-a`
 * a record whose layer a named image holds stays (removing it frees nothing); all the space the
 * cache takes is freed either way. `--dry-run`, `strata du`'s RECLAIMABLE and the real run report
 * the same plan (api/prune.ts `planPrune`), to the byte.
 */
export function registerPruneCommand(program: Command): void {
  program
    .command('prune')
    .description(
      'remove build cache, and blobs and unpacked layers that no image, cache record or running build needs',
    )
    .option('-f, --force', 'do not prompt for confirmation')
    .option('-a, --all', 'also remove cache records whose layers named images hold (all build cache)')
    .option(
      '--keep-storage <size>',
      'keep this much build cache (e.g. 10GB); least recently used records go first',
    )
    .option('--filter <filter>', 'only cache records unused for a while: until=24h', collect, [])
    .option('--dry-run', 'only report what would be removed')
    .option('--json', 'print the result as JSON (bytes exact)')
    .action(async (options: PruneCommandOptions, command: Command) => {
      let olderThanMs: number | undefined;
      for (const f of options.filter) {
        const [key, value] = f.split('=', 2);
        if (key !== 'until' || !value)
          throw new InvalidInputError(`unsupported --filter ${JSON.stringify(f)}`, {
            hint: 'use until=<duration>, e.g. until=24h',
          });
        olderThanMs = parseDuration(value);
      }
      const pruneOptions: PruneOptions = {
        ...(options.all ? { all: true } : {}),
        ...(options.keepStorage ? { keepStorage: parseSize(options.keepStorage) } : {}),
        ...(olderThanMs !== undefined ? { olderThanMs } : {}),
      };
      const store = await storeFor(command);
      if (!options.force && !options.dryRun) {
        const plan = await planPrune(store, pruneOptions);
        // With --json the question goes to stderr: stdout stays JSON.
        const out = options.json ? process.stderr : process.stdout;
        if (!(await confirm(warning(plan, options.all === true), out))) throw new PruneCancelledError();
      }
      const result = await prune(store, { ...pruneOptions, dryRun: options.dryRun ?? false });
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ dryRun: options.dryRun ?? false, ...result }, null, 2)}\n`);
        return;
      }
      process.stdout.write(formatPruneResult(result, options.dryRun === true));
    });
}

/** docker's warning, saying what exactly goes and how much space it frees. */
function warning(plan: PrunePlan, all: boolean): string {
  const records = plural(plan.records.length, 'build cache record');
  const what = all ? `all build cache (${records})` : `${records} whose layers no image holds`;
  const mounts =
    plan.cacheMounts.length > 0
      ? `, ${plural(plan.cacheMounts.length, 'cache mount')} (${formatBytes(plan.cacheMountBytes)})`
      : '';
  return (
    `WARNING! This will remove ${what}${mounts}, and ${plural(plan.blobs.size, 'blob')} nothing else needs ` +
    `(${formatBytes(plan.blobBytes)}). Are you sure you want to continue?`
  );
}

/**
 * Asks `question [y/N] ` on `out` (docker: stdout) and reads one line from stdin, as docker's prompt does (a pipe
 * can answer: `echo y | strata prune`). No answer — stdin at its end, as without a terminal — is no.
 */
async function confirm(question: string, out: NodeJS.WriteStream): Promise<boolean> {
  out.write(`${question} [y/N] `);
  const lines = createInterface({ input: process.stdin, terminal: false });
  try {
    const answer = await new Promise<string | undefined>((resolve) => {
      lines.once('line', resolve);
      lines.once('close', () => resolve(undefined));
    });
    // A terminal echoed the answer and its newline; otherwise end the prompt's line here.
    if (answer === undefined || !process.stdin.isTTY) out.write('\n');
    return answer !== undefined && /^y(es)?$/i.test(answer.trim());
  } finally {
    lines.close();
    process.stdin.pause();
  }
}

/** docker builder prune's report: the records deleted, then the space reclaimed. */
function formatPruneResult(result: PruneResult, dryRun: boolean): string {
  const lines: string[] = [];
  if (result.removedRecords.length > 0) {
    lines.push(dryRun ? 'Would delete build cache objects:' : 'Deleted build cache objects:');
    lines.push(...result.removedRecords, '');
  }
  if (result.removedCacheMounts.length > 0) {
    lines.push(dryRun ? 'Would delete cache mounts:' : 'Deleted cache mounts:');
    lines.push(...result.removedCacheMounts, '');
  }
  const unpacked = dryRun ? '' : ` and ${plural(result.unpackedLayers, 'unpacked layer')}`;
  lines.push(`${dryRun ? 'Would delete' : 'Deleted'} ${plural(result.blobs, 'blob')}${unpacked}`);
  lines.push(
    `Total ${dryRun ? 'reclaimable' : 'reclaimed'} space: ${formatBytes(result.blobBytes + result.cacheMountBytes)}`,
  );
  return `${lines.join('\n')}\n`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** `strata du [--json]`: what the store holds. */
export function registerDuCommand(program: Command): void {
  program
    .command('du')
    .description('show disk usage: images, build cache, blobs, unpacked layers, cache mounts')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const usage = await diskUsage(await storeFor(command));
      if (options.json) {
        process.stdout.write(`${JSON.stringify(usage, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        formatTable(
          ['TYPE', 'COUNT', 'SIZE', 'RECLAIMABLE'],
          [
            ['Images', String(usage.images.count), formatBytes(usage.images.bytes), ''],
            [
              'Build cache',
              String(usage.buildCache.records),
              formatBytes(usage.buildCache.bytes),
              formatBytes(usage.buildCache.reclaimable),
            ],
            ['Blobs (all)', String(usage.blobs.count), formatBytes(usage.blobs.bytes), ''],
            ['Unpacked layers', '', formatBytes(usage.snapshots.bytes), ''],
            [
              'Cache mounts',
              String(usage.cacheMounts.count),
              formatBytes(usage.cacheMounts.bytes),
              formatBytes(usage.cacheMounts.reclaimable),
            ],
            ['  restored from a cache', String(usage.cacheMounts.restored), '', ''],
          ],
        ),
      );
    });
}

/** `strata store verify`: re-hashes every blob; exit 1 on any mismatch. */
export function registerStoreCommand(program: Command): void {
  const store = program.command('store').description('inspect and maintain the local store');
  store
    .command('verify')
    .description('re-hash every blob and check every image is complete; exit 1 on any problem')
    .action(async (_options: unknown, command: Command) => {
      const s = await storeFor(command);
      const problems = await s.verify();
      for (const p of problems) process.stdout.write(`${p.digest}: ${p.problem}\n`);
      if (problems.length > 0) throw new StoreVerifyFailedError(problems.length);
      const count = (await s.blobs.list()).length;
      process.stdout.write(`store ${s.root}: ${count} blobs verified, no problems\n`);
    });
  store
    .command('path')
    .description('print the store directory')
    .action(async (_options: unknown, command: Command) => {
      process.stdout.write(`${(await storeFor(command)).root}\n`);
    });
}
