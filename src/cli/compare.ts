import type { Command } from 'commander';
import {
  analyzeImageWithFiles,
  type ComparedImage,
  compareImages,
  type ImageComparison,
} from '../analyze/index.ts';
import type { Store } from '../store/index.ts';
import { withImageArgument } from './analyze.ts';
import { storeFor } from './cli-context.ts';
import { formatBytes, formatTable } from './format.ts';

function ratioText(ratio: number): string {
  if (!Number.isFinite(ratio)) return 'n/a';
  return ratio >= 1 ? `${ratio.toFixed(1)}x smaller` : `${(1 / ratio).toFixed(1)}x larger`;
}

/** The human form: the talk's table, then the directories that explain the difference. */
export function formatComparison(c: ImageComparison): string {
  const out: string[] = [];
  out.push(
    formatTable(
      ['', 'OLD', 'NEW', 'RATIO'],
      [
        ['image', c.old.name, c.new.name, ''],
        ['size', formatBytes(c.old.sizeBytes), formatBytes(c.new.sizeBytes), ratioText(c.ratio)],
        [
          'compressed',
          formatBytes(c.old.compressedSize),
          formatBytes(c.new.compressedSize),
          ratioText(c.compressedRatio),
        ],
        ['layers', String(c.old.layers), String(c.new.layers), ''],
        ['files', String(c.old.visibleFiles), String(c.new.visibleFiles), ''],
      ],
    ).trimEnd(),
  );
  if (c.droppedByCategory.length > 0) {
    out.push('');
    out.push('Dropped by kind:');
    for (const d of c.droppedByCategory) out.push(`  ${formatBytes(d.bytes).padStart(8)}  ${d.category}`);
  }
  const section = (title: string, rows: ImageComparison['dropped']) => {
    if (rows.length === 0) return;
    out.push('');
    out.push(title);
    out.push(
      formatTable(
        ['DIRECTORY', 'OLD', 'NEW', 'KIND'],
        rows.map((d) => [d.path, formatBytes(d.oldBytes), formatBytes(d.newBytes), d.category]),
      ).trimEnd(),
    );
  };
  section('What the new image dropped:', c.dropped);
  section('What the new image added:', c.added);
  return `${out.join('\n')}\n`;
}

async function load(name: string, store: Store, platform: string | undefined): Promise<ComparedImage> {
  return withImageArgument(name, store, platform ? { platform } : {}, async (image) => ({
    name,
    ...(await analyzeImageWithFiles(image)),
  }));
}

/** `strata compare OLD NEW`: sizes, ratio and layers side by side, and which directories differ. */
export function registerCompareCommand(program: Command): void {
  program
    .command('compare')
    .description('compare two images: size, ratio, layers, and the directories one dropped or added')
    .argument('<old>', 'the first image (a name in the store, oci:DIR, docker-archive:FILE, docker://REF)')
    .argument('<new>', 'the second image')
    .option('--json', 'print the comparison as JSON')
    .option('--top <n>', 'how many directories to list each way', '10')
    .option('--platform <os/arch[/variant]>', 'the platform to pick from multi-platform images')
    .action(
      async (
        oldName: string,
        newName: string,
        options: { json?: boolean; top: string; platform?: string },
        command: Command,
      ) => {
        const store = await storeFor(command);
        const before = await load(oldName, store, options.platform);
        const after = await load(newName, store, options.platform);
        const comparison = compareImages(before, after, { limit: Number(options.top) || 10 });
        if (options.json)
          process.stdout.write(
            `${JSON.stringify(comparison, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`,
          );
        else process.stdout.write(formatComparison(comparison));
      },
    );
}
