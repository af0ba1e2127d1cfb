import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Store } from '../../src/store/index.ts';
import { runStrata } from '../support/cli.ts';
import { writeTestImage } from '../support/images.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

describe('strata pull / push / inspect / copy / login / logout (CLI against a registry)', () => {
  let registry: TestRegistry;
  let secured: TestRegistry;
  let dir: string;
  let digest: string;

  before(async () => {
    registry = await startRegistry();
    secured = await startRegistry({ auth: { kind: 'htpasswd', users: { dave: 'pw-dave' } } });
    dir = await mkdtemp(join(tmpdir(), 'strata-cli-registry-'));
    const store = await Store.open(join(dir, 'src'));
    const image = await writeTestImage(store, { layerSizes: [50_000, 1_000], seed: 51 });
    const name = `${registry.host}/cli/app:1`;
    await store.tag({ full: name, short: name }, image.manifest);
    digest = image.manifest.digest;
  });
  after(async () => {
    await registry?.stop();
    await secured?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('push prints name@digest; plain progress shows docker-style lines', async () => {
    const result = await runStrata(['push', '--progress', 'plain', `${registry.host}/cli/app:1`], {
      root: join(dir, 'src'),
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${registry.host}/cli/app:1@${digest}\n`);
    assert.match(result.stderr, /^[0-9a-f]{12}: Pushed$/m);
    assert.match(result.stderr, new RegExp(`^1: digest: ${digest} size: \\d+$`, 'm'));
  });

  it('pull prints the full name; json progress is one event per line', async () => {
    const root = join(dir, 'dst');
    const result = await runStrata(['pull', '--progress', 'json', `${registry.host}/cli/app:1`], { root });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${registry.host}/cli/app:1\n`);
    const events = result.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(events.every((e) => typeof e.type === 'string' && typeof e.at === 'number'));
    assert.equal(events.filter((e) => e.type === 'transfer' && e.status === 'done').length, 3);
    assert.ok(events.some((e) => e.type === 'message' && e.text === `Digest: ${digest}`));
    const again = await runStrata(['pull', '--progress', 'plain', `${registry.host}/cli/app:1`], { root });
    assert.match(again.stderr, /^[0-9a-f]{12}: Already exists$/m);
    assert.match(again.stderr, /Status: Image is up to date for/);
  });

  it('pushes and pulls an image of many layers without a listener warning (one signal, many requests)', async () => {
    const store = await Store.open(join(dir, 'many'));
    const image = await writeTestImage(store, {
      layerSizes: Array.from({ length: 24 }, () => 2_000),
      seed: 52,
    });
    const name = `${registry.host}/cli/many:1`;
    await store.tag({ full: name, short: name }, image.manifest);
    const pushed = await runStrata(['push', '--progress', 'plain', name], { root: join(dir, 'many') });
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.doesNotMatch(pushed.stderr, /Warning/);
    const pulled = await runStrata(['pull', '--progress', 'plain', name], { root: join(dir, 'many-dst') });
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.doesNotMatch(pulled.stderr, /Warning/);
  });

  it('inspect prints manifest, config and layers, local or remote, and --json', async () => {
    const remote = await runStrata(['inspect', `docker://${registry.host}/cli/app:1`], {
      root: join(dir, 'empty'),
    });
    assert.equal(remote.code, 0, remote.stderr);
    assert.match(remote.stdout, new RegExp(`^Digest:\\s+${digest}$`, 'm'));
    assert.match(remote.stdout, /^Platform:\s+linux\/amd64$/m);
    assert.match(remote.stdout, /^Layers:\s+2, /m);
    const local = await runStrata(['inspect', '--json', `${registry.host}/cli/app:1`], {
      root: join(dir, 'dst'),
    });
    assert.equal(local.code, 0, local.stderr);
    assert.equal(JSON.parse(local.stdout).location, `strata:${registry.host}/cli/app:1`);
  });

  it('copy between transports prints the digest', async () => {
    const layout = join(dir, 'layout');
    const result = await runStrata(['copy', '-q', `docker://${registry.host}/cli/app:1`, `oci:${layout}:x`], {
      root: join(dir, 'dst'),
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${digest}\n`);
    assert.equal(result.stderr, '');
  });

  it('login --password-stdin writes config.json, push then works, logout forgets', async () => {
    const home = join(dir, 'home');
    const env = { HOME: home, DOCKER_CONFIG: '' };
    const denied = await runStrata(['pull', '-q', `${secured.host}/p/app:1`], {
      root: join(dir, 'sec'),
      env,
    });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /401.*\(log in first: strata login 127\.0\.0\.1:\d+\)/);
    const bad = await runStrata(['login', '-u', 'dave', '--password-stdin', secured.host], {
      input: 'wrong\n',
      env,
    });
    assert.equal(bad.code, 1);
    assert.doesNotMatch(bad.stderr, /wrong/);
    const good = await runStrata(['login', '-u', 'dave', '--password-stdin', secured.host], {
      input: 'pw-dave\n',
      env,
    });
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /^Login Succeeded/);
    const config = JSON.parse(await readFile(join(home, '.docker', 'config.json'), 'utf8'));
    assert.equal(Buffer.from(config.auths[secured.host].auth, 'base64').toString(), 'dave:pw-dave');
    const pushed = await runStrata(['push', '-q', `${registry.host}/cli/app:1`, `${secured.host}/p/app:1`], {
      root: join(dir, 'src'),
      env,
    });
    assert.equal(pushed.code, 0, pushed.stderr);
    const out = await runStrata(['logout', secured.host], { env });
    assert.equal(out.stdout, `Removing login credentials for ${secured.host}\n`);
    const after = JSON.parse(await readFile(join(home, '.docker', 'config.json'), 'utf8'));
    assert.equal(after.auths[secured.host], undefined);
  });
});
