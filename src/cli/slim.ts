import { resolve } from 'node:path';
import type { Command } from 'commander';
import { registryImageResolver } from '../api/image-resolver.ts';
import { describeCheck, type SlimCheck, type SlimOutcome, slimDockerfile } from '../api/slim-dockerfile.ts';
import { createRenderer, PROGRESS_MODES, type ProgressMode } from '../progress/index.ts';
import { InvalidInputError } from '../util/index.ts';
import { parseSecret } from './build-flags.ts';
import { collect, storeFor } from './cli-context.ts';
import { formatBytes, formatTable } from './format.ts';
import { interruptSignal } from './interrupts.ts';
import { parseBuildArgs } from './stages.ts';

/** The options `strata slim` accepts. */
export interface SlimCommandOptions {
  file?: string;
  output?: string;
  verify?: boolean;
  check?: string;
  http?: string;
  alive: string;
  timeout: string;
  env: string[];
  tag?: string;
  force?: boolean;
  buildArg: string[];
  secret: string[];
  progress: string;
}

/** `--http PORT[/path]` → the check. */
export function parseHttpCheck(text: string, timeoutSeconds: number): SlimCheck {
  const m = /^(\d{1,5})(\/.*)?$/.exec(text);
  const port = m ? Number(m[1]) : 0;
  if (!m || port < 1 || port > 65535) {
    throw new InvalidInputError(`invalid --http ${JSON.stringify(text)}`, {
      hint: 'PORT or PORT/path, e.g. 8080/healthz',
    });
  }
  return { kind: 'http', port, path: m[2] ?? '/', timeoutSeconds };
}

function positiveSeconds(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0)
    throw new InvalidInputError(`invalid ${flag} ${JSON.stringify(text)}`, { hint: 'a number of seconds' });
  return n;
}

