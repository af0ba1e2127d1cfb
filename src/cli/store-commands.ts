import type { Command } from 'commander';
import { diskUsage, parseDuration, parseSize, prune } from '../api/prune.ts';
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

/**
 * `strata prune [--keep-storage SIZE] [--filter until=DURATION] [--dry-run]`: removes build cache
 * (least recently used first), then blobs and unpacked layers nothing needs.
 */
export function registerPruneCommand(program: Command): void {
  program
    .command('prune')
    .description(
      'remove build cache, and blobs and unpacked layers that no image, cache record or running build needs',
    )
    .option(
      '--keep-storage <size>',
      'keep this much build cache (e.g. 10GB); least recently used records go first',
    )
    .option('--filter <filter>', 'only cache records unused for a while: until=24h', collect, [])
    .option('--dry-run', 'only report what would be removed')
    .action(
      async (options: { keepStorage?: string; filter: string[]; dryRun?: boolean }, command: Command) => {
        let olderThanMs: number | undefined;
        for (const f of options.filter) {
          const [key, value] = f.split('=', 2);
          if (key !== 'until' || !value)
            throw new InvalidInputError(`unsupported --filter ${JSON.stringify(f)}`, {
              hint: 'use until=<duration>, e.g. until=24h',
            });
          olderThanMs = parseDuration(value);
        }
        const store = await storeFor(command);
        const result = await prune(store, {
          ...(options.keepStorage ? { keepStorage: parseSize(options.keepStorage) } : {}),
          ...(olderThanMs !== undefined ? { olderThanMs } : {}),
          dryRun: options.dryRun ?? false,
        });
        const verb = options.dryRun ? 'Would remove' : 'Removed';
        process.stdout.write(
          `${verb} ${result.blobs} blobs, ${formatBytes(result.blobBytes)}; ${result.cacheRecords} build cache records, ${formatBytes(result.cacheBytes)}; ${result.unpackedLayers} unpacked layers\n`,
        );
      },
    );
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
            ['Cache mounts', '', formatBytes(usage.cacheMounts.bytes), ''],
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
