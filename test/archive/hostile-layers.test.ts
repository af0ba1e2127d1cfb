import assert from 'node:assert/strict';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { applyLayer } from '../../src/archive/index.ts';
import { StrataError } from '../../src/util/index.ts';
import { craftTar, paxEntry, paxRecord, rawHeader, snapshotTree } from './helpers.ts';

// Layout: <base>/sentinel holds files an attack would like to change; every case applies its
// tar onto <base>/work/<case>/root and then checks that the sentinel and everything outside the
// root is exactly as before.
const base = mkdtempSync(join(tmpdir(), 'strata-archive-evil-'));
after(() => rmSync(base, { recursive: true, force: true }));
const S = join(base, 'sentinel');
mkdirSync(S);
writeFileSync(join(S, 'victim'), 'original');
mkdirSync(join(S, 'd'), { mode: 0o700 });
writeFileSync(join(S, 'd/keep'), 'keep');
mkdirSync(join(base, 'work'));
const sentinelBefore = snapshotTree(S);

type Outcome =
  | { reject: 'TAR_UNSAFE_ENTRY' | 'TAR_FORMAT' | 'TAR_APPLY' }
  | { contained: (root: string) => void };

interface Attack {
  name: string;
  tar: Buffer;
  outcome: Outcome;
}

const pwned = 'pwned';
const attacks: Attack[] = [
  {
    name: 'a name climbing out with ..',
    tar: craftTar([{ name: '../escape', content: pwned }]),
    outcome: { reject: 'TAR_UNSAFE_ENTRY' },
  },
  {
    name: 'a name climbing out through a directory and ..',
    tar: craftTar([{ name: 'a/../../escape', content: pwned }]),
    outcome: { reject: 'TAR_UNSAFE_ENTRY' },
  },
  {
    name: 'a name climbing to the sentinel with ../..',
    tar: craftTar([{ name: '../../sentinel/victim', content: pwned }]),
    outcome: { reject: 'TAR_UNSAFE_ENTRY' },
  },
  {
    name: 'an absolute name pointing at the sentinel',
    tar: craftTar([{ name: `${S}/victim`, content: pwned }]),
    outcome: { contained: (root) => assert.equal(readFileSync(join(root, S, 'victim'), 'utf8'), pwned) },
  },
  {
    name: 'a file written below an absolute symlink to the sentinel',
    tar: craftTar([
      { name: 'link', type: '2', linkname: S },
      { name: 'link/victim', content: pwned },
    ]),
    outcome: { contained: (root) => assert.equal(readFileSync(join(root, S, 'victim'), 'utf8'), pwned) },
  },
  {
    name: 'a file written below a relative symlink climbing out',
    tar: craftTar([
      { name: 'link', type: '2', linkname: `../../../../../../../../../..${S}` },
      { name: 'link/victim', content: pwned },
    ]),
    outcome: { contained: (root) => assert.equal(readFileSync(join(root, S, 'victim'), 'utf8'), pwned) },
  },
  {
    name: 'a symlink to the victim, then a file of the same name (write-through)',
    tar: craftTar([
      { name: 'v', type: '2', linkname: join(S, 'victim') },
      { name: 'v', content: pwned },
    ]),
    outcome: {
      contained: (root) => {
        assert.ok(lstatSync(join(root, 'v')).isFile());
        assert.equal(readFileSync(join(root, 'v'), 'utf8'), pwned);
      },
    },
  },
  {
    name: 'a directory replaced by a symlink mid-archive, then written through',
    tar: craftTar([
      { name: 'd/', type: '5', mode: 0o755 },
      { name: 'd/first', content: 'ok' },
      { name: 'd', type: '2', linkname: S },
      { name: 'd/victim', content: pwned },
    ]),
    outcome: { contained: (root) => assert.equal(readFileSync(join(root, S, 'victim'), 'utf8'), pwned) },
  },
  {
    name: 'a hardlink climbing out with ..',
    tar: craftTar([{ name: 'h', type: '1', linkname: '../../sentinel/victim' }]),
    outcome: { reject: 'TAR_UNSAFE_ENTRY' },
  },
  {
    name: 'a hardlink to the victim by absolute path',
    tar: craftTar([{ name: 'h', type: '1', linkname: join(S, 'victim') }]),
    outcome: { reject: 'TAR_APPLY' },
  },
  {
    name: 'a hardlink through a symlinked parent to the victim',
    tar: craftTar([
      { name: 's', type: '2', linkname: S },
      { name: 'h', type: '1', linkname: 's/victim' },
    ]),
    outcome: { reject: 'TAR_APPLY' },
  },
  {
    name: 'a hardlink to a symlink to the victim, then a file written to it',
    tar: craftTar([
      { name: 's', type: '2', linkname: join(S, 'victim') },
      { name: 'h', type: '1', linkname: 's' },
      { name: 'h', content: pwned },
    ]),
    outcome: { contained: (root) => assert.ok(lstatSync(join(root, 's')).isSymbolicLink()) },
  },
  {
    name: 'a whiteout naming ..',
    tar: craftTar([{ name: '.wh...' }]),
    outcome: { reject: 'TAR_UNSAFE_ENTRY' },
  },
  {
    name: 'a whiteout climbing out with ..',
    tar: craftTar([{ name: '../sentinel/.wh.victim' }]),
    outcome: { reject: 'TAR_UNSAFE_ENTRY' },
  },
  {
    name: 'a whiteout through a symlinked parent',
    tar: craftTar([{ name: 's', type: '2', linkname: S }, { name: 's/.wh.victim' }, { name: 's/.wh.d' }]),
    outcome: { contained: () => undefined },
  },
  {
    name: 'an opaque marker through a symlinked parent',
    tar: craftTar([{ name: 's', type: '2', linkname: `../../..${S}` }, { name: 's/.wh..wh..opq' }]),
    outcome: { contained: () => undefined },
  },
  {
    name: 'directory metadata deferred past a parent swapped for a symlink',
    tar: craftTar([
      { name: 'p/', type: '5', mode: 0o755 },
      { name: 'p/d/', type: '5', mode: 0o777, mtime: 1 },
      { name: 'p', type: '2', linkname: S },
    ]),
    outcome: { contained: () => undefined },
  },
  {
    name: 'a PAX path override climbing out',
    tar: craftTar([paxEntry([paxRecord('path', '../escape')]), { name: 'innocent', content: pwned }]),
    outcome: { reject: 'TAR_UNSAFE_ENTRY' },
  },
  {
    name: 'a PAX linkpath override on a hardlink climbing out',
    tar: craftTar([
      paxEntry([paxRecord('linkpath', '../../sentinel/victim')]),
      { name: 'h', type: '1', linkname: 'innocent' },
    ]),
    outcome: { reject: 'TAR_UNSAFE_ENTRY' },
  },
  {
    name: 'a GNU long name climbing out',
    tar: craftTar([
      { name: '././@LongLink', type: 'L', content: '../escape\0' },
      { name: 'short', content: pwned },
    ]),
    outcome: { reject: 'TAR_UNSAFE_ENTRY' },
  },
  {
    name: 'a device node outside the root',
    tar: craftTar([{ name: '../null', type: '3', devmajor: 1, devminor: 3 }]),
    outcome: { reject: 'TAR_UNSAFE_ENTRY' },
  },
  {
    name: 'the root replaced by a symlink',
    tar: craftTar([{ name: './', type: '2', linkname: S }]),
    outcome: { reject: 'TAR_UNSAFE_ENTRY' },
  },
  {
    name: 'a hardlink naming the root',
    tar: craftTar([{ name: 'h', type: '1', linkname: '.' }]),
    outcome: { reject: 'TAR_UNSAFE_ENTRY' },
  },
  {
    name: 'a PAX header claiming 1 GiB (memory exhaustion)',
    tar: Buffer.concat([rawHeader({ name: 'PaxHeader/x', type: 'x', size: 1024 ** 3 }), Buffer.alloc(4096)]),
    outcome: { reject: 'TAR_FORMAT' },
  },
  {
    name: 'a header with a bad checksum',
    tar: craftTar([{ name: 'x', content: pwned, badChecksum: true }]),
    outcome: { reject: 'TAR_FORMAT' },
  },
  {
    name: 'an archive truncated inside a file',
    tar: Buffer.concat([rawHeader({ name: 'x', size: 4096 }), Buffer.alloc(100)]),
    outcome: { reject: 'TAR_FORMAT' },
  },
  {
    name: 'a symlink loop in a parent',
    tar: craftTar([
      { name: 'a', type: '2', linkname: 'b' },
      { name: 'b', type: '2', linkname: 'a' },
      { name: 'a/x', content: pwned },
    ]),
    outcome: { reject: 'TAR_APPLY' },
  },
];

