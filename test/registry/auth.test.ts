import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { login, logout } from '../../src/api/login.ts';
import { parseReference } from '../../src/reference/index.ts';
import {
  DockerConfigCredentials,
  pullImage,
  pushImage,
  RegistryError,
  RegistryPool,
  staticCredentials,
} from '../../src/registry/index.ts';
import { Store } from '../../src/store/index.ts';
import { StoreImageReader } from '../../src/transport/index.ts';
import { formatErrorChain } from '../../src/util/index.ts';
import { writeTestImage } from '../support/images.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { startTokenServer, type TokenServer } from '../support/token-server.ts';

const FAST = { minDelayMs: 5, maxDelayMs: 50 };

describe('registry auth: htpasswd basic', () => {
  let registry: TestRegistry;
  let dir: string;

  before(async () => {
    registry = await startRegistry({ auth: { kind: 'htpasswd', users: { alice: 's3cret-pass' } } });
    dir = await mkdtemp(join(tmpdir(), 'strata-auth-basic-'));
  });
  after(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses anonymous access with a login hint, and never echoes credentials in errors', async () => {
    const store = await Store.open(join(dir, 's'));
    const image = await writeTestImage(store, { layerSizes: [1000], seed: 2 });
    const anonymous = new RegistryPool({ retry: FAST });
    try {
      await assert.rejects(
        pushImage(
          anonymous,
          new StoreImageReader(store, image.manifest.digest),
          parseReference(`${registry.host}/p/app:1`),
        ),
        (error: unknown) => {
          assert.ok(error instanceof RegistryError);
          assert.equal(error.status, 401);
          assert.match(formatErrorChain(error), /strata login 127\.0\.0\.1:\d+/);
          return true;
        },
      );
    } finally {
      await anonymous.close();
    }
    const wrong = new RegistryPool({
      retry: FAST,
      credentials: staticCredentials({ [registry.host]: { username: 'alice', password: 'wrong-pass' } }),
    });
    try {
      await assert.rejects(
        pushImage(
          wrong,
          new StoreImageReader(store, image.manifest.digest),
          parseReference(`${registry.host}/p/app:1`),
        ),
        (error: unknown) => {
          assert.ok(error instanceof RegistryError && error.status === 401);
          const text = formatErrorChain(error) + String(error.stack);
          assert.doesNotMatch(text, /wrong-pass|d3JvbmctcGFzcw|YWxpY2U6d3Jvbmct/);
          return true;
        },
      );
    } finally {
      await wrong.close();
    }
  });

  it('pushes and pulls with credentials from ~/.docker/config.json (base64 auth)', async () => {
    const home = join(dir, 'home');
    const env = { HOME: home };
    const saved = await login(registry.host, { username: 'alice', password: 's3cret-pass' }, { env });
    assert.equal(saved.path, join(home, '.docker', 'config.json'));
    assert.equal((await stat(saved.path)).mode & 0o777, 0o600);
    const config = JSON.parse(await readFile(saved.path, 'utf8'));
    assert.equal(config.auths[registry.host].auth, Buffer.from('alice:s3cret-pass').toString('base64'));

    const pool = new RegistryPool({ retry: FAST, credentials: new DockerConfigCredentials({ env }) });
    try {
      const store = await Store.open(join(dir, 's'));
      const image = await writeTestImage(store, { layerSizes: [5000, 700], seed: 3 });
      const ref = parseReference(`${registry.host}/p/app:2`);
      await pushImage(pool, new StoreImageReader(store, image.manifest.digest), ref);
      const other = await Store.open(join(dir, 't'));
      const pulled = await pullImage(pool, ref, other.blobs);
      assert.equal(pulled.top.descriptor.digest, image.manifest.digest);
    } finally {
      await pool.close();
    }
    assert.deepEqual(await logout(registry.host, { env }), { host: registry.host, removed: true });
    const after = JSON.parse(await readFile(saved.path, 'utf8'));
    assert.equal(after.auths[registry.host], undefined);
  });

  it('refuses to save credentials the registry rejects', async () => {
    const env = { HOME: join(dir, 'home2') };
    await assert.rejects(
      login(registry.host, { username: 'alice', password: 'nope' }, { env }),
      RegistryError,
    );
    await assert.rejects(stat(join(dir, 'home2', '.docker', 'config.json')), /ENOENT/);
  });

  it('asks a credential helper (credHelpers / credsStore) via docker-credential-<name> get', async () => {
    const bin = join(dir, 'bin');
    const home = join(dir, 'home3');
    await rm(bin, { recursive: true, force: true });
    await mkdir(bin, { recursive: true });
    await mkdir(join(home, '.docker'), { recursive: true });
    const log = join(dir, 'helper.log');
    await writeFile(
      join(bin, 'docker-credential-strata-test'),
      `#!/bin/sh\nread server\necho "$1 $server" >> ${log}\nif [ "$1" = get ] && [ "$server" = "${registry.host}" ]; then\n  printf '{"ServerURL":"%s","Username":"alice","Secret":"s3cret-pass"}' "$server"\n  exit 0\nfi\necho "credentials not found in native keychain"\nexit 1\n`,
    );
    await chmod(join(bin, 'docker-credential-strata-test'), 0o755);
    await writeFile(
      join(home, '.docker', 'config.json'),
      JSON.stringify({ credHelpers: { [registry.host]: 'strata-test' } }),
    );
    const env = { HOME: home, PATH: `${bin}:${process.env.PATH}` };
    const pool = new RegistryPool({ retry: FAST, credentials: new DockerConfigCredentials({ env }) });
    try {
      const store = await Store.open(join(dir, 's'));
      const image = await writeTestImage(store, { layerSizes: [100], seed: 4 });
      await pushImage(
        pool,
        new StoreImageReader(store, image.manifest.digest),
        parseReference(`${registry.host}/p/helper:1`),
      );
      assert.match(
        await readFile(log, 'utf8'),
        new RegExp(`^get ${registry.host.replace(/\./g, '\\.')}$`, 'm'),
      );
      // An unknown host: the helper says "not found", which means anonymous, not an error.
      assert.equal(await new DockerConfigCredentials({ env }).get('other.example:5000'), undefined);
    } finally {
      await pool.close();
    }
  });
  it('login and logout go through credsStore (docker-credential-<name> store / erase), leaving an empty auths entry', async () => {
    const bin = join(dir, 'bin-store');
    const home = join(dir, 'home4');
    await mkdir(bin, { recursive: true });
    await mkdir(join(home, '.docker'), { recursive: true });
    const vault = join(dir, 'vault.json');
    // A credential store that keeps one entry in a file: the protocol docker-credential-helpers speak.
    await writeFile(
      join(bin, 'docker-credential-filevault'),
      `#!/bin/sh\ncase "$1" in\n  store) cat > ${vault} ;;\n  get) read s; if [ -f ${vault} ]; then cat ${vault}; else echo "credentials not found in native keychain"; exit 1; fi ;;\n  erase) read s; rm -f ${vault} ;;\nesac\n`,
    );
    await chmod(join(bin, 'docker-credential-filevault'), 0o755);
    await writeFile(
      join(home, '.docker', 'config.json'),
      JSON.stringify({ credsStore: 'filevault', other: { kept: true } }),
    );
    const env = { HOME: home, PATH: `${bin}:${process.env.PATH}` };
    const saved = await login(registry.host, { username: 'alice', password: 's3cret-pass' }, { env });
    assert.equal(saved.helper, 'filevault');
    assert.deepEqual(JSON.parse(await readFile(vault, 'utf8')), {
      ServerURL: registry.host,
      Username: 'alice',
      Secret: 's3cret-pass',
    });
    const config = JSON.parse(await readFile(join(home, '.docker', 'config.json'), 'utf8'));
    assert.deepEqual(config.auths, { [registry.host]: {} }, 'no secret in config.json');
    assert.deepEqual(config.other, { kept: true });
    assert.deepEqual(await new DockerConfigCredentials({ env }).get(registry.host), {
      username: 'alice',
      password: 's3cret-pass',
    });
    assert.equal((await logout(registry.host, { env })).removed, true);
    await assert.rejects(stat(vault), /ENOENT/);
  });
});

