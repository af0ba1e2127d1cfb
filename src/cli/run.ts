import { fstatSync } from 'node:fs';
import type { Command } from 'commander';
import { findStoredImage } from '../api/images.ts';
import { runImage } from '../api/run-image.ts';
import { createRenderer } from '../progress/index.ts';
import { isReference, parseReference } from '../reference/index.ts';
import type { Store } from '../store/index.ts';
import { AbortedError, InvalidInputError, NotFoundError } from '../util/index.ts';
import { collect, requireRoot, storeFor } from './cli-context.ts';

/** The options `strata run` accepts (docker run's names). */
export interface RunCommandOptions {
  env: string[];
  entrypoint?: string;
  user?: string;
  workdir?: string;
  network?: string;
  hostname?: string;
  rm?: boolean;
  interactive?: boolean;
  tty?: boolean;
  volume: string[];
  pull: string;
}

/** docker run's `--pull` policies. */
const PULL_POLICIES = ['missing', 'always', 'never'] as const;

/** Exit status for a run stopped by a signal, as a shell reports it (128 + signal number). */
const SIGNAL_EXIT: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

/**
 * `strata run [options] IMAGE [COMMAND [ARG…]]`: runs an image from the store in a fresh
 * container, in the foreground, with the host's network (like `docker run --rm --network host`).
 * Exits with the container's exit status. Put `--` before a command that has options of its own.
 */
export function registerRunCommand(program: Command): void {
  const run = program.command('run');
  // docker run's rule: options before IMAGE are ours, IMAGE and everything after it belong to the
  // container. commander would otherwise take `-e`/`-u`/`-w` anywhere on the line.
  const parseOptions = run.parseOptions.bind(run);
  run.parseOptions = (args: string[]) => {
    const at = firstOperand(run, args);
    if (at < 0) return parseOptions(args);
    const head = parseOptions(args.slice(0, at));
    const rest = args[at] === '--' ? args.slice(at + 1) : args.slice(at);
    return { operands: [...head.operands, ...rest], unknown: head.unknown };
  };
  // When the parent command already saw IMAGE (`strata run IMAGE cmd -e x`), commander hands the
  // rest over as "unknown" options; they are the container's too. (commander's _parseCommand is
  // internal; the test in test/examples/run-command.test.ts pins this behaviour.)
  const internal = run as unknown as { _parseCommand(operands: string[], unknown: string[]): unknown };
  const parseCommand = internal._parseCommand.bind(run);
  internal._parseCommand = (operands, unknown) =>
    operands.length > 0 ? parseCommand([...operands, ...unknown], []) : parseCommand(operands, unknown);
  run
    .description('run an image from the store in a fresh container (host network; removed on exit)')
    .argument('<image>', 'image name or manifest digest')
    .argument('[command...]', "command and arguments, replacing the image's Cmd (use -- before options)")
    .option(
      '-e, --env <key=value>',
      'set an environment variable; KEY alone copies it from here',
      collect,
      [],
    )
    .option('--entrypoint <path>', "replace the image's Entrypoint ('' clears it)")
    .option('-u, --user <user[:group]>', "run as this user instead of the image's")
    .option('-w, --workdir <dir>', "working directory instead of the image's")
    .option('--network <mode>', 'host (default) or none')
    .option('--hostname <name>', 'the container host name')
    .option('-i, --interactive', "keep stdin open: the container reads this process's standard input")
    .option(
      '-t, --tty',
      'allocate a pseudo-terminal, joined to this terminal (with -i: an interactive shell)',
    )
    .option(
      '-v, --volume <host:container[:ro]>',
      'bind-mount a host directory or file (repeatable)',
      collect,
      [],
    )
    .option('--pull <policy>', 'pull the image: missing (default), always or never', 'missing')
    .option('--rm', 'remove the container when it exits (always the case; accepted for docker compatibility)')
    // `strata run IMAGE sh -c …`: options after the image belong to the command, as with docker.
    .allowUnknownOption()
    .action(async (image: string, command: string[], options: RunCommandOptions, cmd: Command) => {
      if (image.startsWith('-'))
        throw new InvalidInputError(`unknown option ${image}`, { hint: 'strata run --help' });
      if (options.network && options.network !== 'host' && options.network !== 'none') {
        throw new InvalidInputError(`invalid --network ${JSON.stringify(options.network)}`, {
          hint: 'host or none',
        });
      }
      requireRoot('run');
      if (!(PULL_POLICIES as readonly string[]).includes(options.pull))
        throw new InvalidInputError(`invalid --pull ${JSON.stringify(options.pull)}`, {
          hint: PULL_POLICIES.join(', '),
        });
      checkTerminal(options);
      const controller = new AbortController();
      let stoppedBy: string | undefined;
      const stop = (signal: NodeJS.Signals) => {
        stoppedBy = signal;
        controller.abort();
      };
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, stop);
      const store = await storeFor(cmd);
      try {
        await pullIfNeeded(store, image, options.pull as (typeof PULL_POLICIES)[number], controller.signal);
        const result = await runImage(store, {
          image,
          ...(command.length > 0 ? { command } : {}),
          ...(options.entrypoint !== undefined
            ? { entrypoint: options.entrypoint === '' ? [] : [options.entrypoint] }
            : {}),
          env: options.env,
          ...(options.user !== undefined ? { user: options.user } : {}),
          ...(options.workdir !== undefined ? { workdir: options.workdir } : {}),
          ...(options.network ? { network: options.network as 'host' | 'none' } : {}),
          ...(options.hostname ? { hostname: options.hostname } : {}),
          volumes: options.volume,
          ...(options.interactive || pipedStdin() ? { stdinFd: 0 } : {}),
          ...(options.tty ? { terminal: true } : {}),
          stdout: process.stdout,
          stderr: process.stderr,
          signal: controller.signal,
        });
        process.exitCode = result.exitCode;
      } catch (error) {
        // Stopped on request: the container is gone; exit as a shell would after that signal.
        if (error instanceof AbortedError && stoppedBy) process.exitCode = SIGNAL_EXIT[stoppedBy] ?? 130;
        else throw error;
      } finally {
        for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, stop);
        await store.close();
      }
    });
}

