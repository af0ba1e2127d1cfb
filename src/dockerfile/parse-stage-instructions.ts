import type { FlagKind } from './builder-flags.ts';
import { warnDefinitionDescription } from './definition-description.ts';
import { splitWhitespace } from './instruction-arguments.ts';
import { type InstructionContext, NO_FLAGS } from './instruction-context.ts';
import type { FromInstruction, OnbuildInstruction } from './instructions.ts';
import { splitKeyword } from './split-keyword.ts';

const FROM_FLAGS: Readonly<Record<string, FlagKind>> = { platform: 'string' };
const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

/** `FROM [--platform=…] <image> [AS <name>]`: the name lowercased, with BuildKit's casing warnings. */
export function parseFrom(c: InstructionContext): FromInstruction {
  const { args, argsOffset, keyword } = c;
  const f = c.flags(FROM_FLAGS);
  const words = splitWhitespace(args);
  let name: string | undefined;
  let nameAsWritten: string | undefined;
  if (words.length === 3 && words[1]!.toLowerCase() === 'as') {
    nameAsWritten = words[2]!;
    name = nameAsWritten.toLowerCase();
    if (!STAGE_NAME.test(name)) {
      throw c.fail(
        `invalid name for build stage: ${JSON.stringify(nameAsWritten)}, name can't start with a number or contain symbols`,
        argsOffset + args.lastIndexOf(nameAsWritten),
        'stage names start with a letter and use only letters, digits, "-", "_" and "."',
      );
    }
    const asWord = words[1]!;
    const fromLower = keyword === keyword.toLowerCase();
    const fromUpper = keyword === keyword.toUpperCase();
    if ((fromLower && asWord !== asWord.toLowerCase()) || (fromUpper && asWord !== asWord.toUpperCase())) {
      c.warn('FromAsCasing', `'${asWord}' and '${keyword}' keywords' casing do not match`);
    }
    if (nameAsWritten !== name)
      c.warn('StageNameCasing', `Stage name '${nameAsWritten}' should be lowercase`);
  } else if (words.length !== 1) {
    throw c.fail('FROM requires either one or three arguments', argsOffset, 'write FROM <image> [AS <name>]');
  }
  if (name !== undefined) warnDefinitionDescription(c, 'FROM', [name]);
  const platform = f.get('platform')?.value;
  return {
    ...c.base,
    kind: 'from',
    image: words[0]!,
    name,
    nameAsWritten,
    platform,
  };
}

/** `ONBUILD <instruction>`: the trigger typed as an instruction of its own, and its text for the image config. */
export function parseOnbuild(c: InstructionContext): OnbuildInstruction {
  const { args, argsOffset, source } = c;
  c.flags(NO_FLAGS);
  if (args === '') throw c.fail('ONBUILD requires at least one argument', argsOffset);
  const triggerKeyword = splitKeyword(args).keyword.toUpperCase();
  if (triggerKeyword === 'ONBUILD') {
    throw c.fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", argsOffset);
  }
  if (triggerKeyword === 'MAINTAINER' || triggerKeyword === 'FROM') {
    throw c.fail(`${triggerKeyword} isn't allowed as an ONBUILD trigger`, argsOffset);
  }
  const trigger = c.parseTrigger(args, argsOffset);
  let expression = c.text.replace(/^\s*ONBUILD\s*/i, '');
  for (const heredoc of source.heredocs) expression += `\n${heredoc.content}${heredoc.name}`;
  return {
    ...c.base,
    kind: 'onbuild',
    expression,
    trigger,
  };
}
