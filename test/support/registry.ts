/**
 * Test helper: a real CNCF Distribution registry (`/usr/bin/docker-registry`, Debian's
 * `docker-registry` package) on 127.0.0.1 with a free port and a temporary storage directory.
 * Reusable by any test: `const reg = await startRegistry(); … await reg.stop();`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { createServer } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';

/** Authentication the test registry enforces. */
export type TestRegistryAuth =
  | { readonly kind: 'none' }
  /** htpasswd with bcrypt entries made by `htpasswd -B` (apache2-utils). */
  | { readonly kind: 'htpasswd'; readonly users: Readonly<Record<string, string>> }
  /** Distribution's token auth: JWTs from `realm`, signed by the key of `certificate`. */
  | {
      readonly kind: 'token';
      readonly realm: string;
      readonly service: string;
      readonly issuer: string;
      readonly certificatePath: string;
    };

/** A running test registry. */
export interface TestRegistry {
  /** `127.0.0.1:<port>` (or the address it listens on): use as the reference domain. */
  readonly host: string;
  readonly port: number;
  /** `http://127.0.0.1:<port>`, or `https://…` when it serves TLS. */
  readonly url: string;
  /** Where the registry keeps blobs (tests may inspect or corrupt it). */
  readonly storage: string;
  stop(): Promise<void>;
}

/** This machine's first non-loopback IPv4 address (where loopback rules do not apply). */
export function externalAddress(): string {
  for (const addresses of Object.values(networkInterfaces()))
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  throw new Error('this machine has no non-loopback IPv4 address');
}

/** A free TCP port on 127.0.0.1 (bind to 0, read, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** One GET; over TLS without verifying the peer (the caller only waits for the server to answer). */
async function probe(url: string): Promise<void> {
  if (!url.startsWith('https:')) {
    await (await fetch(url)).arrayBuffer();
    return;
  }
  await new Promise<void>((resolve, reject) => {
    httpsGet(url, { rejectUnauthorized: false }, (res) =>
      res.resume().on('end', resolve).on('error', reject),
    ).on('error', reject);
  });
}

async function waitForHttp(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`registry exited with ${child.exitCode}: ${stderr()}`);
    try {
      await probe(url);
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`registry did not answer at ${url}: ${stderr()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Starts a registry; stop it in an `after`/`finally` even when the test fails. */
export async function startRegistry(
  options: {
    auth?: TestRegistryAuth;
    /** Where to listen (default 127.0.0.1). */
    address?: string;
    /** Serve HTTPS with this certificate and key (PEM files). */
    tls?: { readonly certificate: string; readonly key: string };
  } = {},
): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-registry-'));
  const storage = join(dir, 'storage');
  const port = await freePort();
  const address = options.address ?? '127.0.0.1';
  const auth = options.auth ?? { kind: 'none' };
  let authYaml = '';
  if (auth.kind === 'htpasswd') {
    const file = join(dir, 'htpasswd');
    const lines = Object.entries(auth.users).map(([user, password]) =>
      execFileSync('htpasswd', ['-nbB', user, password], { encoding: 'utf8' }).trim(),
    );
    await writeFile(file, `${lines.join('\n')}\n`);
    authYaml = `auth:\n  htpasswd:\n    realm: strata-test\n    path: ${file}\n`;
  } else if (auth.kind === 'token') {
    authYaml =
      `auth:\n  token:\n    realm: ${auth.realm}\n    service: ${auth.service}\n` +
      `    issuer: ${auth.issuer}\n    rootcertbundle: ${auth.certificatePath}\n`;
  }
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${storage}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: ${address}:${port}`,
      '  secret: strata-test-secret',
      ...(options.tls
        ? ['  tls:', `    certificate: ${options.tls.certificate}`, `    key: ${options.tls.key}`]
        : []),
      authYaml,
    ].join('\n'),
  );
  const child = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-4000);
  });
  const url = `${options.tls ? 'https' : 'http'}://${address}:${port}`;
  try {
    await waitForHttp(`${url}/v2/`, child, () => err);
  } catch (error) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    host: `${address}:${port}`,
    port,
    url,
    storage,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
