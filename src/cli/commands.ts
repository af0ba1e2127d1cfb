import type { Command, Help } from 'commander';

/** Loads a command's module and returns its `register…Command(program)` function. */
type Loader = () => Promise<(program: Command) => void>;

/**
 * One subcommand: how the top-level help lists it (`usage`: the name with its arguments, as
 * commander prints it; `summary`: its description) and the loader of its module. The listing is
 * here so that `strata --help` loads no command's module; test/cli/commands.test.ts checks that
 * it says what the module registers.
 */
interface CommandEntry {
  readonly usage: string;
  readonly summary: string;
  readonly load: Loader;
}

/**
 * Every subcommand by name, in the order `strata --help` lists them. Each command lives in its own
 * file and exports a `register…Command(program)` function; add one entry here per command. Only the
 * module of the command being run is loaded (`strata --version` and `--help` load none), so
 * `strata images` does not pay for the registry client or the analyzer at start-up.
 */
const COMMANDS: Record<string, CommandEntry> = {
  build: {
    usage: 'build [options] <context>',
    summary: 'build an image from a Dockerfile, as docker buildx build does',
    load: async () => (await import('./build.ts')).registerBuildCommand,
  },
  pull: {
    usage: 'pull [options] <reference>',
    summary: 'download an image from a registry into the local store',
    load: async () => (await import('./pull.ts')).registerPullCommand,
  },
  push: {
    usage: 'push [options] <name> [destination]',
    summary: 'upload an image from the local store to its registry',
    load: async () => (await import('./push.ts')).registerPushCommand,
  },
  inspect: {
    usage: 'inspect [options] <target>',
    summary: 'show an image: manifest, platforms, config summary and layer sizes (local or remote)',
    load: async () => (await import('./inspect.ts')).registerInspectCommand,
  },
  copy: {
    usage: 'copy [options] <source> <destination>',
    summary: 'copy an image between registries, OCI layouts, docker-archives and the store',
    load: async () => (await import('./copy.ts')).registerCopyCommand,
  },
  login: {
    usage: 'login [options] [server]',
    summary:
      'log in to a registry (credentials are saved where docker keeps them: ~/.docker/config.json or its credential helper)',
    load: async () => (await import('./login.ts')).registerLoginCommand,
  },
  logout: {
    usage: 'logout [server]',
    summary: 'forget the saved credentials for a registry',
    load: async () => (await import('./login.ts')).registerLogoutCommand,
  },
  analyze: {
    usage: 'analyze [options] <image>',
    summary: "show where an image's bytes go: efficiency, wasted space, largest directories",
    load: async () => (await import('./analyze.ts')).registerAnalyzeCommand,
  },
  compare: {
    usage: 'compare [options] <old> <new>',
    summary: 'compare two images: size, ratio, layers, and the directories one dropped or added',
    load: async () => (await import('./compare.ts')).registerCompareCommand,
  },
  lint: {
    usage: 'lint [options] [dockerfile]',
    summary: 'check a Dockerfile for image-size and multi-stage problems (rules: docs/lint.md)',
    load: async () => (await import('./lint.ts')).registerLintCommand,
  },
  import: {
    usage: 'import [options] <file> <name>',
    summary: 'create a one-layer image from a rootfs tarball (plain or gzip; - for stdin)',
    load: async () => (await import('./import.ts')).registerImportCommand,
  },
  images: {
    usage: 'images [options] [repository[:tag]]',
    summary: 'list images in the local store',
    load: async () => (await import('./images.ts')).registerImagesCommand,
  },
  tag: {
    usage: 'tag <source> <target>',
    summary: 'give an image in the store another name',
    load: async () => (await import('./images.ts')).registerTagCommand,
  },
  rmi: {
    usage: 'rmi <names...>',
    summary: 'remove image names from the store (blobs are freed by `strata prune`)',
    load: async () => (await import('./images.ts')).registerRmiCommand,
  },
  prune: {
    usage: 'prune [options]',
    summary:
      'remove build cache, and blobs and unpacked layers that no image, cache record or running build needs',
    load: async () => (await import('./store-commands.ts')).registerPruneCommand,
  },
  du: {
    usage: 'du [options]',
    summary: 'show disk usage: images, build cache, blobs, unpacked layers, cache mounts',
    load: async () => (await import('./store-commands.ts')).registerDuCommand,
  },
  store: {
    usage: 'store',
    summary: 'inspect and maintain the local store',
    load: async () => (await import('./store-commands.ts')).registerStoreCommand,
  },
  parse: {
    usage: 'parse [options] <dockerfile>',
    summary: 'parse a Dockerfile and print its instructions (syntax check, no build)',
    load: async () => (await import('./parse.ts')).registerParseCommand,
  },
  stages: {
    usage: 'stages [options] <dockerfile>',
    summary: 'show the stages of a Dockerfile, which ones a build needs, and their bases',
    load: async () => (await import('./stages.ts')).registerStagesCommand,
  },
  run: {
    usage: 'run [options] <image> [command...]',
    summary: 'run an image from the store in a fresh container (host network; removed on exit)',
    load: async () => (await import('./run.ts')).registerRunCommand,
  },
  init: {
    usage: 'init [options] <kind> [dir]',
    summary: 'write a multi-stage Dockerfile and .dockerignore for a Go, Python or Node project',
    load: async () => (await import('./init.ts')).registerInitCommand,
  },
  slim: {
    usage: 'slim [options] [context]',
    summary: 'rewrite a single-stage Dockerfile as a multi-stage one, from what its image needs',
    load: async () => (await import('./slim.ts')).registerSlimCommand,
  },
  binfmt: {
    usage: 'binfmt [options]',
    summary:
      "list the platforms this machine can run and the binfmt_misc handlers; register or remove QEMU's emulators (root)",
    load: async () => (await import('./binfmt.ts')).registerBinfmtCommand,
  },
  info: {
    usage: 'info [options]',
    summary:
      'show the store, the snapshotter (overlay or native), the OCI runtime strata uses here, how RUN steps are isolated and which platforms they can run',
    load: async () => (await import('./info.ts')).registerInfoCommand,
  },
  version: {
    usage: 'version [options]',
    summary: "show strata's version, Node's, and the OCI runtime and snapshotter builds use here",
    load: async () => (await import('./version-command.ts')).registerVersionCommand,
  },
};

