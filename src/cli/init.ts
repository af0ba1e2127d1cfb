import type { Command } from 'commander';
import { initProject, PROJECT_KINDS, type ProjectKind } from '../init/index.ts';
import { InvalidInputError } from '../util/index.ts';

/**
 * `strata init go|python|node [dir]`: writes a multi-stage Dockerfile and a .dockerignore for the
 * project, then prints what it detected, what it assumed and how to build.
 */
export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description('write a multi-stage Dockerfile and .dockerignore for a Go, Python or Node project')
    .argument('<kind>', `project kind: ${PROJECT_KINDS.join(', ')}`)
    .argument('[dir]', 'the project directory', '.')
    .option('-f, --file <name>', 'name of the Dockerfile to write', 'Dockerfile')
    .option('--force', 'overwrite an existing Dockerfile and .dockerignore')
    .action(async (kind: string, dir: string, options: { file: string; force?: boolean }) => {
      if (!PROJECT_KINDS.includes(kind as ProjectKind)) {
        throw new InvalidInputError(`unknown project kind ${JSON.stringify(kind)}`, {
          hint: PROJECT_KINDS.join(', '),
        });
      }
      const result = await initProject({
        kind: kind as ProjectKind,
        dir,
        dockerfileName: options.file,
        ...(options.force ? { overwrite: true } : {}),
      });
      const out: string[] = [];
      for (const f of result.files) out.push(`${f.action === 'written' ? 'wrote' : 'kept '} ${f.path}`);
      if (result.detected.length > 0) out.push('detected:', ...result.detected.map((d) => `  ${d}`));
      if (result.assumed.length > 0)
        out.push('assumed (check these):', ...result.assumed.map((a) => `  ${a}`));
      if (result.warnings.length > 0) out.push('warnings:', ...result.warnings.map((w) => `  ${w}`));
      out.push(`build it with: ${result.buildCommand}`);
      process.stdout.write(`${out.join('\n')}\n`);
    });
}
