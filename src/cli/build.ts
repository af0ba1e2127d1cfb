import { rmSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
// The one file, not the analyze module: the analyzer's other parts need not load for a build.
import { attributeBytes } from '../analyze/attribute-bytes.ts';
import { buildImage } from '../api/build.ts';
import { type BuildCheckWarning, checkBuild } from '../api/build-check.ts';
import { parseNamedContext } from '../api/build-contexts.ts';
import { openContextArgument } from '../api/build-remote-context.ts';
import { type BuildOutput, exportBuildOutput } from '../api/export-build-output.ts';
import { registryImageResolver } from '../api/image-resolver.ts';
import { formatPlatform, type Platform } from '../oci/index.ts';
import { createRenderer, PROGRESS_MODES, type ProgressMode, withinStep } from '../progress/index.ts';
import { parseReference } from '../reference/index.ts';
import { parseIsolation } from '../runtime/index.ts';
import { RunFailedError } from '../solver/index.ts';
import { InvalidInputError, resolveInRoot } from '../util/index.ts';
import {
  checkAttestations,
  insecureCacheHosts,
  type OutputSpec,
  outputCompression,
  parseAddHosts,
  parseAllow,
  parseCacheExport,
  parseCacheLocation,
  parseLabels,
  parseOutput,
  parsePlatforms,
  parseSecret,
  parseShmSize,
  parseUlimits,
} from './build-flags.ts';
import { prepareBuildInput } from './build-input.ts';
import { buildMetadata } from './build-metadata.ts';
import { collect, requireRoot, storeFor } from './cli-context.ts';
import { formatAttribution } from './format-attribution.ts';
import { interruptSignal } from './interrupts.ts';
import { buildOutputs, checkRewriteTimestamp, parseAnnotationFlag } from './output-attributes.ts';
import { printWarnings } from './parse.ts';
import { parseBuildArgs } from './stages.ts';

/** The options `strata build` accepts (docker buildx build's names). */
export interface BuildCommandOptions {
  file?: string;
  tag: string[];
  target?: string;
  buildArg: string[];
  platform: string[];
  cache: boolean;
  /** `--no-cache-filter` values (commander's name for a `--no-` option), or `true` when absent. */
  cacheFilter: string[] | boolean;
  pull?: boolean;
  cacheFrom: string[];
  cacheTo: string[];
  label: string[];
  secret: string[];
  network?: string;
  isolation?: string;
  allow: string[];
  output: string[];
  push?: boolean;
  load?: boolean;
  annotation: string[];
  buildContext: string[];
  call?: string;
  check?: boolean;
  ssh: string[];
  builder?: string;
  cgroupParent?: string;
  resource: string[];
  policy: string[];
  addHost: string[];
  ulimit: string[];
  shmSize?: string;
  provenance?: string;
  sbom?: string;
  attest: string[];
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
    .argument(
      '<context>',
      'the build context: a directory, - (a tar or a Dockerfile on stdin), a git URL or an http(s) URL',
    )
    .option('-f, --file <path>', 'the Dockerfile (default: CONTEXT/Dockerfile; - reads standard input)')
    .option('-t, --tag <name>', 'name the image (repeatable)', collect, [])
    .option('--target <stage>', 'build this stage (default: the last)')
    .option(
      '--build-arg <key=value>',
      'set a build argument; KEY alone takes it from the environment',
      collect,
      [],
    )
    .option(
      '--platform <os/arch[/variant]>',
      'the platforms to build for (comma-separated or repeated: one image each, stored as an index)',
      collect,
      [],
    )
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
      collect,
      [],
    )
    .option('--label <key=value>', 'add a label to the image (repeatable)', collect, [])
    .option('--secret <id=…,src=…|env=…>', 'a secret for RUN --mount=type=secret (repeatable)', collect, [])
    .option(
      '--network <mode>',
      'network for RUN steps: default, none or host (host needs --allow network.host)',
    )
    .option('--isolation <type>', 'how RUN steps are isolated: default, oci or chroot (docs/kubernetes.md)')
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
    .option('--add-host <host:ip>', 'add a line to /etc/hosts of every RUN (repeatable)', collect, [])
    .option('--ulimit <name=soft[:hard]>', 'a resource limit for every RUN (repeatable)', collect, [])
    .option('--shm-size <bytes>', 'size of /dev/shm for every RUN (e.g. 128m; default 64m)')
    .option(
      '--annotation <[type:]key=value>',
      'add an annotation to the image manifest (repeatable; types manifest, index, …, as buildx)',
      collect,
      [],
    )
    .option('--provenance <value>', 'provenance attestation: only false (strata makes no attestations)')
    .option('--sbom <value>', 'SBOM attestation: only false (strata makes no attestations)')
    .option('--attest <type=…>', 'attestation parameters: only disabled=true (repeatable)', collect, [])
    .option(
      '--build-context <name=dir|docker-image://ref|oci-layout://path>',
      'a named context for FROM name and COPY --from=name (repeatable)',
      collect,
      [],
    )
    .option('--call <method>', 'build (default), or check: run the build checks only, exit 1 on a violation')
    .option('--check', 'shorthand for --call=check')
    // buildx flags strata does not implement: parsed only to refuse them by name.
    .option('--ssh <spec>', 'not supported', collect, [])
    .option('--builder <name>', 'not supported')
    .option('--cgroup-parent <cgroup>', 'not supported')
    .option('--resource <limit>', 'not supported', collect, [])
    .option('--policy <spec>', 'not supported', collect, [])
    .option('--iidfile <file>', 'write the image ID (config digest, as buildx) to a file')
    .option(
      '--metadata-file <file>',
      "write build metadata as JSON (buildx's containerimage.* keys, image.name, buildx.build.ref)",
    )
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
      refuseUnsupportedFlags(options);
      const isolation = options.isolation === undefined ? undefined : parseIsolation(options.isolation);
      const call = callMethod(options);
      const platforms = parsePlatforms(options.platform);
      checkAttestations({
        ...(options.provenance !== undefined ? { provenance: options.provenance } : {}),
        ...(options.sbom !== undefined ? { sbom: options.sbom } : {}),
        attest: options.attest,
      });
      const specs: OutputSpec[] = options.output.map(parseOutput);
      if (options.push) specs.push({ type: 'registry', attrs: new Map() });
      if (options.load) specs.push({ type: 'docker', attrs: new Map([['load', 'true']]) });
      const compression = outputCompression(specs);
      const outputs = buildOutputs(specs, {
        tags: options.tag,
        annotations: options.annotation.flatMap(parseAnnotationFlag),
      });
      if (platforms.length > 1) checkMultiPlatformOutputs(outputs, platforms);
      if (options.iidfile && outputs.some((o) => o.type === 'local' || o.type === 'tar'))
        throw new InvalidInputError(
          'local and tar exporters are incompatible with image ID file (--iidfile)',
        );
      // buildx checks the tags before it builds, and removes an old image ID file, so a failed
      // build leaves none behind for a script to read.
      for (const tag of options.tag) {
        try {
          parseReference(tag);
        } catch (error) {
          throw new InvalidInputError(`invalid tag ${JSON.stringify(tag)}`, { cause: error });
        }
      }
      if (options.iidfile) rmSync(options.iidfile, { force: true });
      const buildArgs = parseBuildArgs(options.buildArg);
      // buildx passes SOURCE_DATE_EPOCH from the environment as the build-arg, unless one is given.
      const envEpoch = process.env.SOURCE_DATE_EPOCH;
      if (envEpoch && !buildArgs.has('SOURCE_DATE_EPOCH')) buildArgs.set('SOURCE_DATE_EPOCH', envEpoch);
      checkRewriteTimestamp(specs, buildArgs.get('SOURCE_DATE_EPOCH'));
      const cacheTo = parseCacheExport(options.cacheTo);
      const insecureRegistries = [
        ...insecureCacheHosts(options.cacheFrom, '--cache-from'),
        ...insecureCacheHosts(options.cacheTo, '--cache-to'),
      ];
      const buildContexts = new Map(
        options.buildContext.map((c) => {
          const { key, context } = parseNamedContext(c);
          return [key, context] as const;
        }),
      );
      const extraHosts = parseAddHosts(options.addHost);
      const ulimits = parseUlimits(options.ulimit);
      const run = {
        ...(extraHosts.length > 0 ? { extraHosts } : {}),
        ...(ulimits.length > 0 ? { ulimits } : {}),
        ...(options.shmSize !== undefined ? { shmSizeBytes: parseShmSize(options.shmSize) } : {}),
      };
      const secrets = new Map(
        options.secret.map((s) => {
          const parsed = parseSecret(s);
          return [parsed.id, parsed.content] as const;
        }),
      );
      // A build unpacks layers with their owners and runs steps in runc: it needs root, said before
      // any work (a remote context is not fetched first). `--call check` only plans: no root.
      if (call !== 'check') requireRoot('build');
      const { context, dockerfile, release } = await prepareBuildInput(contextArg, options.file);
      if (call === 'check') {
        try {
          // Each platform is checked (its stages and args differ); a warning they share, once.
          const warnings = uniqueCheckWarnings(
            await Promise.all(
              (platforms.length > 0 ? platforms : [undefined]).map((platform) =>
                checkBuild({
                  context,
                  ...(dockerfile ? { dockerfile } : {}),
                  buildArgs,
                  ...(options.target ? { target: options.target } : {}),
                  ...(platform ? { platform } : {}),
                }),
              ),
            ),
          );
          process.stdout.write(formatCheckWarnings(warnings));
          // buildx exits 1 when a check found something.
          if (warnings.length > 0) process.exitCode = 1;
        } finally {
          await release();
        }
        return;
      }
      // Ctrl-C or SIGTERM stops the build: the running step's container is killed, mounts and the
      // lease are released, downloads stop, and the CLI exits 130 or 143.
      const signal = interruptSignal();
      const store = await storeFor(command).catch(async (error: unknown) => {
        await release();
        throw error;
      });
      const renderer = createRenderer(progress, { stream: process.stderr });
      try {
        const result = await buildImage(store, {
          context,
          ...(dockerfile ? { dockerfile } : {}),
          // The outputs name the image (below); the build only stores it. Their export goes on in
          // the build's `exporting to image` step.
          tags: [],
          finishExportStep: !outputs.some((o) => o.type === 'image'),
          ...(options.target ? { target: options.target } : {}),
          buildArgs,
          ...(platforms.length > 0 ? { platforms } : {}),
          labels: parseLabels(options.label),
          secrets,
          ...(options.network ? { network: options.network as 'default' | 'none' | 'host' } : {}),
          allow: parseAllow(options.allow),
          ...(isolation ? { isolation } : {}),
          ...(buildContexts.size > 0 ? { buildContexts } : {}),
          ...(Object.keys(run).length > 0 ? { run } : {}),
          resolveImage: registryImageResolver(store, {
            policy: options.pull ? 'always' : 'missing',
            events: renderer,
            ...(platforms.length > 1 ? { showPlatform: true } : {}),
          }),
          ...(compression.compression ? { compression: compression.compression } : {}),
          ...(compression.level !== undefined ? { compressionLevel: compression.level } : {}),
          ...(compression.force ? { forceCompression: true } : {}),
          noCache: options.cache === false,
          cacheFrom: options.cacheFrom.map((c) => parseCacheLocation(c, '--cache-from')),
          ...(cacheTo ? { cacheTo } : {}),
          ...(insecureRegistries.length > 0 ? { registry: { insecureRegistries } } : {}),
          noCacheFilter: Array.isArray(options.cacheFilter) ? options.cacheFilter : [],
          events: renderer,
          signal,
        });
        const exported = [];
        for (const output of outputs) {
          exported.push(
            await withinStep(renderer, exportStepOf(output), (events) =>
              exportBuildOutput(store, result, output, { events, signal }),
            ),
          );
        }
        renderer.close();
        printWarnings(result.warnings);
        // Where the bytes of the final image came from: by step, and by the stage each was copied
        // from — for each platform of a multi-platform build.
        const builds = result.index?.platforms ?? [result];
        const attributions = builds.map((b) => attributeBytes(b));
        if (human)
          builds.forEach((b, i) => {
            if (result.index) process.stderr.write(`${formatPlatform(b.graph.platform)}:\n`);
            process.stderr.write(formatAttribution(attributions[i]!, b.graph));
          });
        // buildx writes the image ID, the config digest, not the manifest's; for an index, which has
        // no config, the index's digest (its containerimage.digest).
        const imageId = result.index ? result.index.descriptor.digest : result.image.manifest.config.digest;
        if (options.iidfile) writeFileSync(options.iidfile, imageId);
        if (options.metadataFile) {
          const metadata = {
            ...buildMetadata(exported),
            'strata.attribution': result.index
              ? Object.fromEntries(builds.map((b, i) => [formatPlatform(b.graph.platform), attributions[i]]))
              : attributions[0],
            'strata.cache': { cachedSteps: result.cachedSteps, executedSteps: result.executedSteps },
          };
          writeFileSync(options.metadataFile, `${JSON.stringify(metadata, null, 2)}\n`);
        }
        // docker build -q prints the image ID: the config digest.
        if (options.quiet) process.stdout.write(`${imageId}\n`);
      } catch (error) {
        renderer.close();
        // Quiet progress showed nothing of the step: the last lines it printed say why it failed
        // (BuildKit shows them in a box above the error whatever the progress mode).
        if (progress === 'quiet' || progress === 'none') printFailedRunOutput(error);
        throw error;
      } finally {
        await store.close();
        await release();
      }
    });
}

