import { join } from 'node:path';
import { exportRootfsDirectory, exportRootfsTar } from '../export/index.ts';
import type { Store } from '../store/index.ts';
import type { BuildResult } from '../strata.ts';
import { InvalidInputError } from '../util/index.ts';
import type { OutputSpec } from './build-flags.ts';

/** What an exporter reports for `--metadata-file`. */
export interface ExportedOutput {
  readonly key: string;
  readonly value: unknown;
}

/** Sends a built image to one `--output`. */
export async function exportBuildOutput(
  store: Store,
  result: BuildResult,
  output: OutputSpec,
  tags: readonly string[],
): Promise<ExportedOutput | undefined> {
  void tags;
  switch (output.type) {
    case 'image':
    case 'cacheonly':
      return undefined; // the image is already in strata's store under its -t names
    case 'local':
      await exportRootfsDirectory(result.image, output.dest!);
      return { key: 'local.dest', value: output.dest };
    case 'tar':
      await exportRootfsTar(
        result.image,
        output.dest === '-' ? process.stdout : output.dest!,
        join(store.root, 'tmp'),
      );
      return { key: 'tar.dest', value: output.dest };
    default:
      throw new InvalidInputError(`--output type=${output.type} is not wired into strata build yet`);
  }
}
