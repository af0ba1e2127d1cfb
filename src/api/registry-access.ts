import {
  type CredentialProvider,
  DockerConfigCredentials,
  RegistryPool,
  type RetryPolicy,
} from '../registry/index.ts';

/** How API calls reach registries: credentials, insecure hosts, retries. */
export interface RegistryAccess {
  /** Default: Docker's config.json, credential helpers and containers' auth.json. */
  readonly credentials?: CredentialProvider;
  /** Hosts allowed over plain HTTP (loopback hosts always are). */
  readonly insecureRegistries?: readonly string[];
  readonly retry?: Partial<RetryPolicy>;
  /** An existing pool to reuse (its options win); the caller closes it. */
  readonly pool?: RegistryPool;
}

/** A pool for `access`, and whether the caller must close it. */
export function registryPoolFor(access: RegistryAccess = {}): { pool: RegistryPool; owned: boolean } {
  if (access.pool) return { pool: access.pool, owned: false };
  return {
    pool: new RegistryPool({
      credentials: access.credentials ?? new DockerConfigCredentials(),
      ...(access.insecureRegistries ? { insecureRegistries: access.insecureRegistries } : {}),
      ...(access.retry ? { retry: access.retry } : {}),
    }),
    owned: true,
  };
}

/** Runs `fn` with a pool for `access`, closing it afterwards when it was made here. */
export async function withRegistryPool<T>(
  access: RegistryAccess,
  fn: (pool: RegistryPool) => Promise<T>,
): Promise<T> {
  const { pool, owned } = registryPoolFor(access);
  try {
    return await fn(pool);
  } finally {
    if (owned) await pool.close();
  }
}
