import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import {
  applyLayer,
  compareUtf8,
  detectCompression,
  encodeHeader,
  listLayer,
  openDecompressed,
  ParallelGzip,
  packChanges,
  packDirectory,
  parallelGzipSmallSync,
  type TarHeader,
  TarParser,
  writeLayerBlob,
} from '../../src/archive/index.ts';
import { MediaTypes } from '../../src/oci/index.ts';
import { collect, diffSnapshots, makeRandomTree, run, scratchDirs, snapshotTree } from './helpers.ts';

const fresh = scratchDirs('strata-archive-blob-');
const base = fresh('files');

const sha256sum = (input: Buffer): string => run('sha256sum', [], { input }).slice(0, 64);

describe('one-pass layer blobs', () => {
  const src = fresh('src');
  makeRandomTree(src, 7, { files: 40 });
  writeFileSync(join(src, 'big'), Buffer.alloc(3 * 1024 * 1024 + 17, 'strata layer '));

  for (const [compression, mediaType, tool] of [
    ['gzip', MediaTypes.ociLayerGzip, ['gzip', '-dc']],
    ['zstd', MediaTypes.ociLayerZstd, ['zstd', '-dc']],
    ['none', MediaTypes.ociLayer, ['cat']],
  ] as const) {
    it(`computes diff_id, digest and both sizes in one pass (${compression}), matching sha256sum and ${tool[0]}`, async () => {
      const path = join(base, `layer-${compression}`);
      const blob = await writeLayerBlob(packDirectory(src), { sink: path, compression });
      const stored = readFileSync(path);
      const raw = spawnSync(tool[0], [...tool.slice(1), path], { maxBuffer: 1 << 30 }).stdout;
      assert.equal(blob.digest, `sha256:${sha256sum(stored)}`);
      assert.equal(blob.size, stored.length);
      assert.equal(blob.diffId, `sha256:${sha256sum(raw)}`);
      assert.equal(blob.uncompressedSize, raw.length);
      assert.equal(blob.mediaType, mediaType);
      assert.equal(detectCompression(stored), compression);
      // and the blob applies back to the same tree through magic-byte detection
      const dst = fresh(`apply-${compression}`);
      await applyLayer(openDecompressed(createReadStream(path)), dst);
      assert.deepEqual(diffSnapshots(snapshotTree(src), snapshotTree(dst)), []);
    });
  }

  it('gives the same digest twice for the same tree (reproducible layers)', async () => {
    const a = await writeLayerBlob(packDirectory(src, { sourceDateEpoch: 0 }), {
      sink: new PassThrough().resume(),
    });
    const b = await writeLayerBlob(packDirectory(src, { sourceDateEpoch: 0 }), {
      sink: new PassThrough().resume(),
    });
    assert.equal(a.digest, b.digest);
    assert.equal(a.diffId, b.diffId);
  });

  it('refuses to overwrite an existing sink file, and leaves it alone', async () => {
    const path = join(base, 'exists');
    writeFileSync(path, 'x');
    await assert.rejects(writeLayerBlob(packDirectory(src), { sink: path }), /EEXIST/);
    assert.equal(readFileSync(path, 'utf8'), 'x');
  });

  it('removes its partial sink file when the layer fails midway', async () => {
    const path = join(base, 'partial');
    let chunks = 0;
    const failing = new PassThrough({
      transform(chunk, _encoding, callback) {
        if (++chunks > 1) callback(new Error('disk on fire'));
        else callback(null, chunk);
      },
    });
    const dir = fresh('failing');
    writeFileSync(join(dir, 'a'), Buffer.alloc(3 * 1024 * 1024, 7));
    await assert.rejects(writeLayerBlob(packDirectory(dir).pipe(failing), { sink: path }), /disk on fire/);
    assert.ok(!existsSync(path));
  });

  it('writes small layers with synchronous calls, to the bytes the streaming path makes', async () => {
    const small = fresh('small');
    makeRandomTree(small, 11, { files: 6 });
    // Just under and just over the synchronous path's limit (256 KiB of tar), then well over it.
    const edge = fresh('edge');
    writeFileSync(join(edge, 'f'), Buffer.alloc(255 * 1024, 'a'));
    const over = fresh('over');
    writeFileSync(join(over, 'f'), Buffer.alloc(300 * 1024, 'b'));
    for (const dir of [small, edge, over, src]) {
      for (const [compression, level] of [
        ['gzip', 6],
        ['gzip', 1],
        ['none', undefined],
      ] as const) {
        const path = join(base, `sync-${dir.split('/').pop()}-${compression}-${level}`);
        const options = { compression, ...(level ? { level } : {}) };
        const toFile = await writeLayerBlob(packDirectory(dir, { sourceDateEpoch: 0 }), {
          sink: path,
          ...options,
        });
        const streamed = new PassThrough();
        const bytes = collect(streamed);
        const viaStream = await writeLayerBlob(packDirectory(dir, { sourceDateEpoch: 0 }), {
          sink: streamed,
          ...options,
        });
        assert.deepEqual(toFile, viaStream, `${dir} ${compression} ${level}`);
        assert.ok(readFileSync(path).equals(await bytes), `${dir} ${compression} ${level}: same bytes`);
        if (compression === 'gzip') run('gzip', ['-t', path]);
      }
    }
  });

  it('refuses an out-of-range compression level with a typed error', async () => {
    await assert.rejects(
      writeLayerBlob(packDirectory(src), { sink: new PassThrough(), compression: 'gzip', level: 12 }),
      (e: unknown) => (e as { code?: string }).code === 'INVALID_INPUT',
    );
  });
});

