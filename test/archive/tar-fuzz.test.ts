import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TarFormatError } from '../../src/archive/errors.ts';
import { TarParser } from '../../src/archive/tar-parser.ts';
import { FUZZ_SEED, fuzz, Random } from '../support/fuzz.ts';
import { craftTar, paxEntry, paxRecord, type RawEntry, rawHeader } from './helpers.ts';

// Seeded fuzzing of the streaming tar reader: archives made of ustar, PAX (local and global) and
// GNU long-name entries, then damaged (bytes flipped, header fields rewritten, truncated, huge
// sizes), fed in chunks of random sizes. The reader may only throw TarFormatError, must never
// hang, and buffers nothing it was not told to (file content is streamed, metadata is capped).

const PAX_KEYS = [
  'path',
  'linkpath',
  'size',
  'uid',
  'gid',
  'mtime',
  'SCHILY.xattr.user.a',
  'LIBARCHIVE.xattr.user.%41',
  'LIBARCHIVE.xattr.%',
  'LIBARCHIVE.xattr.%E0%A4%A',
  'GNU.sparse.major',
  'comment',
  '',
];

const PAX_VALUES = [
  '1',
  '-1',
  '0x10',
  '1e400',
  'NaN',
  '',
  ' 7',
  '9007199254740993',
  'a/b',
  '\u00e9',
  'AAAA',
  '%zz',
  '12.5',
];

function entry(random: Random): Buffer | RawEntry {
  const r = random.int(8);
  if (r === 0) {
    const records = Array.from({ length: 1 + random.int(4) }, () =>
      paxRecord(
        random.pick(PAX_KEYS),
        random.chance(0.1) ? 'x'.repeat(random.int(3000)) : random.pick(PAX_VALUES),
      ),
    );
    return paxEntry(records, random.chance(0.3) ? 'g' : 'x');
  }
  if (r === 1) {
    // a GNU long name or link name
    return {
      name: '././@LongLink',
      type: random.pick(['L', 'K']),
      content: `${'n/'.repeat(random.int(400))}x\0`,
    };
  }
  const type = random.pick(['0', '0', '1', '2', '3', '4', '5', '6', '7', 'x', 'g', 'L', 'S', 'V', '\0', 'Z']);
  const content = type === '0' || type === '7' ? Buffer.alloc(random.int(2000), random.int(256)) : undefined;
  return {
    name: random.pick(['a', 'dir/', './b/c', '../escape', '/abs', 'é', `${'long/'.repeat(30)}x`, '']),
    type,
    mode: random.pick([0o644, 0o7777, 0o17777777]),
    uid: random.int(70000),
    linkname: random.pick(['', 'a', '../x', '/etc/passwd']),
    ...(content === undefined ? {} : { content }),
    ...(random.chance(0.05) ? { size: random.pick([0, 1, 511, 512, 0o77777777777, 2 ** 30]) } : {}),
    ...(random.chance(0.03) ? { badChecksum: true } : {}),
  };
}

/** Rewrites a field of a header block and fixes its checksum, so the damage gets past it. */
function damageHeader(block: Buffer, random: Random): void {
  const field = random.pick([
    [100, 8],
    [108, 8],
    [116, 8],
    [124, 12],
    [136, 12],
    [156, 1],
    [257, 8],
    [329, 8],
    [337, 8],
    [345, 155],
  ] as const);
  const [offset, width] = field;
  const choice = random.int(5);
  if (choice === 0) block.fill(random.int(256), offset, offset + width);
  else if (choice === 1) {
    // GNU base-256: a huge (or negative) number
    block[offset] = random.pick([0x80, 0xff, 0xbf]);
    for (let i = offset + 1; i < offset + width; i++) block[i] = random.int(256);
  } else if (choice === 2) block.write('7'.repeat(width), offset, 'latin1');
  else if (choice === 3) block.write(' 1 2 ', offset, 'latin1');
  else block[offset + random.int(width)] = random.int(256);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
}

