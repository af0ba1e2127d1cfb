import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { cleanPath, isErrnoException } from '../util/index.ts';
import { InvalidIgnorePatternError } from './errors.ts';
import { goTrimSpace } from './go-strings.ts';
import { InvalidPatternError, PatternMatcher } from './pattern-matcher.ts';

/** One pattern read from an ignore file, with the line it came from. */
export interface IgnoreRule {
  /** The normalised pattern, `!` kept: what patternmatcher is given. */
  readonly pattern: string;
  /** 1-based line in the file. */
  readonly line: number;
}

/**
 * Reads the patterns of a `.dockerignore` the way moby/patternmatcher's `ignorefile.ReadAll`
 * does: a UTF-8 BOM is dropped; a line whose first character is `#` is a comment (`  #x` is a
 * pattern); each line is trimmed and blank lines skipped; after an optional `!` (itself followed
 * by optional spaces) the pattern is cleaned like Go's `filepath.Clean` and one leading `/` is
 * removed, so `/a/./b/` and `a/b` are the same pattern. Lines end at `\n`, and a `\r` before it
 * is dropped, as Go's line scanner does.
 */
export function parseIgnoreFile(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const lines = source.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((rawLine, index) => {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.startsWith('#')) return;
    let pattern = goTrimSpace(line);
    if (pattern === '') return;
    const invert = pattern.startsWith('!');
    if (invert) pattern = goTrimSpace(pattern.slice(1));
    if (pattern.length > 0) {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    if (invert) pattern = `!${pattern}`;
    rules.push({ pattern, line: index + 1 });
  });
  return rules;
}

/**
 * Compiles ignore-file text into a {@link PatternMatcher}. A malformed pattern (`[`, `!` alone,
 * a bad character class) throws {@link InvalidIgnorePatternError} naming `file:line`.
 */
export function compileIgnoreFile(text: string, file = '.dockerignore'): PatternMatcher {
  const rules = parseIgnoreFile(text);
  try {
    return PatternMatcher.compile(rules.map((r) => r.pattern));
  } catch (error) {
    if (error instanceof InvalidPatternError) {
      const rule = rules[error.index]!;
      throw new InvalidIgnorePatternError(rule.pattern, error.message, {
        location: { file, line: rule.line },
        hint: 'patterns use Go filepath.Match syntax plus **; escape a literal [ as \\[',
      });
    }
    throw error;
  }
}

/**
 * Compiles COPY/ADD `--exclude` patterns (given straight to patternmatcher, as BuildKit does, with
 * no ignore-file normalisation). Throws {@link InvalidIgnorePatternError}.
 */
export function compileExcludePatterns(patterns: readonly string[], where = '--exclude'): PatternMatcher {
  try {
    return PatternMatcher.compile(patterns);
  } catch (error) {
    if (error instanceof InvalidPatternError)
      throw new InvalidIgnorePatternError(error.pattern, `${where}: ${error.message}`);
    throw error;
  }
}

/** The ignore file that applies to a build, and its compiled patterns. */
export interface LoadedIgnoreFile {
  /** Absolute path of the file that was read, or undefined when there is none. */
  readonly file: string | undefined;
  /** The compiled patterns (empty when there is no file). */
  readonly matcher: PatternMatcher;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isErrnoException(error, 'ENOENT') || isErrnoException(error, 'ENOTDIR')) return undefined;
    throw error;
  }
}

/**
 * Finds and compiles the ignore file for a build as BuildKit does: `<Dockerfile name>.dockerignore`
 * next to the Dockerfile (e.g. `build/app.Dockerfile.dockerignore`) takes precedence over
 * `.dockerignore` in the context root. No file means nothing is excluded.
 */
export async function loadIgnoreFile(options: {
  readonly contextDir: string;
  readonly dockerfile?: string;
}): Promise<LoadedIgnoreFile> {
  const candidates: string[] = [];
  if (options.dockerfile !== undefined)
    candidates.push(join(dirname(options.dockerfile), `${basename(options.dockerfile)}.dockerignore`));
  candidates.push(join(options.contextDir, '.dockerignore'));
  for (const file of candidates) {
    const text = await readIfExists(file);
    if (text !== undefined) return { file, matcher: compileIgnoreFile(text, file) };
  }
  return { file: undefined, matcher: PatternMatcher.compile([]) };
}