describe('parallel gzip', () => {
  const input = Buffer.alloc(5 * 1024 * 1024 + 123);
  for (let i = 0; i < input.length; i++) input[i] = (i * 7919) % 251 < 60 ? (i >> 3) & 0xff : 0x41;

  it('is valid gzip that gzip -t accepts and decompresses to the input', async () => {
    const out = await collect(
      Readable.from([input.subarray(0, 1_000_000), input.subarray(1_000_000)]).pipe(
        new ParallelGzip({ level: 1 }),
      ),
    );
    run('gzip', ['-t'], { input: out });
    assert.ok(gunzipSync(out).equals(input));
  });

  it('gives the same bytes whatever the concurrency and the input chunking', async () => {
    const one = await collect(Readable.from([input]).pipe(new ParallelGzip({ concurrency: 1 })));
    const slices: Buffer[] = [];
    for (let i = 0; i < input.length; i += 65_537) slices.push(input.subarray(i, i + 65_537));
    const four = await collect(Readable.from(slices).pipe(new ParallelGzip({ concurrency: 4 })));
    assert.ok(one.equals(four));
    // A concurrency that changes while the stream runs (a background conversion the build then waits for).
    let asked = 0;
    const changing = await collect(
      Readable.from(slices).pipe(new ParallelGzip({ concurrency: () => (asked++ < 5 ? 1 : 3) })),
    );
    assert.ok(asked > 5, 'asked before each block');
    assert.ok(one.equals(changing));
  });

  it('makes the same bytes synchronously for an input shorter than one block', async () => {
    for (const length of [0, 1, 4096, 1024 * 1024 - 1]) {
      const data = input.subarray(0, length);
      const streamed = await collect(
        Readable.from(length ? [data] : []).pipe(new ParallelGzip({ level: 5 })),
      );
      assert.ok(parallelGzipSmallSync(data, { level: 5 }).equals(streamed), `${length} bytes`);
    }
    assert.throws(() => parallelGzipSmallSync(input.subarray(0, 1024 * 1024)), RangeError);
  });

  it('handles empty input and an input of exactly one block', async () => {
    assert.equal(gunzipSync(await collect(Readable.from([]).pipe(new ParallelGzip()))).length, 0);
    const block = input.subarray(0, 1024 * 1024);
    assert.ok(gunzipSync(await collect(Readable.from([block]).pipe(new ParallelGzip()))).equals(block));
  });
});

