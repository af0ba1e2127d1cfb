import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { parseImageConfig, parseManifest } from '../../src/oci/index.ts';
import { runStrata, STRATA_BIN, tempDir } from '../support/cli.ts';
import { makeBusyboxTarball } from '../support/rootfs.ts';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('strata import', () => {
  const work = tempDir('strata-import-');
  const root = join(work.path, 'store');
  let tarball: string;
  before(() => {
    tarball = makeBusyboxTarball(work.path);
  });
  after(() => work.cleanup());

  it('makes a one-layer image whose diff_id is the sha256 of the tar and whose layer is gzip', async () => {
    const result = await runStrata(['import', tarball, 'busybox:test'], { root });
    assert.equal(result.code, 0, result.stderr);
    const index = JSON.parse(readFileSync(join(root, 'index.json'), 'utf8'));
    const entry = index.manifests.find(
      (m: { annotations: Record<string, string> }) =>
        m.annotations['org.opencontainers.image.ref.name'] === 'busybox:test',
    );
    assert.ok(entry, 'named in index.json with the short name skopeo looks up');
    assert.equal(entry.annotations['io.containerd.image.name'], 'docker.io/library/busybox:test');
    assert.equal(result.stdout.trim(), entry.digest);
    const manifest = parseManifest(readFileSync(join(root, 'blobs/sha256', entry.digest.slice(7))));
    const config = parseImageConfig(
      readFileSync(join(root, 'blobs/sha256', manifest.config.digest.slice(7))),
    );
    assert.equal(config.rootfs.diff_ids[0], `sha256:${sha256(readFileSync(tarball))}`);
    assert.equal(manifest.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
    const layer = readFileSync(join(root, 'blobs/sha256', manifest.layers[0]!.digest.slice(7)));
    assert.deepEqual([layer[0], layer[1]], [0x1f, 0x8b]);
    assert.equal(config.history?.[0]?.comment, `Imported from ${tarball}`);
    assert.equal(config.os, 'linux');
  });

  it('accepts a gzip tarball on stdin and gets the same diff_id', async () => {
    const result = await runStrata(['import', '-', 'busybox:gz', '-m', 'from stdin'], {
      root,
      input: gzipSync(readFileSync(tarball)),
    });
    assert.equal(result.code, 0, result.stderr);
    const images = JSON.parse((await runStrata(['images', '--json'], { root })).stdout);
    assert.deepEqual(images.map((i: { name: string }) => i.name).sort(), ['busybox:gz', 'busybox:test']);
  });

  it('names the problem when the input is not a tar, and stores nothing', async () => {
    const before = readdirSync(join(root, 'blobs/sha256')).length;
    const result = await runStrata(['import', '-', 'bad:1'], {
      root,
      input: 'this is not a tarball at all'.repeat(40),
    });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^error: import: the input is not a tar archive \(nor a gzip-compressed one\) \(pass a rootfs tarball/,
    );
    assert.doesNotMatch(result.stderr, /at .*\.ts:\d+/, 'no stack trace without --debug');
    assert.equal(readdirSync(join(root, 'blobs/sha256')).length, before);
  });

  it('prints a stack trace with --debug', async () => {
    const result = await runStrata(['--debug', 'import', '-', 'bad:1'], { root, input: '' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /input is empty/);
    assert.match(result.stderr, /\n\s+at /);
  });

  it('rejects an invalid image name before reading anything', async () => {
    const result = await runStrata(['import', tarball, 'Upper:1'], { root });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /invalid reference/i);
  });

  it('is readable by skopeo as an OCI layout (inspect and copy to dir:)', async () => {
    const inspect = JSON.parse(
      execFileSync('skopeo', ['inspect', `oci:${root}:busybox:test`], { encoding: 'utf8' }),
    );
    assert.equal(inspect.Os, 'linux');
    assert.equal(inspect.Layers.length, 1);
    const dest = join(work.path, 'skopeo-dir');
    execFileSync('skopeo', ['copy', `oci:${root}:busybox:test`, `dir:${dest}`], { stdio: 'pipe' });
    const copied = JSON.parse(readFileSync(join(dest, 'manifest.json'), 'utf8'));
    assert.equal(copied.layers[0].digest, inspect.Layers[0]);
    assert.ok(existsSync(join(dest, copied.layers[0].digest.slice(7))));
  });

  it('tags, removes and prunes', async () => {
    assert.equal((await runStrata(['tag', 'busybox:test', 'localhost:5000/team/bb:v1'], { root })).code, 0);
    const listed = await runStrata(['images'], { root });
    assert.match(listed.stdout, /^localhost:5000\/team\/bb\s+v1\s+[0-9a-f]{12}\s/m);
    assert.equal(
      (await runStrata(['rmi', 'busybox:gz', 'busybox:test', 'localhost:5000/team/bb:v1'], { root })).code,
      0,
    );
    const pruned = await runStrata(['prune', '-f'], { root });
    assert.match(pruned.stdout, /^Deleted [1-9]\d* blobs? and /m);
    assert.equal(readdirSync(join(root, 'blobs/sha256')).length, 0);
    const missing = await runStrata(['rmi', 'busybox:test'], { root });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /image busybox:test not found in the store/);
  });
});

