import type { Command } from 'commander';
import { listImages, removeImage, tagImage } from '../api/images.ts';
import { storeFor } from './cli-context.ts';
import { formatAge, formatBytes, formatTable, shortDigest } from './format.ts';

/** `strata images [REPOSITORY[:TAG]] [--json] [--digests]`: the named images in the store. */
export function registerImagesCommand(program: Command): void {
  program
    .command('images')
    .description('list images in the local store')
    .argument('[repository[:tag]]', 'only this repository (every tag) or image; wildcards as docker images')
    .option('--json', 'print JSON')
    .option('--digests', 'show full digests')
    .action(
      async (
        reference: string | undefined,
        options: { json?: boolean; digests?: boolean },
        command: Command,
      ) => {
        const store = await storeFor(command);
        const images = await listImages(store, reference === undefined ? {} : { reference });
        if (options.json) {
          process.stdout.write(`${JSON.stringify(images, null, 2)}\n`);
          return;
        }
        process.stdout.write(
          formatTable(
            ['REPOSITORY', 'TAG', options.digests ? 'DIGEST' : 'IMAGE ID', 'CREATED', 'SIZE'],
            images.map((i) => [
              i.repository,
              i.tag,
              options.digests ? i.digest : shortDigest(i.digest),
              formatAge(i.created),
              formatBytes(i.size),
            ]),
          ),
        );
      },
    );
}

/** `strata tag SOURCE TARGET`. */
export function registerTagCommand(program: Command): void {
  program
    .command('tag')
    .description('give an image in the store another name')
    .argument('<source>', 'image name or manifest digest')
    .argument('<target>', 'new name')
    .action(async (source: string, target: string, _options: unknown, command: Command) => {
      await tagImage(await storeFor(command), source, target);
    });
}

/** `strata rmi NAME…`. */
export function registerRmiCommand(program: Command): void {
  program
    .command('rmi')
    .description('remove image names from the store (blobs are freed by `strata prune`)')
    .argument('<names...>', 'image names or IDs')
    .action(async (names: string[], _options: unknown, command: Command) => {
      const store = await storeFor(command);
      for (const name of names) {
        const removed = await removeImage(store, name);
        process.stdout.write(`Untagged: ${removed.name}@${removed.digest}\n`);
      }
    });
}
