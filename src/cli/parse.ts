import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import {
  type CommandLine,
  type Dockerfile,
  type DockerfileWarning,
  type Instruction,
  parseDockerfile,
} from '../dockerfile/index.ts';
import { formatLocation, isErrnoException, NotFoundError } from '../util/index.ts';

/** `strata parse <Dockerfile> [--json]`: the typed syntax tree of a Dockerfile. */
export function registerParseCommand(program: Command): void {
  program
    .command('parse')
    .description('parse a Dockerfile and print its instructions (syntax check, no build)')
    .argument('<dockerfile>', 'path to the Dockerfile')
    .option('--json', 'print the full syntax tree as JSON')
    .action(async (path: string, options: { json?: boolean }) => {
      const { text, file } = await readDockerfile(path);
      const dockerfile = parseDockerfile(text, { file });
      printWarnings(dockerfile.warnings);
      if (options.json) {
        process.stdout.write(`${JSON.stringify(dockerfile, null, 2)}\n`);
        return;
      }
      process.stdout.write(formatDockerfile(dockerfile));
    });
}

/**
 * Reads a Dockerfile; a directory means its `Dockerfile`, as with `docker build`. A missing file
 * is a {@link NotFoundError}, not a crash.
 */
export async function readDockerfile(path: string): Promise<{ text: string; file: string }> {
  let file = path;
  try {
    if ((await stat(path)).isDirectory()) file = join(path, 'Dockerfile');
    return { text: await readFile(file, 'utf8'), file };
  } catch (error) {
    if (isErrnoException(error, 'ENOENT')) {
      throw new NotFoundError(`no Dockerfile at ${file}`, {
        cause: error,
        hint: 'pass the path of a Dockerfile, or of a directory that holds one',
      });
    }
    throw error;
  }
}

/** Warnings go to stderr, one per line, located like errors. */
export function printWarnings(warnings: readonly DockerfileWarning[]): void {
  for (const w of warnings) {
    const where =
      w.range === undefined
        ? w.file
        : formatLocation({ file: w.file, line: w.range.line, column: w.range.column });
    process.stderr.write(`warning: ${where}: ${w.message} [${w.rule}]\n`);
  }
}

/** One line per instruction: `line:column  KEYWORD  what it says`, stages as headings. */
export function formatDockerfile(dockerfile: Dockerfile): string {
  const lines: string[] = [];
  for (const d of dockerfile.directives) lines.push(`# ${d.name}=${d.value}`);
  const at = (i: Instruction): string => `${i.range.line}:${i.range.column}`.padEnd(8);
  for (const arg of dockerfile.globalArgs) lines.push(`${at(arg)}${describe(arg)}`);
  dockerfile.stages.forEach((stage, index) => {
    lines.push(
      `${at(stage.from)}${describe(stage.from)}    # stage ${index}${stage.from.name === undefined ? '' : ` "${stage.from.name}"`}`,
    );
    for (const i of stage.instructions) lines.push(`${at(i)}  ${describe(i)}`);
  });
  return `${lines.join('\n')}\n`;
}

function command(c: CommandLine): string {
  return c.form === 'exec' ? JSON.stringify(c.args) : c.text;
}

function describe(i: Instruction): string {
  const flags = (entries: [string, string | boolean | undefined][]): string =>
    entries
      .filter(([, v]) => v !== undefined && v !== false)
      .map(([k, v]) => (v === true ? `--${k} ` : `--${k}=${v} `))
      .join('');
  switch (i.kind) {
    case 'from':
      return `FROM ${flags([['platform', i.platform]])}${i.image}${i.name === undefined ? '' : ` AS ${i.name}`}`;
    case 'run':
      return `RUN ${i.mounts.map((m) => `--mount=${m.text} `).join('')}${flags([
        ['network', i.network],
        ['security', i.security],
      ])}${command(i.command)}${i.heredocs.map((h) => ` <<${h.name} (${h.content.split('\n').length - 1} lines)`).join('')}`;
    case 'cmd':
    case 'entrypoint':
      return `${i.kind.toUpperCase()} ${command(i.command)}`;
    case 'copy':
    case 'add':
      return `${i.kind.toUpperCase()} ${flags([
        ['from', i.kind === 'copy' ? i.from : undefined],
        ['chown', i.chown],
        ['chmod', i.chmod],
        ['link', i.link],
        ['parents', i.kind === 'copy' ? i.parents : undefined],
        ['checksum', i.kind === 'add' ? i.checksum : undefined],
      ])}${i.exclude.map((e) => `--exclude=${e} `).join('')}${[...i.sources, ...i.inline.map((s) => `<<${s.name}`)].join(' ')} -> ${i.dest}`;
    case 'env':
    case 'label':
      return `${i.kind.toUpperCase()} ${i.pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`;
    case 'arg':
      return `ARG ${i.args.map((a) => (a.defaultValue === undefined ? a.key : `${a.key}=${a.defaultValue}`)).join(' ')}`;
    case 'expose':
      return `EXPOSE ${i.ports.join(' ')}`;
    case 'user':
      return `USER ${i.user}`;
    case 'workdir':
      return `WORKDIR ${i.path}`;
    case 'volume':
      return `VOLUME ${JSON.stringify(i.volumes)}`;
    case 'shell':
      return `SHELL ${JSON.stringify(i.shell)}`;
    case 'stopsignal':
      return `STOPSIGNAL ${i.signal}`;
    case 'healthcheck':
      return i.test.type === 'none' ? 'HEALTHCHECK NONE' : `HEALTHCHECK CMD ${command(i.test.command)}`;
    case 'onbuild':
      return `ONBUILD ${describe(i.trigger)}`;
    case 'maintainer':
      return `MAINTAINER ${i.maintainer}`;
  }
}
