import type { StageImage } from './image-state.ts';

/** BuildKit's `comment` on every history entry the Dockerfile frontend writes. */
export const HISTORY_COMMENT = 'buildkit.dockerfile.v0';

/**
 * Adds a history entry the way BuildKit's `commitToHistory` does: steps that run something
 * (RUN, COPY, ADD, WORKDIR) get ` # buildkit` appended; `empty_layer` marks config-only steps.
 */
export function commitToHistory(
  image: StageImage,
  options: { createdBy: string; withLayer: boolean; ran?: boolean; created?: string },
): void {
  image.history.push({
    ...(options.created !== undefined ? { created: options.created } : {}),
    created_by: options.ran ? `${options.createdBy} # buildkit` : options.createdBy,
    comment: HISTORY_COMMENT,
    ...(options.withLayer ? {} : { empty_layer: true }),
  });
}

/**
 * RUN's history text (BuildKit's runCommandString): `|N K=V … <args>` when build args are in scope,
 * each shown with the value the step sees.
 */
export function runCommandString(
  args: readonly string[],
  buildArgs: readonly { name: string; value?: string }[],
  lookup: (key: string) => string | undefined,
): string {
  const entries: string[] = [];
  const index = new Map<string, number>();
  for (const arg of buildArgs) {
    const value = lookup(arg.name) ?? arg.value ?? '';
    const entry = `${arg.name}=${value}`;
    const at = index.get(arg.name);
    if (at !== undefined) entries[at] = entry;
    else {
      index.set(arg.name, entries.length);
      entries.push(entry);
    }
  }
  const prefix = entries.length > 0 ? [`|${entries.length}`, ...entries] : [];
  return [...prefix, ...args].join(' ');
}
