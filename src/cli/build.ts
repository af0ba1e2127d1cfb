import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
// The one file, not the analyze module: the analyzer's other parts need not load for a build.
import { attributeBytes } from '../analyze/attribute-bytes.ts';
import { buildImage } from '../api/build.ts';
import { exportBuildOutput } from '../api/export-build-output.ts';
import { registryImageResolver } from '../api/image-resolver.ts';
import { parsePlatform } from '../oci/index.ts';
import { createRenderer, PROGRESS_MODES, type ProgressMode, withinStep } from '../progress/index.ts';
import { RunFailedError } from '../solver/index.ts';
import { InvalidInputError } from '../util/index.ts';
import {
  type OutputSpec,
  outputCompression,
  parseAllow,
  parseCacheExport,
  parseCacheLocation,
  parseLabels,
  parseOutput,
  parseSecret,
} from './build-flags.ts';
import { collect, storeFor } from './cli-context.ts';
import { formatAttribution } from './format-attribution.ts';
import { interruptSignal } from './interrupts.ts';
import { printWarnings } from './parse.ts';
import { parseBuildArgs } from './stages.ts';

/** The options `strata build` accepts (docker buildx build's names). */
export interface BuildCommandOptions {
  file?: string;
  tag: string[];
  target?: string;
  buildArg: string[];
  platform?: string;
  cache: boolean;
  /** `--no-cache-filter` values (commander's name for a `--no-` option), or `true` when absent. */
  cacheFilter: string[] | boolean;
  pull?: boolean;
  cacheFrom: string[];
  cacheTo?: string;
  label: string[];
  secret: string[];
  network?: string;
  allow: string[];
  output: string[];
  push?: boolean;
  load?: boolean;
  iidfile?: string;
  metadataFile?: string;
  progress: string;
  quiet?: boolean;
}

/**
 * `strata build [options] CONTEXT`: builds a Dockerfile like `docker buildx build`. The image is
 * stored in strata's store under every `-t` name; `--output`, `--push` and `--load` send it
 * elsewhere too.
 */
