import type { BuildEvent } from './events.ts';
import type { ProgressRenderer, RendererOptions } from './renderer.ts';

/**
 * `--progress=json`: one JSON object per line, exactly the {@link BuildEvent} (the `type` field
 * tells them apart). For tools; the format is documented in src/progress/README.md.
 */
export class JsonRenderer implements ProgressRenderer {
  readonly #options: RendererOptions;

  constructor(options: RendererOptions) {
    this.#options = options;
  }

  emit(event: BuildEvent): void {
    this.#options.stream.write(`${JSON.stringify(event)}\n`);
  }

  close(): void {}
}
