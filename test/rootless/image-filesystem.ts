/**
 * An image's filesystem as its layers make it, normalized for comparison: each path's type,
 * permission bits, uid, gid, content digest (regular files), link target or device number, and
 * xattrs — no times. Layers are applied in order with the OCI whiteout rules (image-spec
 * layer.md, "Whiteouts"), read from a store's blobs with strata's own tar parser.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDecompressed, TarParser } from '../../src/archive/index.ts';

/** path → normalized description of one node. */
export type FileSystemListing = Map<string, string>;

function blobPath(store: string, digest: string): string {
  const [algorithm, hex] = digest.split(':') as [string, string];
  return join(store, 'blobs', algorithm, hex);
}

/** The manifest digest of `name` in the store's index.json (`org.opencontainers.image.ref.name`). */
export function imageDigest(store: string, name: string): string {
  const index = JSON.parse(readFileSync(join(store, 'index.json'), 'utf8')) as {
    manifests: Array<{ digest: string; annotations?: Record<string, string> }>;
  };
  const found = index.manifests.find(
    (m) =>
      m.annotations?.['org.opencontainers.image.ref.name'] === name ||
      m.annotations?.['io.containerd.image.name'] === `docker.io/library/${name}`,
  );
  if (!found) throw new Error(`${name} is not in ${store}`);
  return found.digest;
}

/** The layer digests of the image `name` in `store`. */
export function imageLayers(store: string, name: string): string[] {
  const manifest = JSON.parse(readFileSync(blobPath(store, imageDigest(store, name)), 'utf8')) as {
    layers: Array<{ digest: string }>;
  };
  return manifest.layers.map((l) => l.digest);
}

interface LayerEntry {
  readonly path: string;
  readonly description: string;
}

/** The entries of one layer blob, with content digests. */
async function readLayer(file: string): Promise<LayerEntry[]> {
  const entries: LayerEntry[] = [];
  let current: { path: string; head: string; hash?: ReturnType<typeof createHash> } | undefined;
  const parser = new TarParser({
    entry(header) {
      const path = header.path.replace(/^\.?\//, '').replace(/\/$/, '');
      const xattrs = [...header.xattrs.entries()]
        .map(([k, v]) => `${k}=${v.toString('hex')}`)
        .sort()
        .join(',');
      const base = `${header.type} ${(header.mode & 0o7777).toString(8)} ${header.uid}:${header.gid}${xattrs ? ` xattrs[${xattrs}]` : ''}`;
      const head =
        header.type === 'symlink' || header.type === 'link'
          ? `${base} -> ${header.linkpath.replace(/^\.?\//, '')}`
          : header.type === 'char' || header.type === 'block'
            ? `${base} ${header.devmajor},${header.devminor}`
            : base;
      current = { path, head, ...(header.type === 'file' ? { hash: createHash('sha256') } : {}) };
    },
    data(chunk) {
      current?.hash?.update(chunk);
    },
    entryEnd() {
      if (!current) return;
      const description = current.hash
        ? `${current.head} sha256:${current.hash.digest('hex')}`
        : current.head;
      entries.push({ path: current.path, description });
      current = undefined;
    },
  });
  for await (const chunk of openDecompressed(createReadStream(file))) parser.write(chunk as Buffer);
  return entries;
}

/** The image's merged filesystem, normalized ({@link FileSystemListing}). */
export async function imageFilesystem(store: string, name: string): Promise<FileSystemListing> {
  const fs: FileSystemListing = new Map();
  const removeUnder = (dir: string) => {
    for (const path of [...fs.keys()]) if (path.startsWith(`${dir}/`)) fs.delete(path);
  };
  for (const digest of imageLayers(store, name)) {
    for (const { path, description } of await readLayer(blobPath(store, digest))) {
      const slash = path.lastIndexOf('/');
      const dir = slash < 0 ? '' : path.slice(0, slash);
      const base = path.slice(slash + 1);
      if (base === '.wh..wh..opq') {
        if (dir === '') fs.clear();
        else removeUnder(dir);
        continue;
      }
      if (base.startsWith('.wh.')) {
        const gone = dir === '' ? base.slice(4) : `${dir}/${base.slice(4)}`;
        fs.delete(gone);
        removeUnder(gone);
        continue;
      }
      if (path === '') continue; // the layer's root entry
      if (!description.startsWith('directory')) removeUnder(path);
      fs.set(path, description);
    }
  }
  return fs;
}

/** The paths whose descriptions differ between two listings (`path: a | b`), sorted. */
export function listingDifferences(a: FileSystemListing, b: FileSystemListing): string[] {
  const out: string[] = [];
  for (const path of new Set([...a.keys(), ...b.keys()])) {
    const left = a.get(path);
    const right = b.get(path);
    if (left !== right) out.push(`${path}: ${left ?? '(none)'} | ${right ?? '(none)'}`);
  }
  return out.sort();
}

/** sha256 over the sorted listing: one value to print and compare. */
export function listingDigest(listing: FileSystemListing): string {
  const hash = createHash('sha256');
  for (const path of [...listing.keys()].sort()) hash.update(`${path}\0${listing.get(path)}\n`);
  return `sha256:${hash.digest('hex')}`;
}
