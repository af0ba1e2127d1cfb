import { type Dockerfile, DockerfileError } from '../dockerfile/index.ts';
import type { Platform } from '../oci/index.ts';
import { parseReference } from '../reference/index.ts';
import { StrataError } from '../util/index.ts';
import { resolveGlobalArgs } from './global-args.ts';
import { PlanContext } from './plan-context.ts';

/**
 * InvalidDefaultArgInFrom, as BuildKit's validateBaseImagesWithDefaultArgs: every FROM line,
 * expanded with the global ARGs' defaults alone (no `--build-arg`), should still name a valid
 * image, so the Dockerfile builds without arguments. A FROM line that cannot be expanded that way
 * abandons the check, as BuildKit does (the build reports the real error later, if any).
 */
export function warnInvalidDefaultArgInFrom(
  ctx: PlanContext,
  options: {
    readonly dockerfile: Dockerfile;
    readonly buildPlatform: Platform;
    readonly targetPlatform: Platform;
    readonly targetStage: string;
  },
): void {
  const { dockerfile } = options;
  // Planned in a context of its own: defaults only, and nothing it might warn about is kept.
  const defaults = new PlanContext({ file: ctx.file, lexer: ctx.lexer, buildArgs: new Map(), warnings: [] });
  try {
    const globals = resolveGlobalArgs(defaults, options);
    for (const stage of dockerfile.stages) {
      const from = stage.from;
      const base = ctx.lexer.expand(from.image, globals.env).result;
      if (isValidReference(base)) continue;
      ctx.warn(
        'InvalidDefaultArgInFrom',
        `Default value for ARG ${from.image} results in empty or invalid base image name`,
        from.range,
      );
    }
  } catch (error) {
    if (!(error instanceof DockerfileError)) throw error;
    // An expansion error: BuildKit abandons the check; the build proper reports it if it matters.
  }
}

function isValidReference(text: string): boolean {
  try {
    parseReference(text);
    return true;
  } catch (error) {
    if (error instanceof StrataError) return false;
    throw error;
  }
}