/** Global options that take a value (so their value is not mistaken for the command name). */
const GLOBAL_OPTIONS_WITH_VALUE = new Set(['--root']);

/** The subcommand named in `argv`, if any. */
export function commandName(argv: readonly string[]): string | undefined {
  return operands(argv)[0];
}

/** The arguments of `argv` that are not global options (nor their values). */
function operands(argv: readonly string[]): string[] {
  const found: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (GLOBAL_OPTIONS_WITH_VALUE.has(arg)) i++;
    else if (arg === '--') {
      found.push(...argv.slice(i + 1));
      break;
    } else if (!arg.startsWith('-')) found.push(arg);
  }
  return found;
}

/** The names of every subcommand, in the order help lists them. */
export function commandNames(): string[] {
  return Object.keys(COMMANDS);
}

/** How the top-level help lists `name` (for the test that keeps this table true). */
export function commandListing(name: string): { usage: string; summary: string } | undefined {
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  return entry && { usage: entry.usage, summary: entry.summary };
}

/** Loads `name`'s module and registers the command on `program`. */
export async function registerCommand(program: Command, name: string): Promise<void> {
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) throw new Error(`no command ${name}`);
  const register = await entry.load();
  // A bundle built without this command's module (scripts/build.mjs) has an empty stand-in.
  if (typeof register !== 'function')
    throw new Error(`this bundle of strata does not hold the ${name} command`);
  register(program);
}

/**
 * Registers what `argv` needs: the one subcommand it names (for `strata help NAME` too), or —
 * when it names none (`--version`, `--help`) or an unknown one — every subcommand as listed in
 * the table, without loading their modules, so help and commander's "unknown command" message
 * (with its suggestion) list them all.
 */
export async function registerCommands(program: Command, argv: readonly string[] = []): Promise<void> {
  const [first, second] = operands(argv);
  const named = first === 'help' ? second : first;
  if (named !== undefined && Object.hasOwn(COMMANDS, named)) {
    await registerCommand(program, named);
    return;
  }
  const usages = new Map<Command, string>();
  for (const [name, entry] of Object.entries(COMMANDS)) {
    // A listing only: it is never run, since argv names no command it could run.
    usages.set(program.command(name).description(entry.summary), entry.usage);
  }
  const helper = program.createHelp();
  program.configureHelp({
    subcommandTerm: (command: Command) => usages.get(command) ?? helper.subcommandTerm(command),
  } satisfies Partial<Help>);
}
