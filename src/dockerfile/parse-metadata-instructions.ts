import { warnDefinitionDescription } from './definition-description.ts';
import {
  parseMaybeJsonToList,
  parseNameValue,
  parseWords,
  splitWhitespace,
} from './instruction-arguments.ts';
import { type InstructionContext, NO_FLAGS } from './instruction-context.ts';
import type {
  ArgDeclaration,
  ArgInstruction,
  EnvInstruction,
  ExposeInstruction,
  KeyValue,
  LabelInstruction,
  MaintainerInstruction,
  StopSignalInstruction,
  UserInstruction,
  VolumeInstruction,
  WorkdirInstruction,
} from './instructions.ts';

/*
 * The instructions that set variables or image metadata: ENV, LABEL, ARG, EXPOSE, USER, WORKDIR,
 * STOPSIGNAL, MAINTAINER and VOLUME (BuildKit's parseEnv, parseLabel, parseArg, …).
 */

/** `ENV <name>=<value> …` or the legacy `ENV <name> <value>`. */
export function parseEnv(c: InstructionContext): EnvInstruction {
  return { ...c.base, kind: 'env', pairs: nameValuePairs(c) };
}

/** `LABEL <name>=<value> …` or the legacy `LABEL <name> <value>`. */
export function parseLabel(c: InstructionContext): LabelInstruction {
  return { ...c.base, kind: 'label', pairs: nameValuePairs(c) };
}

function nameValuePairs(c: InstructionContext): KeyValue[] {
  const { argsOffset, upper } = c;
  c.flags(NO_FLAGS);
  const pairs = c.wrap(argsOffset, () => parseNameValue(c.args, upper, c.source.escapeToken));
  if (pairs.length === 0) throw c.fail(`${upper} requires at least one argument`, argsOffset);
  for (const pair of pairs) {
    if (pair.key === '') throw c.fail(`${upper} names can not be blank`, argsOffset);
  }
  return pairs;
}

/** `ARG <name>[=<default>] …`. */
export function parseArg(c: InstructionContext): ArgInstruction {
  const { argsOffset } = c;
  c.flags(NO_FLAGS);
  const words = parseWords(c.args, c.source.escapeToken);
  if (words.length === 0)
    throw c.fail('ARG requires at least one argument', argsOffset, 'write ARG <name>[=<default>]');
  const declarations: ArgDeclaration[] = words.map((word) => {
    const eq = word.indexOf('=');
    if (eq === -1) return { key: word };
    if (eq === 0) throw c.fail('ARG names can not be blank', argsOffset);
    return { key: word.slice(0, eq), defaultValue: word.slice(eq + 1) };
  });
  warnDefinitionDescription(
    c,
    'ARG',
    declarations.map((d) => d.key),
  );
  return {
    ...c.base,
    kind: 'arg',
    args: declarations,
  };
}

/** `EXPOSE <port>[/<protocol>] …`, sorted as BuildKit sorts them while parsing. */
export function parseExpose(c: InstructionContext): ExposeInstruction {
  c.flags(NO_FLAGS);
  const ports = splitWhitespace(c.args);
  if (ports.length === 0) throw c.fail('EXPOSE requires at least one argument', c.argsOffset);
  return {
    ...c.base,
    kind: 'expose',
    ports: [...ports].sort(),
  };
}

/** `USER <user>[:<group>]`. */
export function parseUser(c: InstructionContext): UserInstruction {
  return { ...c.base, kind: 'user', user: oneArgument(c) };
}

/** `WORKDIR <path>`. */
export function parseWorkdir(c: InstructionContext): WorkdirInstruction {
  return { ...c.base, kind: 'workdir', path: oneArgument(c) };
}

/** `STOPSIGNAL <signal>`. */
export function parseStopSignal(c: InstructionContext): StopSignalInstruction {
  return { ...c.base, kind: 'stopsignal', signal: oneArgument(c) };
}

/** `MAINTAINER <name>`, deprecated (MaintainerDeprecated). */
export function parseMaintainer(c: InstructionContext): MaintainerInstruction {
  const maintainer = oneArgument(c);
  c.warn('MaintainerDeprecated', 'Maintainer instruction is deprecated in favor of using label');
  return { ...c.base, kind: 'maintainer', maintainer };
}

/** The whole argument text of an instruction that takes exactly one argument. */
function oneArgument(c: InstructionContext): string {
  c.flags(NO_FLAGS);
  if (c.args === '') throw c.fail(`${c.upper} requires exactly one argument`, c.argsOffset);
  return c.args;
}

/** `VOLUME <path> …` or `VOLUME ["<path>", …]`. */
export function parseVolume(c: InstructionContext): VolumeInstruction {
  const { argsOffset } = c;
  c.flags(NO_FLAGS);
  const list = c.wrap(argsOffset, () => parseMaybeJsonToList(c.args));
  if (list.words.length === 0) throw c.fail('VOLUME requires at least one argument', argsOffset);
  const volumes = list.words.map((v) => v.trim());
  if (volumes.some((v) => v === '')) throw c.fail('VOLUME specified can not be an empty string', argsOffset);
  return {
    ...c.base,
    kind: 'volume',
    volumes,
    form: list.json ? 'exec' : 'shell',
  };
}
