import type { Command } from 'commander';
import { systemInfo } from '../api/system-info.ts';
import { storeFor } from './cli-context.ts';
import { STRATA_VERSION } from './version.ts';

/** `strata info [--json]`: the store, snapshotter, runtime and platform strata uses here. */
export function registerInfoCommand(program: Command): void {
  program
    .command('info')
    .description('show the store, the snapshotter (overlay or native) and the OCI runtime strata uses here')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const info = await systemInfo(await storeFor(command), STRATA_VERSION);
      if (options.json) {
        process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
        return;
      }
      const runtime =
        'error' in info.runtime
          ? `unavailable: ${info.runtime.error}`
          : `${info.runtime.name} (${info.runtime.version}, ${info.runtime.path}, mode ${info.runtime.mode})`;
      process.stdout.write(
        [
          `strata:       ${info.version} (node ${info.node})`,
          `platform:     ${info.platform}`,
          `store:        ${info.root}`,
          `snapshotter:  ${info.snapshotter.kind} — ${info.snapshotter.reason}`,
          `mounts:       ${info.mounts}`,
          `runtime:      ${runtime}`,
          `cgroups:      ${info.cgroups}`,
          '',
        ].join('\n'),
      );
    });
}
