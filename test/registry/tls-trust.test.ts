/**
 * NODE_EXTRA_CA_CERTS through the `strata` command: bin/strata defers the file Node 20 would load
 * while starting (util/deferred-ca-certs.ts), and strata trusts it when it first verifies a TLS
 * peer (registry/tls-trust.ts). A real registry serves TLS on a non-loopback address (where no
 * insecure-registry rule applies) with a certificate from a test CA.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseReference } from '../../src/reference/index.ts';
import { pushImage, RegistryPool } from '../../src/registry/index.ts';
import { Store } from '../../src/store/index.ts';
import { StoreImageReader } from '../../src/transport/index.ts';
import { adoptDeferredCaCerts } from '../../src/util/index.ts';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { runStrata, STRATA_BIN } from '../support/cli.ts';
import { writeTestImage } from '../support/images.ts';
import { externalAddress, startRegistry, type TestRegistry } from '../support/registry.ts';

/** A CA and a server certificate it signed for `ip`, as PEM files in `dir`. */
function makeCertificates(dir: string, ip: string, name: string) {
  const ca = join(dir, `${name}-ca.pem`);
  const caKey = join(dir, `${name}-ca.key`);
  const key = join(dir, `${name}-server.key`);
  const csr = join(dir, `${name}-server.csr`);
  const certificate = join(dir, `${name}-server.pem`);
  const ext = join(dir, `${name}-server.ext`);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    caKey,
    '-out',
    ca,
    '-days',
    '2',
    '-subj',
    `/CN=${name} test CA`,
  ]);
  openssl(['req', ...ec, '-keyout', key, '-out', csr, '-subj', '/CN=registry']);
  writeFileSync(ext, `subjectAltName=IP:${ip}\n`);
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca,
    '-CAkey',
    caKey,
    '-days',
    '2',
    '-extfile',
    ext,
    '-out',
    certificate,
  ]);
  return { ca, key, certificate };
}

const NODE_WARNING = /Ignoring extra certs from/;

describe('NODE_EXTRA_CA_CERTS, loaded when strata first verifies a TLS peer', () => {
  let fx: BuildFixture;
  let registry: TestRegistry;
  let trusted: ReturnType<typeof makeCertificates>;
  let other: ReturnType<typeof makeCertificates>;
  let ref: string;

  before(async () => {
    fx = await buildFixture('strata-tls-');
    const address = externalAddress();
    trusted = makeCertificates(fx.work, address, 'trusted');
    other = makeCertificates(fx.work, address, 'other');
    registry = await startRegistry({ address, tls: { certificate: trusted.certificate, key: trusted.key } });
    ref = `${registry.host}/tls/app:1`;
    const store = await Store.open(join(fx.work, 'pushed'));
    const image = await writeTestImage(store, { layerSizes: [3_000], seed: 83 });
    const pool = new RegistryPool({ ca: readFileSync(trusted.ca) });
    try {
      await pushImage(pool, new StoreImageReader(store, image.manifest.digest), parseReference(ref));
    } finally {
      await pool.close();
    }
  });
  after(async () => {
    await registry?.stop();
    fx?.cleanup();
  });

  it('pulls from a registry whose certificate a CA in NODE_EXTRA_CA_CERTS signed', async () => {
    const result = await runStrata(['pull', ref], {
      command: true,
      root: join(fx.work, 'store-a'),
      env: { NODE_EXTRA_CA_CERTS: trusted.ca },
    });
    assert.equal(result.code, 0, result.stderr);
    const images = await runStrata(['images', '--json'], { root: join(fx.work, 'store-a') });
    assert.match(images.stdout, new RegExp(ref.replace(/[.:/]/g, '\\$&')));
  });

  it('refuses the registry when NODE_EXTRA_CA_CERTS holds another CA', async () => {
    const result = await runStrata(['pull', ref], {
      command: true,
      root: join(fx.work, 'store-b'),
      env: { NODE_EXTRA_CA_CERTS: other.ca },
    });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /certificate/i);
  });

  it('does not make Node load the file at start-up, and warns as Node does when it cannot be read', async () => {
    const missing = join(fx.work, 'no-such-ca.pem');
    // The oracle: Node itself warns at start-up when it loads a missing file.
    const direct = execFileSync(
      'sh',
      ['-c', `"${process.execPath}" "${STRATA_BIN}" --version 2>&1 >/dev/null`],
      { env: { ...process.env, NODE_EXTRA_CA_CERTS: missing }, encoding: 'utf8' },
    );
    assert.match(direct, NODE_WARNING);
    const version = await runStrata(['--version'], { command: true, env: { NODE_EXTRA_CA_CERTS: missing } });
    assert.equal(version.code, 0);
    assert.doesNotMatch(version.stderr, NODE_WARNING);
    // Needed at last: the same warning, and the registry's certificate is not trusted.
    const pull = await runStrata(['pull', ref], {
      command: true,
      root: join(fx.work, 'store-c'),
      env: { NODE_EXTRA_CA_CERTS: missing },
    });
    assert.notEqual(pull.code, 0);
    assert.match(pull.stderr, NODE_WARNING);
    assert.match(pull.stderr, /certificate/i);
  });

  it('hands NODE_EXTRA_CA_CERTS back to the build unchanged (a secret from the environment)', async () => {
    const ctx = fx.context('secret-env', {
      Dockerfile: [
        'FROM busybox:local',
        'RUN --mount=type=secret,id=ca,env=CA_FILE echo "$CA_FILE" > /ca-file',
        'FROM scratch',
        'COPY --from=0 /ca-file /',
      ].join('\n'),
    });
    const out = join(fx.work, 'secret-out');
    const result = await runStrata(
      ['build', '--secret', 'id=ca,env=NODE_EXTRA_CA_CERTS', '-o', `type=local,dest=${out}`, ctx],
      { command: true, root: fx.root, env: { NODE_EXTRA_CA_CERTS: trusted.ca } },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(readFileSync(join(out, 'ca-file'), 'utf8'), `${trusted.ca}\n`);
  });

  it('adoptDeferredCaCerts restores the variable, also when it was empty', () => {
    const env: NodeJS.ProcessEnv = { STRATA_DEFERRED_CA_CERTS: '/etc/ca.pem' };
    adoptDeferredCaCerts(env);
    assert.deepEqual(env, { NODE_EXTRA_CA_CERTS: '/etc/ca.pem' });
    const empty: NodeJS.ProcessEnv = { STRATA_DEFERRED_CA_CERTS: '' };
    adoptDeferredCaCerts(empty);
    assert.deepEqual(empty, { NODE_EXTRA_CA_CERTS: '' });
    const untouched: NodeJS.ProcessEnv = { NODE_EXTRA_CA_CERTS: '/x' };
    adoptDeferredCaCerts(untouched);
    assert.deepEqual(untouched, { NODE_EXTRA_CA_CERTS: '/x' });
  });
});
