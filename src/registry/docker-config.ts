import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fsyncDirectory, isErrnoException, StrataError, tempSiblingPath } from '../util/index.ts';

/** Credentials for one registry. Never logged, never put in an error, never stored by strata. */
export interface RegistryCredentials {
  readonly username?: string;
  readonly password?: string;
  /** An OAuth2 refresh token (`identitytoken`, or a helper's `<token>` user): exchanged at the realm. */
  readonly identityToken?: string;
  /** A bearer token to send as is (`registrytoken`). */
  readonly registryToken?: string;
}

/** Looks up credentials for a registry host (`ghcr.io`, `localhost:5000`, `docker.io`). */
export interface CredentialProvider {
  get(host: string, signal?: AbortSignal): Promise<RegistryCredentials | undefined>;
}

/** Thrown when a credential helper fails or a config file is unreadable. */
export class CredentialsError extends StrataError {
  constructor(message: string, options: { cause?: unknown; hint?: string } = {}) {
    super('CREDENTIALS', message, options);
  }
}

/** The key Docker uses for Docker Hub in config.json and for credential helpers. */
export const DOCKER_HUB_CONFIG_KEY = 'https://index.docker.io/v1/';
const HUB_HOSTS = new Set([
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
  'registry.hub.docker.com',
]);

/** The docker config file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker'), 'config.json');
}

/** The containers-auth file podman/skopeo write: `$REGISTRY_AUTH_FILE`, else `$XDG_RUNTIME_DIR/containers/auth.json`. */
export function containersAuthPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.REGISTRY_AUTH_FILE) return env.REGISTRY_AUTH_FILE;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json');
  return undefined;
}

/**
 * A registry host as config files key it, following Docker's `ConvertToHostname`: scheme and path
 * dropped; every Docker Hub alias becomes {@link DOCKER_HUB_CONFIG_KEY}'s host `index.docker.io`.
 */
export function configHostname(key: string): string {
  let host = key.trim().replace(/^[a-z]+:\/\//i, '');
  const slash = host.indexOf('/');
  if (slash !== -1) host = host.slice(0, slash);
  host = host.toLowerCase();
  return HUB_HOSTS.has(host) ? 'index.docker.io' : host;
}

/** The server string Docker stores and passes to helpers for a host: the Hub URL for Docker Hub. */
export function serverKey(host: string): string {
  return configHostname(host) === 'index.docker.io' ? DOCKER_HUB_CONFIG_KEY : host;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** The parts of Docker's config.json strata reads and writes; other fields are preserved. */
export interface DockerConfigFile {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [other: string]: unknown;
}

async function readConfig(path: string): Promise<DockerConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (isErrnoException(error, 'ENOENT')) return undefined;
    throw new CredentialsError(`reading ${path}`, { cause: error });
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new Error('expected a JSON object');
    return value as DockerConfigFile;
  } catch (error) {
    throw new CredentialsError(`${path} is not valid JSON`, { cause: error });
  }
}

function entryCredentials(entry: AuthEntry): RegistryCredentials | undefined {
  let username = entry.username;
  let password = entry.password;
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      username = decoded.slice(0, colon);
      password = decoded.slice(colon + 1);
    }
  }
  const out: { -readonly [K in keyof RegistryCredentials]: RegistryCredentials[K] } = {};
  if (username) out.username = username;
  if (password) out.password = password;
  if (entry.identitytoken) out.identityToken = entry.identitytoken;
  if (entry.registrytoken) out.registryToken = entry.registrytoken;
  return Object.keys(out).length > 0 ? out : undefined;
}

function findEntry(auths: Record<string, AuthEntry> | undefined, host: string): AuthEntry | undefined {
  if (!auths) return undefined;
  const wanted = configHostname(host);
  if (auths[host]) return auths[host];
  for (const [key, entry] of Object.entries(auths)) if (configHostname(key) === wanted) return entry;
  return undefined;
}

