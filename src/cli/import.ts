import type { Command } from 'commander';
import { imageNameOf } from '../api/images.ts';
import { importImage } from '../api/import-image.ts';
import { parsePlatform } from '../oci/index.ts';
import { storeFor } from './cli-context.ts';

/** `strata import <rootfs.tar|-> <name>`: a one-layer image from a rootfs tarball, like `docker import`. */
export function registerImportCommand(program: Command): void {
  program
    .command('import')
    .description('create a one-layer image from a rootfs tarball (plain or gzip; - for stdin)')
    .argument('<file>', 'tarball path, or - to read standard input')
    .argument('<name>', 'image name, e.g. busybox:local')
    .option('-m, --message <text>', 'history comment for the imported layer')
    .option('--platform <os/arch>', 'platform recorded in the image config (default: this host)')
    .action(
      async (
        file: string,
        nameText: string,
        options: { message?: string; platform?: string },
        command: Command,
      ) => {
        const name = imageNameOf(nameText);
        const store = await storeFor(command);
        try {
          const result = await importImage(store, {
            source: file === '-' ? process.stdin : file,
            sourceName: file,
            ...(options.message ? { message: options.message } : {}),
            ...(options.platform ? { platform: parsePlatform(options.platform) } : {}),
          });
          await store.tag(name, result.manifest);
          process.stdout.write(`${result.manifest.digest}\n`);
        } finally {
          await store.close();
        }
      },
    );
}
