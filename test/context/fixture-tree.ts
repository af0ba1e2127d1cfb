import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A file tree for the context tests: `path: content` for files, `path -> target` for symlinks. */
export type TreeSpec = Record<string, string | { readonly link: string } | { readonly dir: true }>;

/** Creates `spec` under a new temp directory; returns it and a remover. */
export function makeTree(spec: TreeSpec): { root: string; remove: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'strata-ctx-'));
  for (const [path, value] of Object.entries(spec)) {
    const abs = join(root, path);
    mkdirSync(dirname(abs), { recursive: true });
    if (typeof value === 'string') writeFileSync(abs, value);
    else if ('link' in value) symlinkSync(value.link, abs);
    else mkdirSync(abs, { recursive: true });
  }
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}