describe('tar headers', () => {
  const header = (over: Partial<TarHeader>): TarHeader => ({
    path: 'f',
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: 0,
    mtime: 0,
    linkpath: '',
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
    ...over,
  });
  const parse = (bytes: Buffer): TarHeader[] => {
    const out: TarHeader[] = [];
    const parser = new TarParser({ entry: (h) => out.push(h), data: () => {}, entryEnd: () => {} });
    parser.write(bytes);
    return out;
  };

  it('records sizes of 8 GiB and more in PAX and base-256, and GNU tar reads them', () => {
    const size = 10 * 1024 ** 3 + 5;
    const bytes = encodeHeader(header({ path: 'huge', size }));
    assert.equal(parse(bytes)[0]!.size, size);
    const listing = spawnSync('tar', ['-tv', '--numeric-owner', '-f', '-'], {
      input: bytes,
    }).stdout.toString();
    assert.match(listing, /10737418245 .* huge/);
  });

  it('round-trips binary xattr values byte-exact, including newlines, NULs and "="', () => {
    const value = Buffer.from([0, 0x0a, 0x3d, 0x80, 0xff, 0x20, 0x31, 0x0a]);
    const [got] = parse(
      encodeHeader(
        header({
          xattrs: new Map([
            ['user.bin', value],
            ['security.capability', value],
          ]),
        }),
      ),
    );
    assert.ok(got!.xattrs.get('user.bin')!.equals(value));
    assert.ok(got!.xattrs.get('security.capability')!.equals(value));
  });

  it('round-trips long paths and link targets, big ids and negative-free mtimes', () => {
    const path = `${'p'.repeat(300)}/${'q'.repeat(50)}`;
    const [got] = parse(
      encodeHeader(
        header({
          path,
          type: 'symlink',
          linkpath: 'l'.repeat(5000),
          uid: 2 ** 40,
          gid: 2_097_152,
          mtime: 2 ** 34,
        }),
      ),
    );
    assert.equal(got!.path, path);
    assert.equal(got!.linkpath, 'l'.repeat(5000));
    assert.equal(got!.uid, 2 ** 40);
    assert.equal(got!.gid, 2_097_152);
    assert.equal(got!.mtime, 2 ** 34);
  });

  it('splits 101–256 byte names into ustar prefix and name without PAX', () => {
    const path = `${'a'.repeat(120)}/${'b'.repeat(90)}`;
    const bytes = encodeHeader(header({ path }));
    assert.equal(bytes.length, 512);
    assert.equal(parse(bytes)[0]!.path, path);
  });
});

describe('compareUtf8', () => {
  it('orders like the UTF-8 bytes, also for characters beyond U+FFFF', () => {
    const names = ['\u{1F642}', '\uFFFD', 'z', 'Z', 'é', '\uE000', 'a.b', 'a/b', 'a-b'];
    const byBytes = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    assert.deepEqual([...names].sort(compareUtf8), byBytes);
    assert.ok(compareUtf8('\uFFFD', '\u{1F642}') < 0, 'U+FFFD (EF BF BD) sorts before U+1F642 (F0 9F …)');
  });
});

describe('reserved names', () => {
  it('stores a real file named .wh.* under its name, as BuildKit does (whoever applies it reads a whiteout)', async () => {
    const dir = fresh('reserved');
    mkdirSync(join(dir, 'etc'));
    writeFileSync(join(dir, 'etc/.wh.passwd'), 'not a whiteout');
    for (const tar of [
      await collect(packDirectory(dir)),
      await collect(
        packChanges([{ kind: 'add', path: 'etc/.wh.passwd', source: join(dir, 'etc/.wh.passwd') }]),
      ),
    ]) {
      const listed = execFileSync('tar', ['-tvf', '-'], { input: tar, encoding: 'utf8' });
      assert.match(listed, /^-\S+ .* etc\/\.wh\.passwd$/m);
    }
  });
});

