import { spawn } from 'node:child_process';
import { type CliResult, collectOutput, STRATA_BIN } from './cli.ts';

/**
 * Runs `strata args…` in a mount namespace of its own where /proc/sys/fs/binfmt_misc is a tmpfs
 * holding `files` (always an `enabled` status): what strata reads of binfmt_misc is the test's,
 * and this machine's handlers (other tests use them) are untouched. Programs still run through
 * the real kernel.
 */
export function strataWithBinfmt(
  files: Readonly<Record<string, string>>,
  args: readonly string[],
  root: string,
): Promise<CliResult> {
  const dir = '/proc/sys/fs/binfmt_misc';
  const writes = Object.entries({ status: 'enabled\n', ...files })
    .map(([name, text]) => `printf '%s' '${text}' > ${dir}/${name}`)
    .join(' && ');
  const child = spawn(
    'unshare',
    [
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      `mount -t tmpfs fake-binfmt ${dir} && ${writes} && exec "$@"`,
      'sh',
      process.execPath,
      STRATA_BIN,
      ...args,
    ],
    { env: { ...process.env, STRATA_ROOT: root } },
  );
  return collectOutput(child);
}
