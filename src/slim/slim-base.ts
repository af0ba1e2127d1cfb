import { parseReference, type Reference } from '../reference/index.ts';
import type { ImageRoot } from './image-root.ts';

/** What /etc/os-release says about an image's distribution. */
export interface OsRelease {
  readonly id: string;
  readonly versionId?: string;
  readonly codename?: string;
}

/** Reads /etc/os-release (or /usr/lib/os-release). */
export function readOsRelease(root: ImageRoot): OsRelease | undefined {
  const text = root.readText('/etc/os-release') ?? root.readText('/usr/lib/os-release');
  if (text === undefined) return undefined;
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) fields.set(m[1]!, m[2]!.replace(/^"(.*)"$/, '$1'));
  }
  const id = fields.get('ID');
  if (!id) return undefined;
  const versionId = fields.get('VERSION_ID');
  const codename = fields.get('VERSION_CODENAME');
  return { id, ...(versionId ? { versionId } : {}), ...(codename ? { codename } : {}) };
}

const DEBIAN_CODENAMES = ['buster', 'bullseye', 'bookworm', 'trixie', 'forky', 'sid'];

/**
 * The `-slim` variant of an official Node or Python image, by the Docker Official Images'
 * naming: node puts `-slim` after the distribution (`node:20-bookworm` → `node:20-bookworm-slim`,
 * `node:20` → `node:20-slim`); python before it (`python:3.12-bookworm` →
 * `python:3.12-slim-bookworm`, `python:3.12` → `python:3.12-slim`). Undefined when the image is
 * not one of them; the tag itself when it is already slim or Alpine-based.
 */
export function slimVariantOf(
  base: Reference,
): { readonly name: string; readonly already: boolean } | undefined {
  if (base.domain !== 'docker.io' || base.digest !== undefined) return undefined;
  const repo = base.path.replace(/^library\//, '');
  if (repo !== 'node' && repo !== 'python') return undefined;
  const tag = base.tag ?? 'latest';
  if (/(^|-)slim(-|$)|alpine/.test(tag)) return { name: `${repo}:${tag}`, already: true };
  const parts = tag.split('-');
  const last = parts[parts.length - 1]!;
  const distro = DEBIAN_CODENAMES.includes(last) ? last : undefined;
  if (tag === 'latest') return { name: `${repo}:slim`, already: false };
  if (!distro) return { name: `${repo}:${tag}-slim`, already: false };
  if (repo === 'node') return { name: `${repo}:${tag}-slim`, already: false };
  const version = parts.slice(0, -1).join('-');
  return { name: `${repo}:${version ? `${version}-` : ''}slim-${distro}`, already: false };
}

/** The smallest image of the same Debian or Ubuntu release (`debian:bookworm-slim`), if known. */
export function slimDistroImage(os: OsRelease | undefined): string | undefined {
  if (!os) return undefined;
  if (os.id === 'debian') {
    if (os.codename) return `debian:${os.codename}-slim`;
    if (os.versionId) return `debian:${os.versionId}-slim`;
  }
  // Ubuntu's images are minimal already: the same release is the slimmest.
  if (os.id === 'ubuntu' && os.versionId) return `ubuntu:${os.versionId}`;
  return undefined;
}

/**
 * The final base written with the builder's own ARGs when the builder's FROM used them
 * (`FROM node:${NODE_VERSION}-bookworm` → `FROM node:${NODE_VERSION}-bookworm-slim`), so the rewrite
 * stays parameterised the same way. Returns `final` itself when no such form expands to it.
 */
export function parameterizedName(
  rawFrom: string,
  final: string,
  globalArgs: readonly { readonly name: string; readonly value: string }[],
): string {
  if (!rawFrom.includes('$')) return final;
  const expand = (text: string) =>
    text.replace(
      /\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g,
      (_, name: string) => globalArgs.find((a) => a.name === name)?.value ?? '',
    );
  const distro = DEBIAN_CODENAMES.join('|');
  const candidates = [
    `${rawFrom}-slim`,
    rawFrom.replace(new RegExp(`-(${distro})$`), '-slim-$1'),
    rawFrom.replace(/:latest$/, ':slim'),
  ];
  const same = (a: string, b: string) => {
    try {
      return parseReference(a).toString() === parseReference(b).toString();
    } catch {
      return false;
    }
  };
  return candidates.find((c) => c !== rawFrom && same(expand(c), final)) ?? final;
}
