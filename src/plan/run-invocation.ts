import { chompHeredoc, parseHeredocWord } from '../dockerfile/index.ts';
import { DEFAULT_SHELL } from '../oci/index.ts';
import type { RunStep } from './build-graph.ts';

/** What a RUN step executes once its heredocs are applied. */
export interface RunInvocation {
  /** The process arguments (shell included for shell form). */
  readonly args: readonly string[];
  /**
   * A heredoc that starts with `#!` is written to this file (mode 0755) and executed instead of
   * being fed to the shell; BuildKit mounts it read-only under /dev/pipes/.
   */
  readonly script?: { readonly path: string; readonly content: string };
}

/**
 * The arguments a RUN step runs, as BuildKit's dispatchRun builds them: exec form as is; shell
 * form through `shell`; a lone heredoc (`RUN <<EOF`) becomes the shell script itself (or, with a
 * `#!` line, a script file); other heredocs are appended to the command for the shell to read.
 */
export function runInvocation(
  step: RunStep,
  shell: readonly string[] = step.activeShell ?? DEFAULT_SHELL,
): RunInvocation {
  if (step.command.form === 'exec') return { args: step.command.args };
  let text = step.command.text;
  let script: RunInvocation['script'];
  if (step.heredocs.length > 0) {
    const first = step.heredocs[0]!;
    if (parseHeredocWord(text) !== undefined) {
      const data = first.chomp ? chompHeredoc(first.content) : first.content;
      if (data.startsWith('#!')) {
        const path = `/dev/pipes/${first.name}`;
        script = { path, content: data };
        text = path;
      } else {
        text = data;
      }
    } else {
      for (const heredoc of step.heredocs) text += `\n${heredoc.content}${heredoc.name}`;
    }
  }
  const args = [...shell, text];
  return script === undefined ? { args } : { args, script };
}
