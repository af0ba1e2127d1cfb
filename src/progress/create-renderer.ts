import { nullSink } from './events.ts';
import { JsonRenderer } from './json-renderer.ts';
import { PlainRenderer } from './plain-renderer.ts';
import { RawJsonRenderer } from './rawjson-renderer.ts';
import type { ProgressMode, ProgressRenderer, RendererOptions } from './renderer.ts';
import { TtyRenderer } from './tty-renderer.ts';

/**
 * The renderer for a `--progress` mode. `auto` is `tty` when the stream is a terminal and `CI` is
 * unset, otherwise `plain` (BuildKit's rule); `quiet` and `none` print nothing.
 */
export function createRenderer(mode: ProgressMode, options: RendererOptions): ProgressRenderer {
  const env = options.env ?? process.env;
  const resolved = mode === 'auto' ? (options.stream.isTTY === true && !env.CI ? 'tty' : 'plain') : mode;
  switch (resolved) {
    case 'tty':
      return new TtyRenderer(options);
    case 'plain':
      return new PlainRenderer(options);
    case 'json':
      return new JsonRenderer(options);
    case 'rawjson':
      return new RawJsonRenderer(options);
    case 'quiet':
    case 'none':
      return { emit: nullSink.emit, close: () => undefined };
    default: {
      const unknown: never = resolved;
      return unknown;
    }
  }
}
