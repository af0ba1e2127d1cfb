import { posix } from 'node:path';
import type { ImageRoot } from './image-root.ts';

/** One installed package, as /var/lib/dpkg/status records it. */
export interface DpkgPackage {
  readonly name: string;
  /** `Package:arch` as dpkg names its info files when Multi-Arch: same (`libc6:amd64`). */
  readonly infoName: string;
  readonly priority?: string;
  readonly essential: boolean;
  readonly installedSize: number;
  /** From apt's extended_states: installed only as another package's dependency. */
  readonly auto: boolean;
}

/**
 * The Debian package database of an image: what is installed (/var/lib/dpkg/status), which
 * package owns a path (/var/lib/dpkg/info/*.list) and what apt installed only as a dependency
 * (/var/lib/apt/extended_states). Paths are compared after merged-/usr's directory symlinks
 * (`/lib` → `/usr/lib`) are applied, because packages list the unmerged paths.
 */
export class DpkgDatabase {
  readonly packages = new Map<string, DpkgPackage>();
  readonly #owners = new Map<string, string[]>();
  readonly #merged: ReadonlyArray<readonly [string, string]>;

  private constructor(root: ImageRoot) {
    this.#merged = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']
      .filter((d) => root.lstat(d)?.isSymbolicLink())
      .map((d) => [d, root.realPath(d)] as const);
  }

  /** The database of the image at `root`, or undefined when it has none (not Debian-based). */
  static read(root: ImageRoot): DpkgDatabase | undefined {
    const status = root.readText('/var/lib/dpkg/status');
    if (status === undefined) return undefined;
    const db = new DpkgDatabase(root);
    const auto = new Set<string>();
    for (const stanza of (root.readText('/var/lib/apt/extended_states') ?? '').split(/\n\n+/)) {
      const fields = parseStanza(stanza);
      if (fields.get('auto-installed') === '1' && fields.get('package')) auto.add(fields.get('package')!);
    }
    for (const stanza of status.split(/\n\n+/)) {
      const fields = parseStanza(stanza);
      const name = fields.get('package');
      if (!name || !/\binstalled$/.test(fields.get('status') ?? '')) continue;
      const arch = fields.get('architecture');
      const infoName = fields.get('multi-arch') === 'same' && arch ? `${name}:${arch}` : name;
      const priority = fields.get('priority');
      db.packages.set(name, {
        name,
        infoName,
        ...(priority ? { priority } : {}),
        essential: fields.get('essential') === 'yes',
        installedSize: Number(fields.get('installed-size') ?? 0) * 1024,
        auto: auto.has(name),
      });
    }
    for (const pkg of db.packages.values()) {
      const list =
        root.readText(`/var/lib/dpkg/info/${pkg.infoName}.list`) ??
        root.readText(`/var/lib/dpkg/info/${pkg.name}.list`) ??
        '';
      for (const line of list.split('\n')) {
        if (!line.startsWith('/')) continue;
        const key = db.canonical(line);
        const owners = db.#owners.get(key);
        if (owners) {
          if (!owners.includes(pkg.name)) owners.push(pkg.name);
        } else db.#owners.set(key, [pkg.name]);
      }
    }
    return db;
  }

  /** The path with merged-/usr's directory symlinks applied (`/lib/x` → `/usr/lib/x`). */
  canonical(path: string): string {
    const clean = posix.normalize(path);
    for (const [from, to] of this.#merged) {
      if (clean === from || clean.startsWith(`${from}/`)) return to + clean.slice(from.length);
    }
    return clean;
  }

  /** The packages that list `path` (after canonicalisation). */
  owners(path: string): readonly string[] {
    return this.#owners.get(this.canonical(path)) ?? [];
  }

  /** Whether a path is a file some package installed. */
  owned(path: string): boolean {
    return this.owners(path).length > 0;
  }

  /**
   * Packages every Debian `-slim` image has: `Essential: yes` and `Priority: required` make up
   * debootstrap's minbase variant, which Docker's debian:*-slim images are built from.
   */
  isInMinbase(name: string): boolean {
    const pkg = this.packages.get(name);
    return !!pkg && (pkg.essential || pkg.priority === 'required');
  }
}

function parseStanza(stanza: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of stanza.split('\n')) {
    if (line.startsWith(' ') || line.startsWith('\t')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  return fields;
}
