/**
 * dockerfile — the Dockerfile frontend: a parser with BuildKit's syntax and semantics (directives,
 * continuations, JSON/shell forms, heredocs, every instruction and flag as a typed node with its
 * source range), BuildKit's shell-lexer word expansion, and `DockerfileError`, which carries
 * file:line:column. Pure: no I/O. The planner (`src/plan`) applies ARG/ENV scoping on top.
 *
 * parseInstruction types a logical line through a keyword → parser table, one parser per
 * instruction (parse-stage-, parse-command-, parse-copy- and parse-metadata-instructions.ts),
 * each given an InstructionContext.
 */
export * from './builder-flags.ts';
export * from './check-directive.ts';
export * from './chmod-mode.ts';
export * from './dockerfile-error.ts';
export * from './git-ref.ts';
export * from './go-duration.ts';
export { chompHeredoc, parseWords } from './instruction-arguments.ts';
export * from './instructions.ts';
export * from './lint-rules.ts';
export { parseHeredocWord } from './logical-lines.ts';
export * from './parse-dockerfile.ts';
export * from './run-mount.ts';
export * from './shell-lexer.ts';
export * from './source-range.ts';
export * from './suggest.ts';