describe('store crash safety and concurrency', () => {
  const work = tempDir('strata-crash-');
  const root = join(work.path, 'store');
  let bigTar: string;
  let smallTar: string;
  before(() => {
    // ~96 MB of incompressible data: gzip takes long enough to kill the import halfway.
    const src = join(work.path, 'big');
    mkdirSync(src);
    for (let i = 0; i < 3; i++) writeFileSync(join(src, `blob${i}`), randomBytes(32 << 20));
    bigTar = join(work.path, 'big.tar');
    execFileSync('tar', ['-C', src, '-cf', bigTar, '.']);
    smallTar = makeBusyboxTarball(join(work.path, 'small'));
  });
  after(() => work.cleanup());

  it('survives SIGKILL in the middle of an ingest: verify passes and the import then succeeds', async () => {
    const child = spawn(process.execPath, [STRATA_BIN, 'import', bigTar, 'big:1'], {
      env: { ...process.env, STRATA_ROOT: root },
      stdio: 'ignore',
    });
    // Wait until the layer is being written into tmp/, then kill without warning.
    const deadline = Date.now() + 30_000;
    let partial = 0;
    while (Date.now() < deadline) {
      const tmp = existsSync(join(root, 'tmp')) ? readdirSync(join(root, 'tmp')) : [];
      partial = tmp.reduce((n, f) => n + statSync(join(root, 'tmp', f)).size, 0);
      if (partial > 1 << 20) break;
      await sleep(20);
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    assert.ok(partial > 1 << 20, 'the import was killed mid-ingest');
    const verify = await runStrata(['store', 'verify'], { root });
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.equal(
      (JSON.parse((await runStrata(['images', '--json'], { root })).stdout) as unknown[]).length,
      0,
    );
    const again = await runStrata(['import', bigTar, 'big:1'], { root });
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(readdirSync(join(root, 'tmp')), [], 'the crashed ingest was swept');
    assert.equal((await runStrata(['store', 'verify'], { root })).code, 0);
  });

  it('loses nothing when several processes import and tag at once', async () => {
    const runs = [];
    for (let i = 0; i < 6; i++)
      runs.push(runStrata(['import', smallTar, `par:${i}`, '-m', `run ${i}`], { root }));
    for (let i = 0; i < 4; i++) runs.push(runStrata(['tag', 'big:1', `big:alias${i}`], { root }));
    const results = await Promise.all(runs);
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const names = (
      JSON.parse((await runStrata(['images', '--json'], { root })).stdout) as Array<{ name: string }>
    )
      .map((i) => i.name)
      .sort();
    assert.deepEqual(names, [
      'big:1',
      'big:alias0',
      'big:alias1',
      'big:alias2',
      'big:alias3',
      'par:0',
      'par:1',
      'par:2',
      'par:3',
      'par:4',
      'par:5',
    ]);
    const verify = await runStrata(['store', 'verify'], { root });
    assert.equal(verify.code, 0, verify.stdout);
  });

  it('store verify exits 1 and names the blob when a layer is corrupted', async () => {
    const index = JSON.parse(readFileSync(join(root, 'index.json'), 'utf8'));
    const manifest = parseManifest(
      readFileSync(join(root, 'blobs/sha256', index.manifests[0].digest.slice(7))),
    );
    const layerPath = join(root, 'blobs/sha256', manifest.layers[0]!.digest.slice(7));
    const data = readFileSync(layerPath);
    data[100] = data[100]! ^ 0xff;
    writeFileSync(layerPath, data);
    const verify = await runStrata(['store', 'verify'], { root });
    assert.equal(verify.code, 1);
    assert.match(verify.stdout, new RegExp(`${manifest.layers[0]!.digest}: content hashes to sha256:`));
    assert.match(verify.stderr, /store verification failed: 1 problem/);
  });
});
