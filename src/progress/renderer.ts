import type { ProgressSink } from './events.ts';

/** A sink that writes to a terminal or log; `close()` flushes and draws the final state. */
export interface ProgressRenderer extends ProgressSink {
  close(): void;
}

/** The output stream a renderer writes to (process.stderr, or a test's capture). */
export interface RendererStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
  readonly rows?: number;
}

/**
 * `--progress` values: `auto` picks `tty` on a terminal (and not under `CI`), else `plain`;
 * `rawjson` is BuildKit's solve status as JSON lines, `json` strata's own events; `quiet` and
 * `none` print no progress (for `build`, `quiet` also prints the image ID, as in buildx).
 */
export type ProgressMode = 'auto' | 'tty' | 'plain' | 'rawjson' | 'json' | 'quiet' | 'none';

/** The progress modes, for flag validation and help text. */
export const PROGRESS_MODES: readonly ProgressMode[] = [
  'auto',
  'tty',
  'plain',
  'rawjson',
  'json',
  'quiet',
  'none',
];

/** Options shared by the renderers. */
export interface RendererOptions {
  readonly stream: RendererStream;
  /** Colours on a tty; default: on unless `NO_COLOR` is set (https://no-color.org). */
  readonly color?: boolean;
  /** The clock (tests pin it). */
  readonly now?: () => number;
  readonly env?: NodeJS.ProcessEnv;
}