function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(1)}x` : 'n/a';
}

/** The talk's table: both images' sizes, layers, ratio and build time, and the check's result. */
export function formatSlimTable(outcome: SlimOutcome): string {
  const v = outcome.verify;
  if (!v) return '';
  const s = outcome.single;
  const rows = [
    [
      'size',
      formatBytes(s.uncompressedBytes),
      formatBytes(v.slim.uncompressedBytes),
      ratio(s.uncompressedBytes, v.slim.uncompressedBytes),
    ],
    [
      'compressed',
      formatBytes(s.compressedBytes),
      formatBytes(v.slim.compressedBytes),
      ratio(s.compressedBytes, v.slim.compressedBytes),
    ],
    ['layers', String(s.layers), String(v.slim.layers), ''],
    ['build time', `${(s.buildMs / 1000).toFixed(1)} s`, `${(v.slim.buildMs / 1000).toFixed(1)} s`, ''],
    [
      'check',
      v.singleResult.passed ? `ok (${v.singleResult.detail})` : `FAILED (${v.singleResult.detail})`,
      v.slimResult.passed ? `ok (${v.slimResult.detail})` : `FAILED (${v.slimResult.detail})`,
      '',
    ],
  ];
  return formatTable(['', 'SINGLE-STAGE', 'SLIM', 'RATIO'], rows);
}

/**
 * `strata slim [-f Dockerfile] [CONTEXT]`: rewrites a single-stage Dockerfile as a commented
 * multi-stage one, from facts about the image it builds; `--verify` builds and checks both.
 */
export function registerSlimCommand(program: Command): void {
  program
    .command('slim')
    .description('rewrite a single-stage Dockerfile as a multi-stage one, from what its image needs')
    .argument('[context]', 'the build context directory', '.')
    .option('-f, --file <path>', 'the single-stage Dockerfile (default: CONTEXT/Dockerfile)')
    .option(
      '-o, --output <path>',
      'where to write the rewrite (default: Dockerfile.slim beside it; - prints it)',
    )
    .option('--verify', 'build both Dockerfiles, run the same check on both, and print the size table')
    .option(
      '--check <command>',
      'verify by running this command in a fresh container of each image (exit 0 passes)',
    )
    .option(
      '--http <port[/path]>',
      'verify by GET http://127.0.0.1:PORT/path while each image runs (host network)',
    )
    .option(
      '--alive <seconds>',
      'verify that the main process still runs after this long (the default check)',
      '5',
    )
    .option('--timeout <seconds>', 'how long --http waits for an answer', '60')
    .option('-e, --env <key=value>', 'environment for the verify runs (repeatable)', collect, [])
    .option('-t, --tag <name>', 'name the slim image built by --verify')
    .option(
      '--force',
      'write the rewrite (marked unverified) even when a needed fact is missing; overwrite any -o file',
    )
    .option('--build-arg <key=value>', 'a build argument for both builds (repeatable)', collect, [])
    .option('--secret <id=…,src=…|env=…>', 'a secret for RUN --mount=type=secret (repeatable)', collect, [])
    .option('--progress <mode>', `build output: ${PROGRESS_MODES.join(', ')}`, 'auto')
    .action(async (contextArg: string, options: SlimCommandOptions, command: Command) => {
      if (options.check !== undefined && options.http !== undefined) {
        throw new InvalidInputError('--check and --http are two ways to verify: give one');
      }
      // Options that only mean something to --verify are refused without it, never ignored.
      const given = (name: string) => command.getOptionValueSource(name) === 'cli';
      const verifyOnly = [
        ['check', '--check'],
        ['http', '--http'],
        ['tag', '--tag'],
        ['alive', '--alive'],
        ['timeout', '--timeout'],
        ['env', '--env'],
      ] as const;
      for (const [name, flag] of verifyOnly) {
        if (given(name) && !options.verify) throw new InvalidInputError(`${flag} needs --verify`);
      }
      if (given('alive') && (options.check !== undefined || options.http !== undefined)) {
        throw new InvalidInputError(
          '--alive is the default check; it does not combine with --check or --http',
        );
      }
      if (given('timeout') && options.http === undefined) {
        throw new InvalidInputError('--timeout applies to --http only');
      }
      const progress = options.progress as ProgressMode;
      if (!PROGRESS_MODES.includes(progress)) {
        throw new InvalidInputError(`invalid --progress ${JSON.stringify(options.progress)}`, {
          hint: PROGRESS_MODES.join(', '),
        });
      }
      const check: SlimCheck =
        options.check !== undefined
          ? { kind: 'command', command: options.check }
          : options.http !== undefined
            ? parseHttpCheck(options.http, positiveSeconds(options.timeout, '--timeout'))
            : { kind: 'alive', seconds: positiveSeconds(options.alive, '--alive') };
      const secrets = new Map(
        options.secret.map((s) => {
          const parsed = parseSecret(s);
          return [parsed.id, parsed.content] as const;
        }),
      );
      const signal = interruptSignal();
      const store = await storeFor(command);
      const renderer = createRenderer(progress, { stream: process.stderr });
      let outcome: SlimOutcome;
      try {
        outcome = await slimDockerfile(store, {
          context: resolve(contextArg),
          ...(options.file ? { dockerfile: resolve(options.file) } : {}),
          ...(options.output ? { output: options.output } : {}),
          ...(options.force ? { force: true } : {}),
          buildArgs: parseBuildArgs(options.buildArg),
          secrets,
          ...(options.verify
            ? { verify: { check, env: options.env, ...(options.tag ? { tag: options.tag } : {}) } }
            : {}),
          resolveImage: registryImageResolver(store, { events: renderer }),
          events: renderer,
          log: (line) => process.stderr.write(`» ${line}\n`),
          signal,
        });
      } finally {
        renderer.close();
      }
      const err = process.stderr;
      const plan = outcome.plan;
      if (outcome.written === undefined) process.stdout.write(outcome.text);
      err.write(
        `\n${outcome.unverified ? 'UNVERIFIED ' : ''}slim rewrite: ${plan.kind}, final stage FROM ${plan.finalBase}\n`,
      );
      for (const d of plan.decisions) err.write(`  - ${d}\n`);
      if (plan.copies.length > 0) {
        err.write('copied from the builder:\n');
        for (const c of plan.copies) err.write(`  ${c.path}  (${c.why})\n`);
      }
      if (plan.aptPackages.size > 0)
        err.write(`installed with apt: ${[...plan.aptPackages.keys()].join(', ')}\n`);
      if (plan.leftBehind.length > 0) {
        err.write('left behind (largest):\n');
        for (const l of plan.leftBehind) err.write(`  ${formatBytes(l.bytes).padStart(9)}  ${l.path}\n`);
      }
      if (outcome.unverified) {
        err.write('missing facts (--force wrote it anyway):\n');
        for (const m of plan.missing) err.write(`  - ${m}\n`);
      }
      if (outcome.written) err.write(`wrote ${outcome.written}\n`);
      if (outcome.verify) {
        process.stdout.write(
          `\n${formatSlimTable(outcome)}\ncheck: ${describeCheck(outcome.verify.check)}\n`,
        );
        if (!outcome.verify.slimResult.passed) {
          err.write(`strata slim: the slim image failed the check: ${outcome.verify.slimResult.detail}\n`);
          process.exitCode = outcome.verify.singleResult.passed ? 1 : 2;
        }
      }
    });
}
