import type { Command } from 'commander';
import { push } from '../api/push.ts';
import { storeFor } from './cli-context.ts';
import { interruptSignal } from './interrupts.ts';
import { addRegistryOptions, type RegistryCommandOptions, rendererFor } from './pull.ts';

/** `strata push NAME [DESTINATION]`: like `docker push`; prints `name@digest` when done. */
export function registerPushCommand(program: Command): void {
  addRegistryOptions(
    program
      .command('push')
      .description('upload an image from the local store to its registry')
      .argument('<name>', 'image name in the store, e.g. localhost:5000/app:1')
      .argument('[destination]', 'push under this reference instead of NAME')
      .option(
        '--chunk-size <bytes>',
        'upload blobs larger than this in chunks of this size (default 64 MiB)',
      ),
  ).action(
    async (
      name: string,
      destination: string | undefined,
      options: RegistryCommandOptions & { chunkSize?: string },
      command: Command,
    ) => {
      // Ctrl-C or SIGTERM stops the uploads (the registry drops unfinished upload sessions).
      const signal = interruptSignal();
      const store = await storeFor(command);
      const renderer = rendererFor(options);
      try {
        const result = await push(store, name, {
          events: renderer,
          signal,
          insecureRegistries: options.insecureRegistry,
          ...(destination ? { destination } : {}),
          ...(options.chunkSize ? { chunkSize: Number(options.chunkSize) } : {}),
        });
        renderer.close();
        process.stdout.write(`${result.reference.replace(/@sha256:.*$/, '')}@${result.descriptor.digest}\n`);
      } finally {
        renderer.close();
        await store.close();
      }
    },
  );
}
