import type { Command } from 'commander';
import {
  type BinfmtChange,
  binfmtStatus,
  installBinfmt,
  parseArchitectures,
  uninstallBinfmt,
} from '../api/binfmt.ts';
import { InvalidInputError } from '../util/index.ts';
import { formatTable } from './format.ts';
import { formatPlatformSupport } from './format-platform-support.ts';

/**
 * `strata binfmt [--install LIST|all] [--uninstall LIST|all] [--json]`, after
 * `tonistiigi/binfmt`: registers (or removes) Debian's QEMU user-mode emulators with the kernel's
 * binfmt_misc, then lists the handlers and the platforms this machine can run.
 */
export function registerBinfmtCommand(program: Command): void {
  program
    .command('binfmt')
    .description(
      "list the platforms this machine can run and the binfmt_misc handlers; register or remove QEMU's emulators (root)",
    )
    .option('--install <archs>', 'register qemu-user-static for these architectures (arm64,riscv64,… or all)')
    .option('--uninstall <archs>', 'remove the handlers for these architectures (arm64,… or all)')
    .option('--json', 'print JSON')
    .action(async (options: { install?: string; uninstall?: string; json?: boolean }) => {
      if (options.install !== undefined && options.uninstall !== undefined)
        throw new InvalidInputError('--install and --uninstall cannot be used together');
      const changes: BinfmtChange[] = [];
      if (options.uninstall !== undefined)
        changes.push(...(await uninstallBinfmt(parseArchitectures(options.uninstall))));
      if (options.install !== undefined)
        changes.push(...(await installBinfmt(parseArchitectures(options.install))));
      const status = await binfmtStatus();
      if (options.json) {
        process.stdout.write(
          `${JSON.stringify({ ...(changes.length ? { changes } : {}), ...status }, null, 2)}\n`,
        );
        return;
      }
      const lines: string[] = [];
      for (const c of changes) lines.push(describeChange(c));
      if (changes.length) lines.push('');
      lines.push(
        `binfmt_misc: ${
          status.binfmtMisc.mounted
            ? `${status.binfmtMisc.dir} (${status.binfmtMisc.enabled ? 'enabled' : 'disabled'})`
            : `not mounted at ${status.binfmtMisc.dir} (run as root to read it)`
        }`,
      );
      if (status.handlers.length)
        lines.push(
          formatTable(
            ['HANDLER', 'ARCH', 'FLAGS', 'STATE', 'INTERPRETER'],
            status.handlers.map((h) => [
              h.name,
              h.architecture ?? '-',
              h.flags || '-',
              h.enabled ? 'enabled' : 'disabled',
              h.interpreter,
            ]),
          ).trimEnd(),
        );
      else lines.push('no handlers registered');
      lines.push(
        status.installable.length
          ? `qemu-user-static can register: ${status.installable.join(', ')}`
          : 'qemu-user-static is not installed (apt-get install qemu-user-static)',
        '',
        'platforms:',
        ...status.platforms.map((p) => `  ${formatPlatformSupport(p)}`),
      );
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}

function describeChange(c: BinfmtChange): string {
  switch (c.action) {
    case 'installed':
      return `installed ${c.handler} for ${c.architecture} (flags ${c.flags})`;
    case 'replaced':
      return `replaced ${c.handler} for ${c.architecture} (it had flags ${c.flags || 'none'})`;
    case 'unchanged':
      return `${c.handler} for ${c.architecture} is registered already (flags ${c.flags})`;
    case 'removed':
      return `removed ${c.handler} (${c.architecture})`;
    case 'absent':
      return `no handler for ${c.architecture} was registered`;
  }
}
