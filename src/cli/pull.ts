import type { Command } from 'commander';
import { pull } from '../api/pull.ts';
import { parsePlatform } from '../oci/index.ts';
import {
  createRenderer,
  PROGRESS_MODES,
  type ProgressMode,
  type ProgressRenderer,
} from '../progress/index.ts';
import { InvalidInputError } from '../util/index.ts';
import { collect, storeFor } from './cli-context.ts';
import { interruptSignal } from './interrupts.ts';

/** Flags every registry-facing command shares. */
export interface RegistryCommandOptions {
  insecureRegistry: string[];
  progress: string;
  quiet?: boolean;
}

/** Adds `--insecure-registry`, `--progress` and `-q` to a command. */
export function addRegistryOptions(command: Command): Command {
  return command
    .option(
      '--insecure-registry <host[:port]>',
      'allow plain HTTP / unverified TLS for this registry (repeatable; loopback hosts always are)',
      collect,
      [],
    )
    .option('--progress <mode>', `progress output: ${PROGRESS_MODES.join(', ')}`, 'auto')
    .option('-q, --quiet', 'print only the result');
}

/** The renderer the flags ask for, drawing on standard error. */
export function rendererFor(options: RegistryCommandOptions): ProgressRenderer {
  const mode = (options.quiet ? 'quiet' : options.progress) as ProgressMode;
  if (!PROGRESS_MODES.includes(mode))
    throw new InvalidInputError(`invalid --progress ${JSON.stringify(options.progress)}`, {
      hint: PROGRESS_MODES.join(', '),
    });
  return createRenderer(mode, { stream: process.stderr });
}

/** `strata pull REF [--platform p | --all-platforms]`: like `docker pull`; prints the full name when done. */
export function registerPullCommand(program: Command): void {
  addRegistryOptions(
    program
      .command('pull')
      .description('download an image from a registry into the local store')
      .argument('<reference>', 'image reference, e.g. alpine:3.20 or localhost:5000/app@sha256:…')
      .option(
        '--platform <os/arch[/variant]>',
        'platform to pull from a multi-platform image (default: this host)',
      )
      .option('--all-platforms', 'keep a multi-platform image whole: its index and every platform'),
  ).action(
    async (
      reference: string,
      options: RegistryCommandOptions & { platform?: string; allPlatforms?: boolean },
      command: Command,
    ) => {
      // Ctrl-C or SIGTERM stops the downloads; what was half-written goes, the lease is released.
      const signal = interruptSignal();
      const store = await storeFor(command);
      const renderer = rendererFor(options);
      try {
        const result = await pull(store, reference, {
          events: renderer,
          signal,
          insecureRegistries: options.insecureRegistry,
          ...(options.platform ? { platform: parsePlatform(options.platform) } : {}),
          ...(options.allPlatforms ? { allPlatforms: true } : {}),
        });
        renderer.close();
        process.stdout.write(`${result.name.full}\n`);
      } finally {
        renderer.close();
        await store.close();
      }
    },
  );
}
