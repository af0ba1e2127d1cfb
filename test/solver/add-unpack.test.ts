// ADD --unpack (Dockerfile 1.17): =true extracts a downloaded archive, =false copies a local
// archive as it is; by default local archives are extracted and downloads are not.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { ContextView } from '../../src/context/index.ts';
import { parseDockerfile } from '../../src/dockerfile/index.ts';
import { parsePlatform } from '../../src/oci/index.ts';
import { type AddStep, planBuild } from '../../src/plan/index.ts';
import { copyDestination } from '../../src/solver/steps/copy.ts';
import { writeCopy } from '../../src/solver/steps/copy-writer.ts';

const AMD64 = parsePlatform('linux/amd64');
let work = '';
let context = '';
let rootfs = '';
let server: Server;
let archive: Buffer;
let base = '';

describe('ADD of a URL or archive (add-unpack)', () => {
  before(async () => {
    const src = mkdtempSync(join(tmpdir(), 'strata-unpack-src-'));
    mkdirSync(join(src, 'pkg'));
    writeFileSync(join(src, 'pkg/hello.txt'), 'hello\n');
    execFileSync('tar', ['-czf', join(src, 'pkg.tar.gz'), '-C', src, 'pkg']);
    archive = readFileSync(join(src, 'pkg.tar.gz'));
    rmSync(src, { recursive: true, force: true });
    server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(req.url === '/notes.txt' ? 'just text\n' : archive);
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'strata-unpack-'));
    context = join(work, 'context');
    rootfs = join(work, 'rootfs');
    mkdirSync(context);
    mkdirSync(rootfs);
    writeFileSync(join(context, 'pkg.tar.gz'), archive);
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  async function add(line: string): Promise<void> {
    const graph = planBuild(parseDockerfile(`FROM scratch\n${line}\n`), {
      platform: AMD64,
      buildPlatform: AMD64,
    });
    const step = graph.stages[0]!.steps.at(-1)! as AddStep;
    await writeCopy({
      rootfs,
      view: new ContextView(context),
      step,
      dest: copyDestination('/', step.dest),
      ownership: {},
      keepOwner: false,
      epochSeconds: 0,
      fetchUrl: async (url) => Readable.fromWeb((await fetch(url)).body! as never),
    });
  }

  describe('ADD --unpack', () => {
    it('extracts a local archive by default', async () => {
      await add('ADD pkg.tar.gz /out/');
      assert.equal(readFileSync(join(rootfs, 'out/pkg/hello.txt'), 'utf8'), 'hello\n');
      assert.equal(existsSync(join(rootfs, 'out/pkg.tar.gz')), false);
    });

    it('copies a local archive as it is with --unpack=false', async () => {
      await add('ADD --unpack=false pkg.tar.gz /out/');
      assert.deepEqual(readFileSync(join(rootfs, 'out/pkg.tar.gz')), archive);
      assert.equal(existsSync(join(rootfs, 'out/pkg')), false);
    });

    it('copies a downloaded archive as it is by default', async () => {
      await add(`ADD ${base}/dl/pkg.tar.gz /out/`);
      assert.deepEqual(readFileSync(join(rootfs, 'out/pkg.tar.gz')), archive);
      assert.equal(statSync(join(rootfs, 'out/pkg.tar.gz')).mode & 0o777, 0o600);
    });

    it('extracts a downloaded archive with --unpack=true', async () => {
      await add(`ADD --unpack=true ${base}/dl/pkg.tar.gz /out/`);
      assert.equal(readFileSync(join(rootfs, 'out/pkg/hello.txt'), 'utf8'), 'hello\n');
      assert.equal(existsSync(join(rootfs, 'out/pkg.tar.gz')), false);
    });

    it('copies a download that is no archive as it is, even with --unpack=true', async () => {
      await add(`ADD --unpack=true ${base}/notes.txt /out/`);
      assert.equal(readFileSync(join(rootfs, 'out/notes.txt'), 'utf8'), 'just text\n');
    });
  });
});