describe('packChanges', () => {
  it('refuses change paths that leave the layer root', () => {
    assert.throws(
      () => packChanges([{ kind: 'whiteout', path: '../etc' }]),
      (e: unknown) => (e as { code?: string }).code === 'INVALID_INPUT',
    );
  });

  it('sorts changes into tar order with the opaque marker first in its directory', async () => {
    const dir = fresh('changes');
    mkdirSync(join(dir, 'd'));
    writeFileSync(join(dir, 'd/-dash'), '');
    writeFileSync(join(dir, 'a'), '');
    const tar = await collect(
      packChanges([
        { kind: 'add', path: 'd/-dash', source: join(dir, 'd/-dash') },
        { kind: 'whiteout', path: 'd/zz' },
        { kind: 'opaque', path: 'd' },
        { kind: 'add', path: 'd', source: join(dir, 'd') },
        { kind: 'add', path: '/a', source: join(dir, 'a') },
      ]),
    );
    assert.deepEqual(run('tar', ['-tf', '-'], { input: tar }).trim().split('\n'), [
      'a',
      'd/',
      'd/.wh..wh..opq',
      'd/-dash',
      'd/.wh.zz',
    ]);
  });
});

describe('streaming behaviour', () => {
  it('lists a layer’s entries in archive order without their content', async () => {
    const dir = fresh('list');
    writeFileSync(join(dir, 'b'), 'bbb');
    mkdirSync(join(dir, 'a'));
    const headers = [];
    for await (const h of listLayer(packDirectory(dir))) headers.push(`${h.type} ${h.path} ${h.size}`);
    assert.deepEqual(headers, ['directory a 0', 'file b 3']);
  });

  it('keeps the event loop turning while packing into a synchronous consumer', async () => {
    const dir = fresh('yield');
    writeFileSync(join(dir, 'big'), Buffer.alloc(40 * 1024 * 1024, 1));
    let turns = 0;
    let stop = false;
    const spin = (): void => {
      turns++;
      if (!stop) setImmediate(spin);
    };
    setImmediate(spin);
    let bytes = 0;
    for await (const chunk of packDirectory(dir)) bytes += (chunk as Buffer).length;
    stop = true;
    assert.ok(bytes > 40 * 1024 * 1024);
    assert.ok(turns >= 4, `the event loop turned ${turns} times`);
  });

  it('stops packing with a typed error when aborted', async () => {
    const dir = fresh('abort');
    writeFileSync(join(dir, 'f'), Buffer.alloc(4 * 1024 * 1024));
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      writeLayerBlob(packDirectory(dir, { signal: controller.signal }), { sink: new PassThrough().resume() }),
      (e: unknown) =>
        (e as { name?: string }).name === 'AbortError' || (e as { code?: string }).code === 'ABORTED',
    );
  });
});

describe('openDecompressed', () => {
  const payload = Buffer.from('a layer tar would be here '.repeat(1000));
  const bytewise = (b: Buffer): Readable =>
    Readable.from(
      (function* () {
        for (let i = 0; i < b.length; i++) yield b.subarray(i, i + 1);
      })(),
    );

  it('reads concatenated gzip members (as pigz --independent or appended blobs write) as one stream', async () => {
    const { gzipSync } = await import('node:zlib');
    const two = Buffer.concat([gzipSync(payload.subarray(0, 100)), gzipSync(payload.subarray(100))]);
    assert.ok((await collect(openDecompressed(Readable.from([two])))).equals(payload));
  });

  it('detects the format from magic bytes arriving one byte at a time', async () => {
    const zst = spawnSync('zstd', ['-q', '-c'], { input: payload }).stdout;
    assert.ok((await collect(openDecompressed(bytewise(zst)))).equals(payload));
    assert.ok(
      (await collect(openDecompressed(bytewise(payload.subarray(0, 3))))).equals(payload.subarray(0, 3)),
    );
    assert.equal((await collect(openDecompressed(Readable.from([])))).length, 0);
  });

  it('fails on a corrupt gzip stream instead of returning short data', async () => {
    const { gzipSync } = await import('node:zlib');
    const gz = gzipSync(payload);
    gz.writeUInt8(gz.readUInt8(gz.length - 6) ^ 0xff, gz.length - 6); // break the CRC
    await assert.rejects(collect(openDecompressed(Readable.from([gz]))));
    // and a stream cut short is an error too, not a silently shorter tar
    await assert.rejects(collect(openDecompressed(Readable.from([gzipSync(payload).subarray(0, 100)]))));
  });
});
