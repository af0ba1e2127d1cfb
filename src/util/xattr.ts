import { createRequire } from 'node:module';

type XattrModule = typeof import('@napi-rs/xattr');

let loaded: XattrModule | undefined;

/**
 * `@napi-rs/xattr`, loaded on first use: opening its native addon costs ~3 ms, which a cached
 * rebuild (that reads no xattr: unchanged files are not checksummed again) need not pay.
 */
function xattr(): XattrModule {
  loaded ??= createRequire(import.meta.url)('@napi-rs/xattr') as XattrModule;
  return loaded;
}

/** The names of a file's extended attributes (the link itself for a symlink). */
export function listAttributesSync(path: string): string[] {
  return xattr().listAttributesSync(path);
}

/** An extended attribute's value, or null when it is not set. */
export function getAttributeSync(path: string, name: string): Buffer | null {
  return xattr().getAttributeSync(path, name);
}

/** Sets an extended attribute. */
export function setAttributeSync(path: string, name: string, value: Uint8Array | string): void {
  xattr().setAttributeSync(path, name, value);
}