function archive(random: Random): Buffer {
  const items = Array.from({ length: 1 + random.int(6) }, () => entry(random));
  const tar = craftTar(items, { end: random.chance(0.8) });
  const damage = random.int(6);
  if (damage === 0 && tar.length >= 512) {
    const block = random.int(tar.length / 512);
    damageHeader(tar.subarray(block * 512, block * 512 + 512), random);
  } else if (damage === 1) {
    for (let i = random.int(8); i > 0; i--) tar[random.int(tar.length)] = random.int(256);
  } else if (damage === 2) {
    return tar.subarray(0, random.int(tar.length + 1));
  } else if (damage === 3) {
    // a header alone whose size promises far more than follows
    const header = rawHeader({ name: 'big', size: 0o77777777777 });
    return Buffer.concat([tar, header, Buffer.alloc(random.int(4096))]);
  }
  return tar;
}

/** Feeds the archive in chunks of random sizes and counts what the visitor saw. */
function read(tar: Buffer, random: Random): void {
  let bytes = 0;
  const parser = new TarParser(
    {
      entry: (header) => {
        assert.ok(header.size >= 0 && Number.isSafeInteger(header.size), `size ${header.size}`);
        assert.equal(typeof header.path, 'string');
      },
      data: (chunk) => {
        bytes += chunk.length;
      },
      entryEnd: () => undefined,
    },
    { maxMetadataBytes: 64 * 1024 },
  );
  let pos = 0;
  while (pos < tar.length) {
    const n = random.chance(0.3) ? 1 + random.int(600) : 1 + random.int(tar.length);
    parser.write(tar.subarray(pos, pos + n));
    pos += n;
  }
  parser.end();
  assert.ok(bytes <= tar.length, 'the visitor saw more content than the archive held');
}

describe('tar reader fuzzing', () => {
  it(`damaged archives only ever throw TarFormatError (seed ${FUZZ_SEED + 10})`, { timeout: 60_000 }, () => {
    let current: Random | undefined;
    const stats = fuzz({
      name: 'tar reader',
      seed: FUZZ_SEED + 10,
      generate: (random) => {
        current = random;
        return archive(random);
      },
      target: (tar) => read(tar, current!),
      show: (tar) => tar.toString('base64'),
      allowed: [TarFormatError],
    });
    assert.ok(
      stats.accepted > 0 && stats.accepted < stats.runs,
      `accepted ${stats.accepted} of ${stats.runs}`,
    );
  });

  it('a PAX xattr name with a bad %-escape is a TarFormatError (was a URIError)', () => {
    const tar = craftTar([
      paxEntry([paxRecord('LIBARCHIVE.xattr.%E0%A4%A', 'AAAA')]),
      { name: 'f', content: 'x' },
    ]);
    assert.throws(() => read(tar, new Random(1)), {
      name: 'TarFormatError',
      message: 'invalid PAX record "LIBARCHIVE.xattr.%E0%A4%A" for f: bad %-escape',
    });
  });

  it('global PAX records are read, not copied, for each entry (20,000 records, 2,000 entries)', () => {
    const records = Array.from({ length: 20_000 }, (_, i) => paxRecord(`comment.${i}`, 'x'));
    records.push(paxRecord('SCHILY.xattr.user.g', 'global'));
    const files = Array.from({ length: 2000 }, (_, i): RawEntry => ({ name: `f${i}`, content: 'x' }));
    const tar = craftTar([
      paxEntry(records, 'g'),
      paxEntry([paxRecord('SCHILY.xattr.user.l', 'local')]),
      ...files,
    ]);
    const seen: string[][] = [];
    const parser = new TarParser({
      entry: (header) => seen.push([...header.xattrs.keys()]),
      data: () => undefined,
      entryEnd: () => undefined,
    });
    parser.write(tar);
    parser.end();
    assert.equal(seen.length, 2000);
    assert.deepEqual(seen[0], ['user.g', 'user.l']);
    assert.deepEqual(seen[1], ['user.g']);
  });
});
