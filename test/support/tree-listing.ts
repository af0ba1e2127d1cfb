import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** A listing of a tree: path, type, mode, owner, content or link target (no times). */
export function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(rel === '' ? root : join(root, rel)).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const abs = join(root, r);
      const st = lstatSync(abs);
      const what = st.isSymbolicLink()
        ? `-> ${readlinkSync(abs)}`
        : st.isFile()
          ? readFileSync(abs, 'utf8')
          : st.isDirectory()
            ? 'dir'
            : 'other';
      out.push(`${r} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${what}`);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}