/**
 * The outputs a multi-platform build can go to: `type=docker` (and `--load`) cannot, as BuildKit's
 * docker exporter refuses several platforms and docker 20.10 cannot load an index.
 */
function checkMultiPlatformOutputs(outputs: readonly BuildOutput[], platforms: readonly Platform[]): void {
  const list = platforms.map(formatPlatform).join(',');
  for (const output of outputs)
    if (output.type === 'docker')
      throw new InvalidInputError(
        `${output.load && output.dest === undefined ? '--load' : '--output type=docker'} cannot export a multi-platform image (--platform ${list}): docker exporter does not currently support exporting manifest lists`,
        {
          hint: `build one platform for docker (--platform ${formatPlatform(platforms[0]!)}), or write the index with -o type=oci,dest=FILE or push it with --push`,
        },
      );
}

/** Warnings of several platforms' checks, each once. */
function uniqueCheckWarnings(lists: readonly (readonly BuildCheckWarning[])[]): BuildCheckWarning[] {
  const seen = new Set<string>();
  return lists.flat().filter((w) => {
    const key = JSON.stringify(w);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The step an output's export shows as, with BuildKit's names for its exporters. */
function exportStepOf(output: BuildOutput): { id: string; name: string } {
  const names: Record<string, string> = {
    // The build's own last step, which the image outputs continue and end (BuildKit's exporter).
    image: 'exporting to image',
    docker: output.type === 'docker' && output.load ? 'sending tarball' : 'exporting to docker image format',
    oci: 'exporting to oci image format',
    local: 'copying files',
    tar: 'sending tarball',
    cacheonly: 'exporting cache only',
  };
  const id = output.type === 'image' ? 'export image' : `export ${output.type}`;
  return { id, name: names[output.type] ?? `exporting to ${output.type}` };
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

/** The flags of `docker buildx build` strata does not implement, and why: each refused by name. */
const UNSUPPORTED_FLAGS: readonly [keyof BuildCommandOptions, string, string][] = [
  ['ssh', '--ssh', 'RUN --mount=type=ssh is not supported: no SSH agent is forwarded'],
  ['builder', '--builder', 'strata builds in-process and has no builder instances'],
  ['cgroupParent', '--cgroup-parent', "RUN steps run in the runtime's default cgroup"],
  ['resource', '--resource', 'resource limits for build containers are not supported'],
  ['policy', '--policy', 'build policies are not supported'],
];

function refuseUnsupportedFlags(options: BuildCommandOptions): void {
  for (const [key, flag, why] of UNSUPPORTED_FLAGS) {
    const value = options[key];
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    throw new InvalidInputError(`${flag} is not supported`, { hint: why });
  }
}

/**
 * `--call build|check` and `--check` (buildx's shorthand for `--call=check`). `outline` and
 * `targets` (which print the build's args and stages from the frontend) are refused by name;
 * `strata stages` prints the stages.
 */
function callMethod(options: BuildCommandOptions): 'build' | 'check' {
  const [name = 'build', ...attrs] = (options.check ? 'check' : (options.call ?? 'build')).split(',');
  if (options.check && options.call !== undefined && options.call.split(',')[0] !== 'check')
    throw new InvalidInputError(`--check and --call=${options.call} ask for different things`);
  for (const attr of attrs)
    if (attr !== 'format=text')
      throw new InvalidInputError(`--call ${name}: ${attr} is not supported`, {
        hint: 'only the text format',
      });
  if (name === 'build' || name === 'check') return name;
  if (name === 'outline' || name === 'targets')
    throw new InvalidInputError(`--call=${name} is not supported`, {
      hint: 'strata stages prints the stages, their bases and steps',
    });
  throw new InvalidInputError(`invalid --call ${JSON.stringify(name)}`, { hint: 'build or check' });
}

/** `--call check`'s report, in buildx's words. */
function formatCheckWarnings(warnings: readonly BuildCheckWarning[]): string {
  if (warnings.length === 0) return 'Check complete, no warnings found.\n';
  const lines = [
    `Check complete, ${warnings.length} warning${warnings.length === 1 ? ' has' : 's have'} been found!`,
  ];
  for (const w of warnings) {
    lines.push(
      '',
      `WARNING: ${w.rule} - ${w.url}`,
      w.message,
      `${w.file}${w.line === undefined ? '' : `:${w.line}`}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
