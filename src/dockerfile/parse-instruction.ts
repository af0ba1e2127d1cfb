import { extractBuilderFlags } from './builder-flags.ts';
import { DockerfileError } from './dockerfile-error.ts';
import { InstructionContext, type InstructionSource } from './instruction-context.ts';
import { INSTRUCTION_KEYWORDS, type Instruction, type InstructionKind } from './instructions.ts';
import {
  parseCmd,
  parseEntrypoint,
  parseHealthcheck,
  parseRun,
  parseShell,
} from './parse-command-instructions.ts';
import { parseAdd, parseCopy } from './parse-copy-instructions.ts';
import {
  parseArg,
  parseEnv,
  parseExpose,
  parseLabel,
  parseMaintainer,
  parseStopSignal,
  parseUser,
  parseVolume,
  parseWorkdir,
} from './parse-metadata-instructions.ts';
import { parseFrom, parseOnbuild } from './parse-stage-instructions.ts';
import { splitKeyword } from './split-keyword.ts';
import { didYouMean } from './suggest.ts';

/** Types one instruction's arguments (after its flags) into its node. */
type InstructionParser = (c: InstructionContext) => Instruction;

/**
 * Keyword (lowercase) → parser, one per instruction, with BuildKit's argument rules
 * (parser/line_parsers.go, instructions/parse.go).
 */
const PARSERS: Readonly<Record<InstructionKind, InstructionParser>> = {
  from: parseFrom,
  run: parseRun,
  cmd: parseCmd,
  entrypoint: parseEntrypoint,
  shell: parseShell,
  healthcheck: parseHealthcheck,
  copy: parseCopy,
  add: parseAdd,
  env: parseEnv,
  label: parseLabel,
  arg: parseArg,
  expose: parseExpose,
  user: parseUser,
  workdir: parseWorkdir,
  stopsignal: parseStopSignal,
  maintainer: parseMaintainer,
  volume: parseVolume,
  onbuild: parseOnbuild,
};

/**
 * Types one logical line into an {@link Instruction}, with BuildKit's argument rules per keyword
 * (parser/line_parsers.go, instructions/parse.go). Throws {@link DockerfileError} with a location.
 */
export function parseInstruction(
  source: InstructionSource,
  /** For an ONBUILD trigger: its text and where it starts in the logical line. */
  nested?: { readonly text: string; readonly offset: number },
): Instruction {
  const textOffset = nested?.offset ?? 0;
  const text = nested?.text ?? source.text;
  const { keyword, keywordOffset, rest, restOffset } = splitKeyword(text);
  const split = extractBuilderFlags(rest, {
    escapeToken: source.escapeToken,
    baseOffset: textOffset + restOffset,
  });
  const c = new InstructionContext({
    source,
    textOffset,
    text,
    keyword,
    args: split.rest,
    argsOffset: split.restOffset,
    flagWords: split.flags,
    ...(nested === undefined ? {} : { keywordAt: textOffset + keywordOffset }),
    parseTrigger: (triggerText, offset) => parseInstruction(source, { text: triggerText, offset }),
  });
  const kind = keyword.toLowerCase();
  const parse = Object.hasOwn(PARSERS, kind) ? PARSERS[kind as InstructionKind] : undefined;
  if (parse !== undefined) return parse(c);
  throw new DockerfileError(`unknown instruction: ${keyword}`, {
    file: source.file,
    range: c.rangeAt(textOffset + keywordOffset),
    instruction: keyword,
    hint: didYouMean(keyword, INSTRUCTION_KEYWORDS, { caseSensitive: false }),
  });
}
