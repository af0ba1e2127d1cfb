import { parseReference } from '../reference/index.ts';
import { configHostname, removeLogin, saveLogin, verifyLogin } from '../registry/index.ts';

/** The registry host a `strata login [server]` argument means: Docker Hub by default; URLs are reduced to host[:port]. */
export function loginHost(server: string | undefined): string {
  if (!server) return parseReference('x').registryHost();
  let host = server.trim().replace(/^[a-z]+:\/\//i, '');
  const slash = host.indexOf('/');
  if (slash !== -1) host = host.slice(0, slash);
  return configHostname(host) === 'index.docker.io' ? parseReference('x').registryHost() : host;
}

/**
 * `strata login [server] -u USER -p PASS`: checks the credentials against the registry (as
 * `docker login` does) and saves them in Docker's config.json (or its credential helper).
 */
export async function login(
  server: string | undefined,
  credentials: { username: string; password: string },
  options: { insecureRegistries?: readonly string[]; env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {},
): Promise<{ host: string; path: string; helper?: string }> {
  const host = loginHost(server);
  await verifyLogin(host, credentials, {
    ...(options.insecureRegistries ? { insecureRegistries: options.insecureRegistries } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const saved = await saveLogin(host, credentials, {
    ...(options.env ? { env: options.env } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { host, ...saved };
}

/** `strata logout [server]`: forgets saved credentials; false when there were none. */
export async function logout(
  server: string | undefined,
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<{ host: string; removed: boolean }> {
  const host = loginHost(server);
  return { host, removed: await removeLogin(host, options.env ? { env: options.env } : {}) };
}