/** Runs `docker-credential-<helper> <action>` with `input` on stdin; resolves with stdout. */
export async function runCredentialHelper(
  helper: string,
  action: 'get' | 'store' | 'erase',
  input: string,
  options: { env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { signal } = options;
  if (!/^[A-Za-z0-9._-]+$/.test(helper))
    throw new CredentialsError(`invalid credential helper name ${JSON.stringify(helper)}`);
  const program = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = spawn(program, [action], {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
      ...(signal ? { signal } : {}),
      timeout: 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (error) => {
      reject(
        new CredentialsError(`running credential helper ${program}`, {
          cause: error,
          hint: isErrnoException(error, 'ENOENT')
            ? `install ${program} or remove it from the docker config`
            : undefined,
        } as { cause: unknown; hint?: string }),
      );
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.on('error', () => undefined); // the helper may exit before reading; its exit code says why
    child.stdin.end(input);
  });
}

/**
 * Credentials the way `docker` finds them: `credHelpers[host]`, else `credsStore`, else the
 * `auths` entry (base64 `auth`, or `username`/`password`, `identitytoken`), in
 * `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`; then the containers `auth.json`
 * (`$REGISTRY_AUTH_FILE`) that podman and skopeo use. Results are cached for the process.
 */
export class DockerConfigCredentials implements CredentialProvider {
  readonly #env: NodeJS.ProcessEnv;
  readonly #cache = new Map<string, Promise<RegistryCredentials | undefined>>();

  constructor(options: { env?: NodeJS.ProcessEnv } = {}) {
    this.#env = options.env ?? process.env;
  }

  get(host: string, signal?: AbortSignal): Promise<RegistryCredentials | undefined> {
    const key = configHostname(host);
    let pending = this.#cache.get(key);
    if (!pending) {
      pending = this.#lookup(host, signal);
      this.#cache.set(key, pending);
      pending.catch(() => this.#cache.delete(key));
    }
    return pending;
  }

  async #lookup(host: string, signal?: AbortSignal): Promise<RegistryCredentials | undefined> {
    const config = await readConfig(dockerConfigPath(this.#env));
    if (config) {
      const helper =
        Object.entries(config.credHelpers ?? {}).find(
          ([k]) => configHostname(k) === configHostname(host),
        )?.[1] ?? config.credsStore;
      if (helper) {
        const fromHelper = await helperGet(helper, serverKey(host), {
          env: this.#env,
          ...(signal ? { signal } : {}),
        });
        if (fromHelper) return fromHelper;
      }
      const entry = findEntry(config.auths, host);
      if (entry) {
        const creds = entryCredentials(entry);
        if (creds) return creds;
      }
    }
    const authFile = containersAuthPath(this.#env);
    if (authFile) {
      const containers = await readConfig(authFile);
      const entry = findEntry(containers?.auths, host);
      if (entry) return entryCredentials(entry);
    }
    return undefined;
  }
}

async function helperGet(
  helper: string,
  server: string,
  options: { env?: NodeJS.ProcessEnv; signal?: AbortSignal },
): Promise<RegistryCredentials | undefined> {
  const result = await runCredentialHelper(helper, 'get', server, options);
  if (result.code !== 0) {
    // docker-credential-helpers' "credentials not found" is not an error: fall through.
    if (/not found/i.test(result.stdout + result.stderr)) return undefined;
    throw new CredentialsError(`credential helper docker-credential-${helper} failed (exit ${result.code})`);
  }
  let parsed: { Username?: unknown; Secret?: unknown };
  try {
    parsed = JSON.parse(result.stdout) as { Username?: unknown; Secret?: unknown };
  } catch (error) {
    throw new CredentialsError(`credential helper docker-credential-${helper} printed invalid JSON`, {
      cause: error,
    });
  }
  const username = typeof parsed.Username === 'string' ? parsed.Username : '';
  const secret = typeof parsed.Secret === 'string' ? parsed.Secret : '';
  if (!secret) return undefined;
  // A helper returns an identity token under the user name "<token>" (docker's convention).
  if (username === '<token>') return { identityToken: secret };
  return { username, password: secret };
}

/** Static credentials (from `--creds`, or tests). */
export function staticCredentials(map: Readonly<Record<string, RegistryCredentials>>): CredentialProvider {
  return {
    get: async (host) =>
      map[host] ?? Object.entries(map).find(([k]) => configHostname(k) === configHostname(host))?.[1],
  };
}

/**
 * Saves credentials the way `docker login` does: through `credHelpers[host]` or `credsStore`
 * when configured (leaving an empty `auths` entry), otherwise as base64 `auth` in config.json,
 * written atomically with mode 0600. Other fields of the file are kept.
 */
export async function saveLogin(
  host: string,
  credentials: { username: string; password: string },
  options: { env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {},
): Promise<{ path: string; helper?: string }> {
  const path = dockerConfigPath(options.env);
  const config = (await readConfig(path)) ?? {};
  const server = serverKey(host);
  const helper =
    Object.entries(config.credHelpers ?? {}).find(([k]) => configHostname(k) === configHostname(host))?.[1] ??
    config.credsStore;
  config.auths ??= {};
  for (const key of Object.keys(config.auths))
    if (configHostname(key) === configHostname(host)) delete config.auths[key];
  if (helper) {
    const result = await runCredentialHelper(
      helper,
      'store',
      JSON.stringify({ ServerURL: server, Username: credentials.username, Secret: credentials.password }),
      options,
    );
    if (result.code !== 0)
      throw new CredentialsError(`credential helper docker-credential-${helper} could not store credentials`);
    config.auths[server] = {};
  } else {
    config.auths[server] = {
      auth: Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64'),
    };
  }
  await writeConfig(path, config);
  return helper ? { path, helper } : { path };
}

/** Removes saved credentials for `host` (helper `erase`, and the `auths` entry). False when none were saved. */
export async function removeLogin(
  host: string,
  options: { env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {},
): Promise<boolean> {
  const path = dockerConfigPath(options.env);
  const config = await readConfig(path);
  if (!config) return false;
  let removed = false;
  for (const key of Object.keys(config.auths ?? {})) {
    if (configHostname(key) === configHostname(host)) {
      delete config.auths![key];
      removed = true;
    }
  }
  const helper =
    Object.entries(config.credHelpers ?? {}).find(([k]) => configHostname(k) === configHostname(host))?.[1] ??
    config.credsStore;
  if (helper) {
    const result = await runCredentialHelper(helper, 'erase', serverKey(host), options);
    if (result.code === 0) removed = true;
  }
  if (removed) await writeConfig(path, config);
  return removed;
}

/** Writes config.json atomically with mode 0600 (it may hold credentials), creating its directory. */
async function writeConfig(path: string, config: DockerConfigFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = tempSiblingPath(path);
  try {
    await writeFile(temp, `${JSON.stringify(config, null, '\t')}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(temp, 0o600);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw new CredentialsError(`writing ${path}`, { cause: error });
  }
  await fsyncDirectory(dirname(path));
}
