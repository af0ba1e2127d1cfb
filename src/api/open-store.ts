import {
  defaultStoreRoot,
  defaultStoreRootOrigin,
  ensureStoreRoot,
  Store,
  type StoreRootOrigin,
} from '../store/index.ts';

/**
 * Opens the store at `root` (default: `$STRATA_ROOT`, `/var/lib/strata` for root, else XDG). A
 * root that cannot be used fails at once with an error naming the path, where it came from
 * (`origin`: `--root`, `STRATA_ROOT` or the default) and the fix.
 */
export async function openStore(root?: string, origin?: StoreRootOrigin): Promise<Store> {
  const path = root ?? defaultStoreRoot();
  await ensureStoreRoot(path, origin ?? (root === undefined ? defaultStoreRootOrigin() : '--root'));
  return Store.open(path);
}
