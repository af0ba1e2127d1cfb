/**
 * A rough reading of a RUN's shell script for lint rules: simple commands split at `&&`, `||`,
 * `;`, `|`, newlines and subshell parentheses, each as words with quotes removed. Not a shell:
 * it never expands anything and only has to recognise commands like `apt-get install -y gcc`.
 */

/** One simple command: its words, quotes removed (`["apt-get", "install", "-y", "gcc"]`). */
export type SimpleCommand = readonly string[];

/** Splits a script into simple commands. Line continuations are joined first. */
export function simpleCommands(script: string): SimpleCommand[] {
  const commands: string[][] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;
  const endWord = () => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    if (words.length > 0) commands.push(words);
    words = [];
  };
  const text = script.replace(/\\\r?\n/g, ' ');
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'" || c === '"') {
      const close = text.indexOf(c, i + 1);
      const end = close < 0 ? text.length : close;
      word += text.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[i + 1];
      inWord = true;
      i++;
    } else if (c === '#' && !inWord) {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl - 1;
    } else if (c === ' ' || c === '\t') endWord();
    else if (c === '\n' || c === ';' || c === '|' || c === '&' || c === '(' || c === ')' || c === '`')
      endCommand();
    else {
      word += c;
      inWord = true;
    }
  }
  endCommand();
  // `sudo`, `env A=b`, `time` and `exec` prefixes do not change what runs.
  return commands.map(stripPrefixes).filter((c) => c.length > 0);
}

function stripPrefixes(words: string[]): string[] {
  let i = 0;
  for (;;) {
    const w = words[i];
    if (w === undefined) break;
    if (
      w === 'sudo' ||
      w === 'time' ||
      w === 'exec' ||
      w === 'env' ||
      w === 'then' ||
      w === 'do' ||
      w === 'else'
    )
      i++;
    else if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(w)) i++;
    else break;
  }
  return words.slice(i);
}

/** The program's base name (`/usr/bin/pip3` → `pip3`). */
export function programOf(command: SimpleCommand): string {
  const first = command[0] ?? '';
  return first.slice(first.lastIndexOf('/') + 1);
}

/** The first word after the program that is not an option (`apt-get -y install x` → `install`). */
export function subcommandOf(command: SimpleCommand): string | undefined {
  return command.slice(1).find((w) => !w.startsWith('-'));
}

/** The non-option words after the subcommand (`apt-get install -y gcc make` → `gcc`, `make`). */
export function operandsOf(command: SimpleCommand): string[] {
  const sub = subcommandOf(command);
  const at = sub === undefined ? command.length : command.indexOf(sub) + 1;
  return command.slice(at).filter((w) => !w.startsWith('-'));
}

/** True when the command has `flag` or `flag=…` among its words. */
export function hasFlag(command: SimpleCommand, ...flags: readonly string[]): boolean {
  return command.some((w) => flags.some((f) => w === f || w.startsWith(`${f}=`)));
}

/** Every non-option word after the program (`rm -rf /a /b` → `/a`, `/b`). */
export function argumentsOf(command: SimpleCommand): string[] {
  return command.slice(1).filter((w) => !w.startsWith('-'));
}
