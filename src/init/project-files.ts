import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrnoException } from '../util/index.ts';

// The detection every generator shares: reading the project's files without failing on what is
// missing, finding its sources, and the port its code listens on.

/** A file's text, or undefined when it is missing (or a directory). */
export async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isErrnoException(error, 'ENOENT') || isErrnoException(error, 'EISDIR')) return undefined;
    throw error;
  }
}

/** True when `path` exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (isErrnoException(error, 'ENOENT')) return false;
    throw error;
  }
}

/** Source files under `dir` with one of `extensions`, skipping vendored and hidden trees; bounded. */
export async function sourceFiles(
  dir: string,
  extensions: readonly string[],
  limit = 400,
): Promise<string[]> {
  const out: string[] = [];
  const skip = new Set([
    'node_modules',
    'vendor',
    'testdata',
    '.git',
    '.venv',
    'venv',
    '__pycache__',
    'dist',
    'build',
  ]);
  const walk = async (rel: string, depth: number): Promise<void> => {
    if (out.length >= limit || depth > 6) return;
    const entries = await readdir(join(dir, rel), { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (e.name.startsWith('.') || skip.has(e.name)) continue;
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path, depth + 1);
      else if (e.isFile() && extensions.some((x) => e.name.endsWith(x))) out.push(path);
      if (out.length >= limit) return;
    }
  };
  await walk('', 0);
  return out;
}

/** The first port number `pattern` finds in the project's sources, else `fallback`. */
export async function detectPort(
  dir: string,
  files: readonly string[],
  pattern: RegExp,
  fallback: number,
): Promise<{ port: number; found: boolean }> {
  for (const f of files.slice(0, 100)) {
    const m = ((await readText(join(dir, f))) ?? '').match(pattern);
    const port = m?.[1] ? Number(m[1]) : Number.NaN;
    if (port > 0 && port < 65536) return { port, found: true };
  }
  return { port: fallback, found: false };
}
