import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import {
  AnalyzeThresholdError,
  analyzeImageWithFiles,
  attributeBytes,
  type CiThresholds,
  DIVE_CI_DEFAULTS,
  evaluateThresholds,
  type HtmlReportInput,
  type ImageAnalysis,
  imageFromReader,
  isDisabledThreshold,
  parseByteSize,
  parseRatio,
  renderHtmlReport,
  shortCreatedBy,
  type ThresholdResult,
} from '../analyze/index.ts';
import { imageReaderFor } from '../api/copy.ts';
import { withRegistryPool } from '../api/registry-access.ts';
import { parseDockerfile } from '../dockerfile/index.ts';
import { type Image, parsePlatform } from '../oci/index.ts';
import { type BuildGraph, planBuild } from '../plan/index.ts';
import type { Store } from '../store/index.ts';
import { parseImageLocation } from '../transport/index.ts';
import { NotFoundError, writeFileAtomic } from '../util/index.ts';
import { collect, storeFor } from './cli-context.ts';
import { formatBytes, formatTable } from './format.ts';
import { checkOutputFile, writeOutputFile } from './output-file.ts';

export { formatAttribution } from './format-attribution.ts';

import { parseBuildArgs } from './stages.ts';

/**
 * Opens the image an argument names: a transport-qualified location (`oci:dir[:tag]`,
 * `docker-archive:file.tar`, `docker://ref`, `strata:name`) or a bare name in the local store.
 * `use` runs while the source is open (a registry pool is closed afterwards).
 */
export async function withImageArgument<T>(
  text: string,
  store: Store,
  options: { platform?: string },
  use: (image: Image) => Promise<T>,
): Promise<T> {
  const location = parseImageLocation(text, 'strata');
  const platform = options.platform ? parsePlatform(options.platform) : undefined;
  return withRegistryPool({}, async (pool) => {
    const image = await imageFromReader(imageReaderFor(location, pool, store), platform ? { platform } : {});
    return use(image);
  });
}

/** The options `strata analyze` accepts. */
interface AnalyzeCommandOptions {
  json?: boolean;
  ci?: boolean;
  lowestEfficiency?: string;
  highestWastedBytes?: string;
  highestUserWastedPercent?: string;
  maxSize?: string;
  top: string;
  platform?: string;
  html?: string;
  dockerfile?: string;
  target?: string;
  buildArg: string[];
}

/** The thresholds the flags set, on top of dive's CI defaults. */
export function thresholdsFrom(options: AnalyzeCommandOptions): CiThresholds {
  const pick = <K extends keyof CiThresholds>(
    key: K,
    text: string | undefined,
    parse: (t: string) => number,
  ): Partial<CiThresholds> => {
    if (text === undefined)
      return DIVE_CI_DEFAULTS[key] === undefined ? {} : { [key]: DIVE_CI_DEFAULTS[key] };
    return isDisabledThreshold(text) ? {} : { [key]: parse(text) };
  };
  return {
    ...pick('lowestEfficiency', options.lowestEfficiency, (t) => parseRatio(t, '--lowest-efficiency')),
    ...pick('highestWastedBytes', options.highestWastedBytes, (t) =>
      parseByteSize(t, '--highest-wasted-bytes'),
    ),
    ...pick('highestUserWastedPercent', options.highestUserWastedPercent, (t) =>
      parseRatio(t, '--highest-user-wasted-percent'),
    ),
    ...pick('maxSize', options.maxSize, (t) => parseByteSize(t, '--max-size')),
  };
}

function percent(ratio: number): string {
  return Number.isFinite(ratio) ? `${(ratio * 100).toFixed(2)} %` : String(ratio);
}

