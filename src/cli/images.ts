import type { Command } from 'commander';
import { type ImageSummary, listImages, removeImage, tagImage } from '../api/images.ts';
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
        process.stdout.write(formatImagesTable(images, { digests: options.digests === true }));
      },
    );
}

/**
 * The `strata images` table, as `docker images` prints it: IMAGE ID is docker's (the config
 * digest), SIZE the unpacked size docker shows for the same image; COMPRESSED beside it is what
 * the store holds and a pull transfers. `--digests` adds the manifest digest, as docker's does.
 */
export function formatImagesTable(images: readonly ImageSummary[], options: { digests: boolean }): string {
  return formatTable(
    [
      'REPOSITORY',
      'TAG',
      ...(options.digests ? ['DIGEST'] : []),
      'IMAGE ID',
      'CREATED',
      'SIZE',
      'COMPRESSED',
    ],
    images.map((i) => [
      i.repository,
      i.tag,
      ...(options.digests ? [i.digest] : []),
      shortDigest(i.id),
      formatAge(i.created),
      i.contentSize === undefined ? 'N/A' : formatBytes(i.contentSize),
      formatBytes(i.size),
    ]),
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
