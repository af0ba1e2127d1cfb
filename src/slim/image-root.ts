import { lstatSync, readdirSync, readFileSync, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { isErrnoException, resolveInRoot } from '../util/index.ts';
import { type ElfInfo, readElf } from './elf.ts';

/**
 * An image's root filesystem, unpacked on this machine, read with the image's own view of paths:
 * every symlink is resolved inside the root (`resolveInRoot`), never on the host.
 */
export class ImageRoot {
  readonly #elf = new Map<string, Promise<ElfInfo | undefined>>();

  /** `dir`: the directory holding the image's merged filesystem (a read-only snapshot view). */
  constructor(readonly dir: string) {}

  /** The host path of image path `path`, symlinks (the last one too, unless `followFinal: false`) resolved in the root. */
  hostPath(path: string, followFinal = true): string {
    return resolveInRoot(this.dir, path, { followFinal });
  }

  /** The image path `path` resolves to (its symlinks followed inside the root). */
  realPath(path: string): string {
    const host = this.hostPath(path);
    return host === this.dir ? '/' : host.slice(this.dir.length);
  }

  /** lstat of the resolved path (symlinks followed), or undefined when nothing is there. */
  stat(path: string): Stats | undefined {
    try {
      return lstatSync(this.hostPath(path));
    } catch (error) {
      if (isErrnoException(error, 'ENOENT') || isErrnoException(error, 'ENOTDIR')) return undefined;
      throw error;
    }
  }

  /** lstat of the path itself (a symlink is reported as one). */
  lstat(path: string): Stats | undefined {
    try {
      return lstatSync(this.hostPath(path, false));
    } catch (error) {
      if (isErrnoException(error, 'ENOENT') || isErrnoException(error, 'ENOTDIR')) return undefined;
      throw error;
    }
  }

  exists(path: string): boolean {
    return this.stat(path) !== undefined;
  }

  isFile(path: string): boolean {
    return this.stat(path)?.isFile() ?? false;
  }

  isDirectory(path: string): boolean {
    return this.stat(path)?.isDirectory() ?? false;
  }

  /** The file's text, or undefined when it is not a regular file. */
  readText(path: string): string | undefined {
    if (!this.isFile(path)) return undefined;
    return readFileSync(this.hostPath(path), 'utf8');
  }

  /** The first `length` bytes of a regular file. */
  readHead(path: string, length: number): Buffer | undefined {
    if (!this.isFile(path)) return undefined;
    const bytes = readFileSync(this.hostPath(path));
    return bytes.subarray(0, length);
  }

  /** Names in a directory (empty when it is not one). */
  list(path: string): string[] {
    if (!this.isDirectory(path)) return [];
    return readdirSync(this.hostPath(path)).sort();
  }

  /** ELF facts of the file (cached), or undefined when it is not an ELF file. */
  elf(path: string): Promise<ElfInfo | undefined> {
    const real = this.realPath(path);
    let info = this.#elf.get(real);
    if (!info) {
      info = this.isFile(real) ? readElf(this.hostPath(real)) : Promise.resolve(undefined);
      this.#elf.set(real, info);
    }
    return info;
  }

  /**
   * The program a command name runs, as execvp(3) finds it: a name with a slash is taken
   * relative to `cwd`; a bare name is looked up in `PATH`'s directories.
   */
  which(name: string, env: ReadonlyMap<string, string>, cwd = '/'): string | undefined {
    if (name.includes('/')) {
      const path = posix.resolve(cwd, name);
      return this.isFile(path) ? path : undefined;
    }
    const dirs = (env.get('PATH') ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(
      ':',
    );
    for (const dir of dirs) {
      if (!dir) continue;
      const path = posix.join(posix.resolve(cwd, dir), name);
      const stat = this.stat(path);
      if (stat?.isFile() && (stat.mode & 0o111) !== 0) return path;
    }
    return undefined;
  }

  /** `#!interpreter arg` of a script, split in words; undefined when the file has none. */
  shebang(path: string): string[] | undefined {
    const head = this.readHead(path, 256);
    if (!head || head[0] !== 0x23 || head[1] !== 0x21) return undefined;
    const line = head.toString('latin1').slice(2).split('\n')[0] ?? '';
    const words = line.trim().split(/\s+/).filter(Boolean);
    return words.length > 0 ? words : undefined;
  }
}

/** `KEY=value` entries as a map (the last one wins). */
export function envMap(env: readonly string[] | undefined): Map<string, string> {
  const map = new Map<string, string>();
  for (const entry of env ?? []) {
    const eq = entry.indexOf('=');
    if (eq > 0) map.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return map;
}
