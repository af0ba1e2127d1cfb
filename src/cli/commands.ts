import type { Command } from 'commander';

/** A command's registration, loaded only when that command runs (or for help). */
type Loader = () => Promise<(program: Command) => void>;

/**
 * Every subcommand by name. Each command lives in its own file and exports a
 * `register…Command(program)` function; add one line here per command. Only the module of the
 * command being run is loaded (esbuild splits each into its own chunk), so `strata build` does not
 * pay for the registry client or the analyzer at start-up.
 */
const COMMANDS: Record<string, Loader> = {
  build: async () => (await import('./build.ts')).registerBuildCommand,
  pull: async () => (await import('./pull.ts')).registerPullCommand,
  push: async () => (await import('./push.ts')).registerPushCommand,
  inspect: async () => (await import('./inspect.ts')).registerInspectCommand,
  copy: async () => (await import('./copy.ts')).registerCopyCommand,
  login: async () => (await import('./login.ts')).registerLoginCommand,
  logout: async () => (await import('./login.ts')).registerLogoutCommand,
  analyze: async () => (await import('./analyze.ts')).registerAnalyzeCommand,
  compare: async () => (await import('./compare.ts')).registerCompareCommand,
  lint: async () => (await import('./lint.ts')).registerLintCommand,
  import: async () => (await import('./import.ts')).registerImportCommand,
  images: async () => (await import('./images.ts')).registerImagesCommand,
  tag: async () => (await import('./images.ts')).registerTagCommand,
  rmi: async () => (await import('./images.ts')).registerRmiCommand,
  prune: async () => (await import('./store-commands.ts')).registerPruneCommand,
  du: async () => (await import('./store-commands.ts')).registerDuCommand,
  store: async () => (await import('./store-commands.ts')).registerStoreCommand,
  parse: async () => (await import('./parse.ts')).registerParseCommand,
  stages: async () => (await import('./stages.ts')).registerStagesCommand,
  run: async () => (await import('./run.ts')).registerRunCommand,
  init: async () => (await import('./init.ts')).registerInitCommand,
  slim: async () => (await import('./slim.ts')).registerSlimCommand,
  info: async () => (await import('./info.ts')).registerInfoCommand,
  version: async () => (await import('./version-command.ts')).registerVersionCommand,
};

/** Global options that take a value (so their value is not mistaken for the command name). */
const GLOBAL_OPTIONS_WITH_VALUE = new Set(['--root']);

/** The subcommand named in `argv`, if any. */
export function commandName(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (GLOBAL_OPTIONS_WITH_VALUE.has(arg)) {
      i++;
      continue;
    }
    if (arg.startsWith('-')) continue;
    return arg;
  }
  return undefined;
}

/**
 * Registers the subcommand `argv` names — or every subcommand when it names none or an unknown
 * one, so help and "unknown command" messages list them all, in this table's order.
 */
export async function registerCommands(program: Command, argv: readonly string[] = []): Promise<void> {
  const name = commandName(argv);
  const loader = name !== undefined ? COMMANDS[name] : undefined;
  if (loader) {
    (await loader())(program);
    return;
  }
  const registers = await Promise.all(Object.values(COMMANDS).map((load) => load()));
  for (const register of registers) register(program);
}
