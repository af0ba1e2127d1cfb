import type { Command } from 'commander';
import { copyImage } from '../api/copy.ts';
import { parsePlatform } from '../oci/index.ts';
import { type ProgressSink, withinStep } from '../progress/index.ts';
import { storeFor } from './cli-context.ts';
import { addRegistryOptions, type RegistryCommandOptions, rendererFor } from './pull.ts';

/** `strata copy SRC DST`: like `skopeo copy`, between docker://, oci:, docker-archive: and strata:. */
export function registerCopyCommand(program: Command): void {
  addRegistryOptions(
    program
      .command('copy')
      .description('copy an image between registries, OCI layouts, docker-archives and the store')
      .argument('<source>', 'docker://REF, oci:DIR[:TAG], docker-archive:FILE[:REF] or strata:NAME')
      .argument('<destination>', 'same forms as the source')
      .option(
        '--platform <os/arch[/variant]>',
        'platform to copy from a multi-platform image (default: this host)',
      )
      .option('-a, --all', 'copy every platform of a multi-platform image (skopeo copy --all)')
      .option('--all-platforms', 'the same as --all (podman/strata pull spelling)'),
  ).action(
    async (
      source: string,
      destination: string,
      options: RegistryCommandOptions & { platform?: string; all?: boolean; allPlatforms?: boolean },
      command: Command,
    ) => {
      const store = await storeFor(command);
      const renderer = rendererFor(options);
      try {
        const copy = (events: ProgressSink) =>
          copyImage(source, destination, {
            store,
            events,
            insecureRegistries: options.insecureRegistry,
            ...(options.platform ? { platform: parsePlatform(options.platform) } : {}),
            ...(options.all || options.allPlatforms ? { allPlatforms: true } : {}),
          });
        // Into a registry it looks like `docker push`, from one like `docker pull`; between local
        // places (oci:, docker-archive:, strata:) it is an export, shown as one step with its blobs.
        const local = !source.startsWith('docker://') && !destination.startsWith('docker://');
        const result = local
          ? await withinStep(renderer, { id: 'copy', name: `copying ${source} to ${destination}` }, copy)
          : await copy(renderer);
        renderer.close();
        process.stdout.write(`${result.descriptor.digest}\n`);
      } finally {
        renderer.close();
        await store.close();
      }
    },
  );
}