export function registerBuildCommand(program: Command): void {
  program
    .command('build')
    .description('build an image from a Dockerfile, as docker buildx build does')
    .argument('<context>', 'the build context directory')
    .option('-f, --file <path>', 'the Dockerfile (default: CONTEXT/Dockerfile; - reads standard input)')
    .option('-t, --tag <name>', 'name the image (repeatable)', collect, [])
    .option('--target <stage>', 'build this stage (default: the last)')
    .option(
      '--build-arg <key=value>',
      'set a build argument; KEY alone takes it from the environment',
      collect,
      [],
    )
    .option('--platform <os/arch[/variant]>', 'the platform to build for')
    .option('--no-cache', 'do not use the build cache')
    // commander treats `--no-…` as a negation and stores it as `cacheFilter` (default true).
    .option(
      '--no-cache-filter <stage>',
      'do not use the cache for these stages (repeatable)',
      (v: string, prev: unknown) => [...(Array.isArray(prev) ? (prev as string[]) : []), v],
    )
    .option('--pull', 'always pull base images, even when present locally')
    .option(
      '--cache-from <spec>',
      'import build cache: type=registry,ref=… or type=local,src=DIR (repeatable)',
      collect,
      [],
    )
    .option(
      '--cache-to <spec>',
      'export build cache: type=registry,ref=…[,mode=min|max] or type=local,dest=DIR',
    )
    .option('--label <key=value>', 'add a label to the image (repeatable)', collect, [])
    .option('--secret <id=…,src=…|env=…>', 'a secret for RUN --mount=type=secret (repeatable)', collect, [])
    .option(
      '--network <mode>',
      'network for RUN steps: default, none or host (host needs --allow network.host)',
    )
    .option(
      '--allow <entitlement>',
      'grant network.host or security.insecure (repeatable, comma-separated, as buildx)',
      collect,
      [],
    )
    .option(
      '-o, --output <spec>',
      'where to write the result: type=oci|docker|local|tar|image|registry,dest=…[,compression=gzip|zstd|uncompressed,compression-level=N,force-compression=true]',
      collect,
      [],
    )
    .option('--push', 'push the image to its registry (same as --output type=registry)')
    .option('--load', 'load the image into docker (same as --output type=docker, piped to docker load)')
    .option('--iidfile <file>', 'write the image ID (manifest digest) to a file')
    .option('--metadata-file <file>', 'write build metadata (digest, names, sizes) as JSON')
    .option('--progress <mode>', `progress output: ${PROGRESS_MODES.join(', ')}`, 'auto')
    .option('-q, --quiet', 'print only the image ID (the config digest, as docker)')
    .action(async (contextArg: string, options: BuildCommandOptions, command: Command) => {
      if (!PROGRESS_MODES.includes(options.progress as ProgressMode))
        throw new InvalidInputError(`invalid --progress ${JSON.stringify(options.progress)}`, {
          hint: PROGRESS_MODES.join(', '),
        });
      // buildx: `--progress=quiet` is `-q` (no progress, the image ID at the end); `none` shows nothing.
      if (options.quiet && options.progress !== 'auto' && options.progress !== 'quiet')
        throw new InvalidInputError(`--progress=${options.progress} and --quiet cannot be used together`);
      if (options.progress === 'quiet') options.quiet = true;
      const progress = (options.quiet ? 'quiet' : options.progress) as ProgressMode;
      const human = progress === 'auto' || progress === 'tty' || progress === 'plain';
      if (options.network && !['default', 'none', 'host'].includes(options.network)) {
        throw new InvalidInputError(`invalid --network ${JSON.stringify(options.network)}`, {
          hint: 'default, none or host',
        });
      }
      const outputs: OutputSpec[] = options.output.map(parseOutput);
      if (options.push) outputs.push({ type: 'registry', attrs: new Map() });
      if (options.load) outputs.push({ type: 'docker', attrs: new Map([['load', 'true']]) });
      const compression = outputCompression(outputs);
      const secrets = new Map(
        options.secret.map((s) => {
          const parsed = parseSecret(s);
          return [parsed.id, parsed.content] as const;
        }),
      );
      const context = resolve(contextArg);
      const dockerfile =
        options.file === '-'
          ? { text: readFileSync(0, 'utf8'), name: 'Dockerfile' }
          : options.file
            ? resolve(options.file)
            : undefined;
      // Ctrl-C or SIGTERM stops the build: the running step's container is killed, mounts and the
      // lease are released, downloads stop, and the CLI exits 130 or 143.
      const signal = interruptSignal();
      const store = await storeFor(command);
      const renderer = createRenderer(progress, { stream: process.stderr });
      try {
        const result = await buildImage(store, {
          context,
          ...(dockerfile ? { dockerfile } : {}),
          tags: options.tag,
          ...(options.target ? { target: options.target } : {}),
          buildArgs: parseBuildArgs(options.buildArg),
          ...(options.platform ? { platform: parsePlatform(options.platform) } : {}),
          labels: parseLabels(options.label),
          secrets,
          ...(options.network ? { network: options.network as 'default' | 'none' | 'host' } : {}),
          allow: parseAllow(options.allow),
          resolveImage: registryImageResolver(store, {
            policy: options.pull ? 'always' : 'missing',
            events: renderer,
          }),
          ...(compression.compression ? { compression: compression.compression } : {}),
          ...(compression.level !== undefined ? { compressionLevel: compression.level } : {}),
          ...(compression.force ? { forceCompression: true } : {}),
          noCache: options.cache === false,
          cacheFrom: options.cacheFrom.map((c) => parseCacheLocation(c, '--cache-from')),
          ...(options.cacheTo ? { cacheTo: parseCacheExport(options.cacheTo) } : {}),
          noCacheFilter: Array.isArray(options.cacheFilter) ? options.cacheFilter : [],
          events: renderer,
          signal,
        });
        const exported = [];
        for (const output of outputs) {
          exported.push(
            await withinStep(renderer, exportStepOf(output), (events) =>
              exportBuildOutput(store, result, output, { tags: options.tag, events, signal }),
            ),
          );
        }
        renderer.close();
        printWarnings(result.warnings);
        // Where the bytes of the final image came from: by step, and by the stage each was copied from.
        const attribution = attributeBytes(result);
        if (human) process.stderr.write(formatAttribution(attribution, result.graph));
        if (options.iidfile) writeFileSync(options.iidfile, result.descriptor.digest);
        if (options.metadataFile) {
          const metadata = {
            'containerimage.digest': result.descriptor.digest,
            'containerimage.descriptor': result.descriptor,
            'image.name': options.tag.join(','),
            'strata.attribution': attribution,
            'strata.cache': { cachedSteps: result.cachedSteps, executedSteps: result.executedSteps },
            ...Object.fromEntries(exported.filter((e) => e !== undefined).map((e) => [e.key, e.value])),
          };
          writeFileSync(options.metadataFile, `${JSON.stringify(metadata, null, 2)}\n`);
        }
        // docker build -q prints the image ID: the config digest.
        if (options.quiet) process.stdout.write(`${result.image.manifest.config.digest}\n`);
      } catch (error) {
        renderer.close();
        // Quiet progress showed nothing of the step: the last lines it printed say why it failed
        // (BuildKit shows them in a box above the error whatever the progress mode).
        if (progress === 'quiet' || progress === 'none') printFailedRunOutput(error);
        throw error;
      } finally {
        await store.close();
      }
    });
}

/** The step an output's export shows as, with BuildKit's names for its exporters. */
function exportStepOf(output: OutputSpec): { id: string; name: string } {
  const names: Record<string, string> = {
    docker: output.attrs.get('load') === 'true' ? 'sending tarball' : 'exporting to docker image format',
    oci: 'exporting to oci image format',
    registry: 'pushing layers',
    local: 'copying files',
    tar: 'sending tarball',
  };
  return { id: `export ${output.type}`, name: names[output.type] ?? `exporting to ${output.type}` };
}

/** The last output lines of the RUN that failed the build, if one did, between dashed lines. */
function printFailedRunOutput(error: unknown): void {
  const seen = new Set<unknown>();
  for (let current = error; current instanceof Error && !seen.has(current); current = current.cause) {
    seen.add(current);
    if (!(current instanceof RunFailedError)) continue;
    if (current.lastOutput.length === 0) return;
    process.stderr.write(`------\n${current.lastOutput.map((line) => `  ${line}\n`).join('')}------\n`);
    return;
  }
}