describe('registry auth: bearer tokens from a token server', () => {
  let tokens: TokenServer;
  let registry: TestRegistry;
  let dir: string;

  before(async () => {
    tokens = await startTokenServer({
      users: { bob: 'hunter2-pw' },
      anonymousPull: true,
      refreshTokens: { 'refresh-token-abc': 'bob' },
    });
    registry = await startRegistry({
      auth: {
        kind: 'token',
        realm: tokens.realm,
        service: tokens.service,
        issuer: tokens.issuer,
        certificatePath: tokens.certificatePath,
      },
    });
    dir = await mkdtemp(join(tmpdir(), 'strata-auth-token-'));
  });
  after(async () => {
    await registry?.stop();
    await tokens?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('gets a token per scope with basic credentials, caches it, and pulls anonymously with a pull-only token', async () => {
    const store = await Store.open(join(dir, 's'));
    const image = await writeTestImage(store, { layerSizes: [30_000, 2_000, 500], seed: 5 });
    const ref = parseReference(`${registry.host}/team/tokened:1`);
    const pool = new RegistryPool({
      retry: FAST,
      credentials: staticCredentials({ [registry.host]: { username: 'bob', password: 'hunter2-pw' } }),
    });
    try {
      await pushImage(pool, new StoreImageReader(store, image.manifest.digest), ref);
    } finally {
      await pool.close();
    }
    const pushTokens = tokens.requests.filter((r) => r.authenticated);
    assert.ok(pushTokens.length >= 1);
    assert.ok(pushTokens.every((r) => r.service === tokens.service && r.account === 'bob'));
    assert.ok(pushTokens.some((r) => r.scopes.includes('repository:team/tokened:pull,push')));
    // One token serves every request of the push (cached per scope set), not one per request.
    assert.ok(
      pushTokens.length <= 2,
      `expected the token to be cached, got ${pushTokens.length} token requests`,
    );

    const anonymous = new RegistryPool({ retry: FAST });
    try {
      const other = await Store.open(join(dir, 't'));
      const pulled = await pullImage(anonymous, ref, other.blobs);
      assert.equal(pulled.top.descriptor.digest, image.manifest.digest);
      // ...but pushing without credentials gets a token without push rights: refused.
      await assert.rejects(
        pushImage(
          anonymous,
          new StoreImageReader(store, image.manifest.digest),
          parseReference(`${registry.host}/team/tokened:2`),
        ),
        (error: unknown) => error instanceof RegistryError && error.status === 401,
      );
    } finally {
      await anonymous.close();
    }
  });

  it('exchanges an identitytoken from config.json at the realm (OAuth2 refresh-token grant)', async () => {
    const home = join(dir, 'home-identity');
    await mkdir(join(home, '.docker'), { recursive: true });
    await writeFile(
      join(home, '.docker', 'config.json'),
      JSON.stringify({ auths: { [registry.host]: { auth: '', identitytoken: 'refresh-token-abc' } } }),
    );
    const pool = new RegistryPool({
      retry: FAST,
      credentials: new DockerConfigCredentials({ env: { HOME: home } }),
    });
    const before = tokens.requests.length;
    try {
      const store = await Store.open(join(dir, 'w'));
      const image = await writeTestImage(store, { layerSizes: [700], seed: 8 });
      await pushImage(
        pool,
        new StoreImageReader(store, image.manifest.digest),
        parseReference(`${registry.host}/team/oauth:1`),
      );
      const granted = tokens.requests.slice(before).filter((r) => r.authenticated);
      assert.ok(granted.some((r) => r.scopes.includes('repository:team/oauth:pull,push')));
    } finally {
      await pool.close();
    }
  });

  it('refetches a token when the registry answers 401 to a cached one', async () => {
    // The token server claims 5 minutes but the JWT expires after 1 s: only the registry's 401 tells.
    const shortLived = await startTokenServer({
      users: { bob: 'pw' },
      expiresIn: 1,
      advertisedExpiresIn: 300,
    });
    const reg = await startRegistry({
      auth: {
        kind: 'token',
        realm: shortLived.realm,
        service: shortLived.service,
        issuer: shortLived.issuer,
        certificatePath: shortLived.certificatePath,
      },
    });
    const pool = new RegistryPool({
      retry: FAST,
      credentials: staticCredentials({ [reg.host]: { username: 'bob', password: 'pw' } }),
    });
    try {
      const store = await Store.open(join(dir, 'u'));
      const image = await writeTestImage(store, { layerSizes: [100], seed: 6 });
      const ref = parseReference(`${reg.host}/a/b:1`);
      await pushImage(pool, new StoreImageReader(store, image.manifest.digest), ref);
      const before = shortLived.requests.length;
      await new Promise((r) => setTimeout(r, 2100));
      const other = await Store.open(join(dir, 'v'));
      await pullImage(pool, ref, other.blobs);
      assert.ok(shortLived.requests.length > before, 'a new token was fetched after expiry');
    } finally {
      await pool.close();
      await reg.stop();
      await shortLived.stop();
    }
  });
});