/** The human report of an analysis. */
export function formatAnalysis(
  name: string,
  analysis: ImageAnalysis,
  checks: readonly ThresholdResult[],
): string {
  const out: string[] = [];
  out.push(`Image: ${name} (${analysis.digest})`);
  out.push('');
  out.push(
    formatTable(
      ['#', 'COMPRESSED', 'SIZE', 'FILES', 'CREATED BY'],
      analysis.layers.map((l) => [
        String(l.index),
        formatBytes(l.compressedSize),
        formatBytes(l.contentSize),
        String(l.fileCount),
        truncate(shortCreatedBy(l.createdBy), 90),
      ]),
    ).trimEnd(),
  );
  out.push('');
  out.push(
    `Total image size:       ${formatBytes(analysis.sizeBytes)} (${formatBytes(analysis.compressedSize)} compressed)`,
  );
  out.push(`Efficiency (dive):      ${percent(analysis.efficiency)}`);
  out.push(
    `Wasted bytes (dive):    ${formatBytes(analysis.wastedBytes)} (${analysis.wastedBytes} bytes; every copy counted)`,
  );
  out.push(`User wasted (dive):     ${percent(analysis.userWastedPercent)}`);
  out.push(
    `Reclaimable (strata):   ${formatBytes(analysis.reclaimableBytes)} (${analysis.reclaimableBytes} bytes never visible in the final filesystem)`,
  );
  if (analysis.wastedPaths.length > 0) {
    out.push('');
    out.push('Wasted space (added, then removed or overwritten by a later layer):');
    out.push(
      formatTable(
        ['BYTES', 'FILES', 'PATH', 'ADDED BY', 'HIDDEN BY'],
        analysis.wastedPaths.map((w) => [
          formatBytes(w.bytes),
          String(w.files),
          w.path,
          `#${w.addedBy.layer} ${truncate(shortCreatedBy(w.addedBy.createdBy), 40)}`,
          `#${w.hiddenBy.layer} ${w.action} by ${truncate(shortCreatedBy(w.hiddenBy.createdBy), 40)}`,
        ]),
      ).trimEnd(),
    );
  }
  out.push('');
  out.push('Largest directories per layer:');
  for (const layer of analysis.layers) {
    if (layer.largestDirectories.length === 0) continue;
    out.push(`  #${layer.index} ${truncate(shortCreatedBy(layer.createdBy), 80)}`);
    for (const d of layer.largestDirectories)
      out.push(`      ${formatBytes(d.bytes).padStart(7)}  ${d.path} (${d.files} files)`);
  }
  if (checks.length > 0) {
    out.push('');
    out.push('CI checks:');
    for (const c of checks)
      out.push(`  ${c.passed ? 'PASS' : 'FAIL'}  ${c.rule}${c.passed ? '' : `: ${c.message}`}`);
  }
  return `${out.join('\n')}\n`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * `strata analyze IMAGE`: dive's efficiency and wasted bytes, strata's reclaimable bytes with the
 * steps that added and hid them, the largest directories per layer; `--ci` gates on thresholds.
 */
export function registerAnalyzeCommand(program: Command): void {
  program
    .command('analyze')
    .description("show where an image's bytes go: efficiency, wasted space, largest directories")
    .argument('<image>', 'a name in the store, or oci:DIR[:TAG], docker-archive:FILE, docker://REF')
    .option('--json', 'print the analysis as JSON')
    .option(
      '--ci',
      "fail (exit 1) when a threshold is crossed (dive's defaults: efficiency 0.9, user wasted 0.1)",
    )
    .option(
      '--lowest-efficiency <ratio>',
      'with --ci: lowest allowed efficiency, 0-1 ("disabled" turns it off)',
    )
    .option('--highest-wasted-bytes <size>', 'with --ci: most wasted bytes allowed (e.g. 20MB)')
    .option(
      '--highest-user-wasted-percent <ratio>',
      'with --ci: most wasted bytes relative to user bytes, 0-1',
    )
    .option('--max-size <size>', 'with --ci: largest allowed image size (e.g. 500MB)')
    .option('--top <n>', 'how many wasted paths to list', '20')
    .option('--platform <os/arch[/variant]>', 'the platform to pick from a multi-platform image')
    .option('--html <file>', 'also write a self-contained HTML report')
    .option('--dockerfile <path>', 'the Dockerfile the image was built from: attributes layers to stages')
    .option('--target <stage>', 'with --dockerfile: the stage that was built')
    .option('--build-arg <key=value>', 'with --dockerfile: a build argument used (repeatable)', collect, [])
    .action(async (name: string, options: AnalyzeCommandOptions, command: Command) => {
      const thresholds = options.ci ? thresholdsFrom(options) : undefined;
      if (options.html) await checkOutputFile(options.html, '--html');
      const store = await storeFor(command);
      const graph = await graphFor(options);
      const { analysis, files, hiddenFiles, attribution } = await withImageArgument(
        name,
        store,
        options,
        async (image) => ({
          ...(await analyzeImageWithFiles(image, { topWasted: Number(options.top) || 20 })),
          attribution: graph ? attributeBytes({ image, graph }) : undefined,
        }),
      );
      const checks = thresholds ? evaluateThresholds(analysis, thresholds) : [];
      if (options.html)
        await writeHtmlReport(options.html, {
          name,
          analysis,
          files,
          hiddenFiles,
          ...(attribution ? { attribution } : {}),
        });
      if (options.json) {
        const json = {
          image: name,
          ...analysis,
          ...(attribution ? { attribution } : {}),
          ...(thresholds ? { ci: { pass: checks.every((c) => c.passed), checks } } : {}),
        };
        process.stdout.write(`${JSON.stringify(json, jsonNumbers, 2)}\n`);
      } else process.stdout.write(formatAnalysis(name, analysis, checks));
      const failures = checks.filter((c) => !c.passed);
      if (failures.length > 0) throw new AnalyzeThresholdError(name, failures);
    });
}

/** JSON has no Infinity or NaN: dive's user wasted percent of an image with one layer becomes null. */
function jsonNumbers(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}

async function writeHtmlReport(path: string, input: HtmlReportInput): Promise<void> {
  await writeOutputFile(path, renderHtmlReport(input), '--html');
  process.stderr.write(`wrote ${path}\n`);
}

/** The build graph a `--dockerfile` names, for attributing layers to stages. */
async function graphFor(options: AnalyzeCommandOptions): Promise<BuildGraph | undefined> {
  if (!options.dockerfile) return undefined;
  let text: string;
  try {
    text = await readFile(options.dockerfile, 'utf8');
  } catch (error) {
    throw new NotFoundError(`cannot read Dockerfile ${options.dockerfile}`, { cause: error });
  }
  return planBuild(parseDockerfile(text, { file: options.dockerfile }), {
    ...(options.target ? { target: options.target } : {}),
    ...(options.buildArg.length > 0 ? { buildArgs: parseBuildArgs(options.buildArg) } : {}),
  });
}
