import { posix } from 'node:path';
import { envFrom, ShellLexer, type SourceRange } from '../../dockerfile/index.ts';
import type { RunStep, Stage } from '../../plan/index.ts';
import { StrataError } from '../../util/index.ts';
import { type SimpleCommand, simpleCommands } from './shell-commands.ts';
import { normalizeCommand } from './tool-commands.ts';

/** How a rule reports a finding: rule id, where, what is wrong, how to fix it, in which stage. */
export type Report = (id: string, range: SourceRange, message: string, fix: string, stage?: Stage) => void;

/** The RUN's script: its command text plus any heredoc bodies. */
export function runScript(step: RunStep): string {
  const command = step.command.form === 'shell' ? step.command.text : step.command.args.join(' ');
  return [command, ...step.heredocs.map((h) => h.content)].join('\n');
}

/** The RUN's simple commands, `python -m pip` read as `pip`. */
export function runCommands(step: RunStep): SimpleCommand[] {
  return simpleCommands(runScript(step)).map(normalizeCommand);
}

/** Whether the RUN mounts a cache (or a tmpfs: nothing written there stays) whose target matches. */
export function hasCacheMount(step: RunStep, targetMatch?: RegExp): boolean {
  return step.mounts.some(
    (m) =>
      (m.type === 'cache' || (targetMatch !== undefined && m.type === 'tmpfs')) &&
      (!targetMatch || targetMatch.test(posix.normalize(m.target))),
  );
}

const lexer = new ShellLexer({ escapeToken: '\\' });

/**
 * A word of a RUN's script with the ARG and ENV values the step sees substituted (`yarn-v$V.tgz`
 * → `yarn-v1.22.tgz`), as the shell would; the word itself when it does not expand.
 */
export function expandRunWord(step: RunStep, word: string): string {
  if (!word.includes('$')) return word;
  try {
    return lexer.processWord(word, envFrom(step.env.map((v) => [v.name, v.value] as const)));
  } catch (error) {
    if (error instanceof StrataError) return word; // not a word the lexer reads: leave it
    throw error;
  }
}