/** Index of the first argument that is not one of `command`'s options (or their values), or -1. */
function firstOperand(command: Command, args: readonly string[]): number {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--' || !arg.startsWith('-') || arg === '-') return i;
    if (arg === '-h' || arg === '--help') continue; // commander's help option is not in `options`
    const flag = arg.startsWith('--') ? arg.split('=')[0]! : arg.slice(0, 2);
    const option = command.options.find((o) => o.long === flag || o.short === flag);
    if (!option) return i; // an option strata run does not have: the container's
    const inline = arg.startsWith('--') ? arg.includes('=') : arg.length > 2;
    if ((option.required || option.optional) && !inline) i++; // skip its value
  }
  return -1;
}

/**
 * `-t` needs a terminal here: the runtime joins the container's pseudo-terminal to it. With `-i`
 * that is stdin (docker: "the input device is not a TTY"); without, any of the three streams.
 */
function checkTerminal(options: RunCommandOptions): void {
  if (!options.tty) return;
  if (options.interactive && !process.stdin.isTTY)
    throw new InvalidInputError('the input device is not a TTY', {
      hint: 'drop -t to pass piped input: echo x | strata run -i IMAGE cat',
    });
  if (!process.stdin.isTTY && !process.stdout.isTTY && !process.stderr.isTTY)
    throw new InvalidInputError('-t needs a terminal, and none of stdin, stdout and stderr is one', {
      hint: 'drop -t when the output goes to a file or a pipe',
    });
}

/**
 * docker run's `--pull`: `missing` pulls an image the store lacks (saying so, as docker does),
 * `always` pulls it anyway, `never` leaves a missing image an error that says how to get it. An
 * image ID or digest is never pulled: there is no registry name to pull it from.
 */
async function pullIfNeeded(
  store: Store,
  image: string,
  policy: (typeof PULL_POLICIES)[number],
  signal: AbortSignal,
): Promise<void> {
  const present = (await findStoredImage(store, image)) !== undefined;
  if (present && policy !== 'always') return;
  const pullable = isReference(image) && !/^(?:sha256:)?[a-f0-9]{64}$/.test(image);
  if (!pullable || policy === 'never') {
    if (present) return;
    throw new NotFoundError(`image ${image} not found in the store`, {
      hint: pullable
        ? `strata pull ${image} first, or run without --pull never`
        : 'strata images lists what the store holds',
    });
  }
  const name = parseReference(image).familiar();
  if (!present) process.stderr.write(`Unable to find image '${name}' locally\n`);
  const { pull } = await import('../api/pull.ts');
  const renderer = createRenderer('auto', { stream: process.stderr });
  try {
    await pull(store, image, { events: renderer, signal });
  } finally {
    renderer.close();
  }
}

/**
 * Whether standard input is a pipe, a socket or a file (`echo x | strata run IMAGE cat`, `< file`): then the
 * container reads it even without `-i`. docker needs `-i` for that (without it the process gets
 * an empty stdin); strata passes what was clearly meant for the process, and, as docker, never a
 * terminal without `-i`.
 */
function pipedStdin(): boolean {
  try {
    const stat = fstatSync(0);
    return stat.isFIFO() || stat.isFile() || stat.isSocket();
  } catch {
    return false;
  }
}
