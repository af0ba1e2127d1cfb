import { createRequire } from 'node:module';
import { nativeCalls } from './native.ts';

/** The xattr calls strata makes: strata's own addon's, or @napi-rs/xattr's when that is not built. */
interface XattrCalls {
  list(path: string): string[];
  get(path: string, name: string): Buffer | null;
  set(path: string, name: string, value: Buffer): void;
}

let loaded: XattrCalls | undefined;

/**
 * Loaded on first use: a cached rebuild (which reads no xattr: unchanged files are not checksummed
 * again) need not pay for it. strata's own addon (native/strata_native.c) is preferred: it is
 * loaded anyway for mounts, where @napi-rs/xattr's loader costs ~3 ms of a one-file rebuild.
 */
function xattr(): XattrCalls {
  if (loaded) return loaded;
  const native = nativeCalls();
  if (native?.llistxattr && native.lgetxattr && native.lsetxattr) {
    loaded = { list: native.llistxattr, get: native.lgetxattr, set: native.lsetxattr };
  } else {
    const napi = createRequire(import.meta.url)('@napi-rs/xattr') as typeof import('@napi-rs/xattr');
    loaded = {
      list: (path) => napi.listAttributesSync(path),
      get: (path, name) => napi.getAttributeSync(path, name),
      set: (path, name, value) => napi.setAttributeSync(path, name, value),
    };
  }
  return loaded;
}

/** The names of a file's extended attributes (the link itself for a symlink). */
export function listAttributesSync(path: string): string[] {
  return xattr().list(path);
}

/** An extended attribute's value, or null when it is not set. */
export function getAttributeSync(path: string, name: string): Buffer | null {
  return xattr().get(path, name);
}

/** Sets an extended attribute. */
export function setAttributeSync(path: string, name: string, value: Uint8Array | string): void {
  xattr().set(
    path,
    name,
    typeof value === 'string'
      ? Buffer.from(value)
      : Buffer.from(value.buffer, value.byteOffset, value.byteLength),
  );
}
