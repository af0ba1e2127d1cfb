import { defaultStoreRoot, Store } from '../store/index.ts';

/** Opens the store at `root` (default: `$STRATA_ROOT`, `/var/lib/strata` for root, else XDG). */
export async function openStore(root?: string): Promise<Store> {
  return Store.open(root ?? defaultStoreRoot());
}
