import type { Command } from 'commander';
import { login, logout } from '../api/login.ts';
import { InvalidInputError } from '../util/index.ts';
import { collect } from './cli-context.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** `strata login [SERVER] -u USER (-p PASS | --password-stdin)` and `strata logout [SERVER]`, like docker's. */
export function registerLoginCommand(program: Command): void {
  program
    .command('login')
    .description(
      'log in to a registry (credentials are saved where docker keeps them: ~/.docker/config.json or its credential helper)',
    )
    .argument('[server]', 'registry host (default: Docker Hub)')
    .requiredOption('-u, --username <name>', 'user name')
    .option('-p, --password <password>', 'password or token (prefer --password-stdin)')
    .option('--password-stdin', 'read the password from standard input')
    .option(
      '--insecure-registry <host[:port]>',
      'allow plain HTTP for this registry (repeatable)',
      collect,
      [],
    )
    .action(
      async (
        server: string | undefined,
        options: { username: string; password?: string; passwordStdin?: boolean; insecureRegistry: string[] },
      ) => {
        if (options.password !== undefined && options.passwordStdin)
          throw new InvalidInputError('--password and --password-stdin are mutually exclusive');
        const password = options.passwordStdin ? await readStdin() : options.password;
        if (!password)
          throw new InvalidInputError('a password is required', {
            hint: 'pass --password-stdin and pipe it in',
          });
        if (options.password !== undefined)
          process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
        const result = await login(
          server,
          { username: options.username, password },
          { insecureRegistries: options.insecureRegistry },
        );
        process.stdout.write(
          `Login Succeeded (${result.host}; saved ${result.helper ? `with docker-credential-${result.helper}` : `in ${result.path}`})\n`,
        );
      },
    );
}

/** `strata logout [SERVER]`. */
export function registerLogoutCommand(program: Command): void {
  program
    .command('logout')
    .description('forget the saved credentials for a registry')
    .argument('[server]', 'registry host (default: Docker Hub)')
    .action(async (server: string | undefined) => {
      const result = await logout(server);
      process.stdout.write(
        result.removed
          ? `Removing login credentials for ${result.host}\n`
          : `Not logged in to ${result.host}\n`,
      );
    });
}