describe('hostile layers never write outside the root', () => {
  assert.ok(attacks.length >= 10);
  let i = 0;
  for (const attack of attacks) {
    const caseDir = join(base, 'work', `case-${i++}`);
    it(`${'reject' in attack.outcome ? 'refuses' : 'contains'} ${attack.name}`, async () => {
      const root = join(caseDir, 'root');
      mkdirSync(root, { recursive: true });
      const apply = applyLayer(Readable.from([attack.tar]), root);
      const outcome = attack.outcome;
      if ('reject' in outcome) {
        await assert.rejects(apply, (error: unknown) => {
          assert.ok(error instanceof StrataError, `a typed error, got ${String(error)}`);
          assert.equal(error.code, outcome.reject, error.message);
          return true;
        });
      } else {
        await apply;
        outcome.contained(root);
      }
      // Nothing outside the root changed: the sentinel, the case dir, the base dir.
      assert.deepEqual(snapshotTree(S), sentinelBefore);
      assert.deepEqual(readdirSync(caseDir), ['root']);
      assert.deepEqual(readdirSync(base).sort(), ['sentinel', 'work']);
      assert.equal(lstatSync(join(S, 'victim')).nlink, 1);
      assert.equal(lstatSync(join(S, 'd')).mode & 0o7777, 0o700);
      assert.ok(!existsSync(join(base, 'escape')) && !existsSync(join(base, 'work', 'escape')));
    });
  }
});
