import { posix } from 'node:path';
import type { ElfInfo } from './elf.ts';
import type { ImageRoot } from './image-root.ts';

/** A library the dynamic loader would load, where it found it in the image. */
export interface ResolvedLibrary {
  readonly soname: string;
  /** The path in the search directory the loader would open (may be a symlink). */
  readonly path: string;
  /** That path with its symlinks resolved. */
  readonly realPath: string;
  /** Who needs it (the first object found to name it). */
  readonly neededBy: string;
}

/** What loading an ELF program takes: its interpreter and every library, transitively. */
export interface LibraryClosure {
  readonly interpreter?: string;
  readonly libraries: readonly ResolvedLibrary[];
  /** Sonames named by some object but found nowhere the loader would look. */
  readonly missing: readonly { soname: string; neededBy: string }[];
}

/** The loader's search directories from /etc/ld.so.conf (and its `include`s), in order. */
export function ldSoConfDirs(root: ImageRoot): string[] {
  const dirs: string[] = [];
  const seen = new Set<string>();
  const readConf = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const raw of (root.readText(path) ?? '').split('\n')) {
      const line = raw.replace(/#.*/, '').trim();
      if (!line) continue;
      if (line.startsWith('include ')) {
        const pattern = line.slice('include '.length).trim();
        const dir = posix.dirname(pattern);
        const re = new RegExp(
          `^${posix
            .basename(pattern)
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '.*')
            .replace(/\?/g, '.')}$`,
        );
        for (const name of root.list(dir)) if (re.test(name)) readConf(posix.join(dir, name));
      } else dirs.push(line);
    }
  };
  readConf('/etc/ld.so.conf');
  return dirs;
}

const DEFAULT_DIRS = ['/lib', '/usr/lib', '/lib64', '/usr/lib64'];

/**
 * Resolves the libraries an ELF object needs the way glibc's ld.so searches (ld.so(8)): DT_RPATH
 * when there is no DT_RUNPATH, LD_LIBRARY_PATH, DT_RUNPATH, the ld.so.conf directories, then the
 * default directories; `$ORIGIN` is the object's own directory. Libraries' own needs are resolved
 * too, each soname once.
 */
export async function libraryClosure(
  root: ImageRoot,
  program: string,
  env: ReadonlyMap<string, string>,
): Promise<LibraryClosure> {
  const first = await root.elf(program);
  if (!first) return { libraries: [], missing: [] };
  const confDirs = ldSoConfDirs(root);
  const ldLibraryPath = (env.get('LD_LIBRARY_PATH') ?? '').split(':').filter(Boolean);
  const libraries: ResolvedLibrary[] = [];
  const missing: { soname: string; neededBy: string }[] = [];
  const done = new Set<string>();
  const queue: { path: string; elf: ElfInfo }[] = [{ path: program, elf: first }];
  while (queue.length > 0) {
    const { path, elf } = queue.shift()!;
    const origin = posix.dirname(root.realPath(path));
    const expand = (dir: string) => dir.replace(/\$\{?ORIGIN\}?/g, origin);
    const dirs = [
      ...(elf.runpath.length === 0 ? elf.rpath.map(expand) : []),
      ...ldLibraryPath,
      ...elf.runpath.map(expand),
      ...confDirs,
      ...DEFAULT_DIRS,
    ];
    for (const soname of elf.needed) {
      if (done.has(soname)) continue;
      done.add(soname);
      const found = soname.includes('/')
        ? root.isFile(soname)
          ? soname
          : undefined
        : dirs.map((d) => posix.join(d, soname)).find((p) => root.isFile(p));
      if (!found) {
        missing.push({ soname, neededBy: path });
        continue;
      }
      libraries.push({ soname, path: found, realPath: root.realPath(found), neededBy: path });
      const lib = await root.elf(found);
      if (lib) queue.push({ path: found, elf: lib });
    }
  }
  return { ...(first.interpreter ? { interpreter: first.interpreter } : {}), libraries, missing };
}
