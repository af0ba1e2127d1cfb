import type { Command } from 'commander';
import { systemInfo } from '../api/system-info.ts';
import { formatErrorChain } from '../util/index.ts';
import { storeFor } from './cli-context.ts';
import { STRATA_VERSION } from './version.ts';

/** What `strata version --json` prints. */
export interface VersionReport {
  readonly version: string;
  readonly node: string;
  readonly platform: string;
  readonly runtime?: string;
  readonly snapshotter?: string;
  /** Why the runtime and snapshotter are unknown: the store they are probed in cannot be opened. */
  readonly error?: string;
}

/**
 * `strata version [--json]`, short like `docker version`: strata's version, Node's, the platform,
 * and the OCI runtime and snapshotter builds use here. An unusable state directory does not stop
 * it: the client lines print, and the rest says why it is unknown.
 */
export function registerVersionCommand(program: Command): void {
  program
    .command('version')
    .description("show strata's version, Node's, and the OCI runtime and snapshotter builds use here")
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const report = await versionReport(command);
      if (options.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      const lines = [
        `strata:       ${report.version}`,
        `node:         ${report.node}`,
        `platform:     ${report.platform}`,
      ];
      if (report.error !== undefined) lines.push(`runtime:      unknown (${report.error})`);
      else lines.push(`runtime:      ${report.runtime}`, `snapshotter:  ${report.snapshotter}`);
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}

async function versionReport(command: Command): Promise<VersionReport> {
  const client = {
    version: STRATA_VERSION,
    node: process.version,
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
  let store: Awaited<ReturnType<typeof storeFor>>;
  try {
    store = await storeFor(command);
  } catch (error) {
    // Handled fully: the version is still worth printing; the line says why the rest is unknown.
    return { ...client, error: formatErrorChain(error) };
  }
  try {
    const info = await systemInfo(store, STRATA_VERSION);
    const runtime =
      'error' in info.runtime
        ? `unavailable: ${info.runtime.error}`
        : `${info.runtime.name} ${info.runtime.version.replace(/^\S+ version /, '')} (${info.runtime.path})`;
    return { ...client, platform: info.platform, runtime, snapshotter: info.snapshotter.kind };
  } finally {
    await store.close();
  }
}
