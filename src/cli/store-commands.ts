import type { Command } from 'commander';
import { StrataError } from '../util/index.ts';
import { storeFor } from './cli-context.ts';
import { formatBytes } from './format.ts';

/** Thrown by `strata store verify` when any blob is damaged or missing. */
export class StoreVerifyFailedError extends StrataError {
  constructor(count: number) {
    super('STORE_CORRUPT', `store verification failed: ${count} problem${count === 1 ? '' : 's'}`, {
      hint: 'remove the damaged images with `strata rmi` and pull or build them again',
    });
  }
}

/** `strata prune [--dry-run]`: removes blobs no name, cache record or running build needs. */
export function registerPruneCommand(program: Command): void {
  program
    .command('prune')
    .description('delete blobs that no image, cache record or running build references')
    .option('--dry-run', 'only report what would be removed')
    .action(async (options: { dryRun?: boolean }, command: Command) => {
      const store = await storeFor(command);
      const result = await store.collectGarbage({ dryRun: options.dryRun ?? false });
      const verb = options.dryRun ? 'Would remove' : 'Removed';
      process.stdout.write(
        `${verb} ${result.removedBlobs} blobs, ${formatBytes(result.freedBytes)} (${result.keptBlobs} kept)\n`,
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
