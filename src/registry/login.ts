import type { CredentialProvider } from './docker-config.ts';
import { RegistryClient, type RegistryClientOptions } from './registry-client.ts';

/**
 * Checks that `credentials` are accepted by the registry at `host` (as `docker login` does):
 * `GET /v2/` and answer its challenge — a token request without scope for Bearer, the header
 * itself for Basic. Throws a RegistryError (REGISTRY_UNAUTHORIZED) when they are refused.
 */
export async function verifyLogin(
  host: string,
  credentials: { username: string; password: string },
  options: Omit<RegistryClientOptions, 'credentials'> & { signal?: AbortSignal } = {},
): Promise<void> {
  const provider: CredentialProvider = { get: async () => credentials };
  const client = new RegistryClient(host, { ...options, credentials: provider });
  try {
    const res = await client.send({
      method: 'GET',
      url: '/v2/',
      scopes: [],
      expect: [200],
      what: `logging in to ${host}`,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    await res.body.dump();
  } finally {
    await client.close();
  }
}
