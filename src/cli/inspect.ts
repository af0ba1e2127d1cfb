import type { Command } from 'commander';
import { shortCreatedBy } from '../analyze/layer-history.ts';
import { type InspectResult, inspectImage } from '../api/inspect.ts';
import { parsePlatform } from '../oci/index.ts';
import { collect, storeFor } from './cli-context.ts';
import { formatBytes, formatTable } from './format.ts';

function render(result: InspectResult): string {
  const lines: string[] = [];
  lines.push(`Name:        ${result.location}`);
  lines.push(`Digest:      ${result.digest}`);
  lines.push(`MediaType:   ${result.mediaType}`);
  if (result.platforms) {
    lines.push('Platforms:');
    for (const p of result.platforms) lines.push(`  ${p.platform.padEnd(16)} ${p.digest}`);
  }
  if (result.manifest && result.manifest.digest !== result.digest)
    lines.push(`Manifest:    ${result.manifest.digest}`);
  if (result.id) lines.push(`Image ID:    ${result.id}`);
  const c = result.config;
  if (c) {
    lines.push(`Platform:    ${c.platform}`);
    if (c.created) lines.push(`Created:     ${c.created}`);
    if (c.user) lines.push(`User:        ${c.user}`);
    if (c.workingDir) lines.push(`WorkingDir:  ${c.workingDir}`);
    if (c.entrypoint) lines.push(`Entrypoint:  ${JSON.stringify(c.entrypoint)}`);
    if (c.cmd) lines.push(`Cmd:         ${JSON.stringify(c.cmd)}`);
    if (c.env?.length) lines.push('Env:', ...c.env.map((e) => `  ${e}`));
    if (c.exposedPorts?.length) lines.push(`Ports:       ${c.exposedPorts.join(', ')}`);
    if (c.labels && Object.keys(c.labels).length > 0)
      lines.push('Labels:', ...Object.entries(c.labels).map(([k, v]) => `  ${k}=${v}`));
  }
  if (result.layers) {
    lines.push(`Layers:      ${result.layers.length}, ${formatBytes(result.size ?? 0)} as stored`);
    // Numbered from 1, as the build's size table numbers them.
    const table = formatTable(
      ['  #', 'DIGEST', 'SIZE', 'CREATED BY'],
      result.layers.map((l, i) => [
        `  ${i + 1}`,
        l.digest,
        formatBytes(l.size),
        l.createdBy ? truncate(shortCreatedBy(l.createdBy), 60) : '',
      ]),
    );
    lines.push(table.trimEnd());
  }
  return `${lines.join('\n')}\n`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** `strata inspect TARGET [--platform p] [--json]`: an image's manifest, platforms, config and layers. */
export function registerInspectCommand(program: Command): void {
  program
    .command('inspect')
    .description('show an image: manifest, platforms, config summary and layer sizes (local or remote)')
    .argument(
      '<target>',
      'NAME (the store if it has it, else the registry), docker://REF, oci:DIR[:TAG], docker-archive:FILE, strata:NAME',
    )
    .option('--platform <os/arch[/variant]>', 'platform to describe from a multi-platform image')
    .option('--json', 'print JSON')
    .option(
      '--insecure-registry <host[:port]>',
      'allow plain HTTP for this registry (repeatable)',
      collect,
      [],
    )
    .action(
      async (
        target: string,
        options: { platform?: string; json?: boolean; insecureRegistry: string[] },
        command: Command,
      ) => {
        // docker://, oci: and docker-archive: locations never read the local store: it is not opened
        // (they work where the state directory is unusable or absent).
        const store = /^(docker|oci|docker-archive):/.test(target) ? undefined : await storeFor(command);
        try {
          const result = await inspectImage(target, {
            ...(store ? { store } : {}),
            insecureRegistries: options.insecureRegistry,
            ...(options.platform ? { platform: parsePlatform(options.platform) } : {}),
          });
          process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : render(result));
        } finally {
          await store?.close();
        }
      },
    );
}
