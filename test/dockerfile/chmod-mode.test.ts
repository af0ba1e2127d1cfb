// Symbolic --chmod (Dockerfile 1.14) as BuildKit applies it: BSD setmode(3) with umask 0. GNU
// chmod run under `umask 0` implements the same POSIX symbolic modes and is the oracle here.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  applyChmod,
  DockerfileError,
  invalidChmodMessage,
  isValidChmod,
  parseChmodMode,
} from '../../src/dockerfile/index.ts';

const MODES = [
  '+x',
  'u+x',
  'u=rwX,go=rX',
  'a+X',
  'go-w',
  'o=',
  'g=u',
  'o=g',
  'u+r-w',
  'a=r,u+w',
  'ug+rw,o-rwx',
  '=rx',
  '-x',
  'u+s',
  'g+s',
  'a-X',
];
const PERMS = [0o000, 0o600, 0o644, 0o700, 0o755, 0o4755, 0o777, 0o070];

const work = mkdtempSync(join(tmpdir(), 'strata-chmod-'));
after(() => rmSync(work, { recursive: true, force: true }));

/**
 * What GNU chmod makes of each of PERMS under `mode`, umask 0, for files and directories: one
 * shell per mode, `[file modes…, directory modes…]`.
 */
function gnuChmod(mode: string): number[] {
  const base = join(work, String(Math.random()).slice(2));
  const script = [
    'umask 0',
    'cd "$0"',
    'for perm in "$@"; do : > "f$perm"; mkdir "d$perm"; chmod "$perm" "f$perm" "d$perm"; done',
    'set -- $(for perm in "$@"; do echo "f$perm"; done) $(for perm in "$@"; do echo "d$perm"; done)',
    `chmod -- '${mode}' "$@"`,
    'stat -c %a "$@"',
  ].join('\n');
  mkdirSync(base);
  const out = execFileSync('sh', ['-c', script, base, ...PERMS.map((p) => p.toString(8).padStart(4, '0'))], {
    encoding: 'utf8',
  });
  return out
    .trim()
    .split('\n')
    .map((line) => Number.parseInt(line, 8));
}

describe('--chmod: symbolic modes', () => {
  for (const mode of MODES) {
    it(`${mode} matches chmod(1) under umask 0 on files and directories`, () => {
      const parsed = parseChmodMode(mode);
      const gnu = gnuChmod(mode);
      [false, true].forEach((directory, d) => {
        PERMS.forEach((perm, i) => {
          // GNU chmod keeps a directory's set-gid bit unless told otherwise; setmode has no such
          // rule, so the comparison leaves directories with set-id bits out.
          if (directory && (perm & 0o6000) !== 0) return;
          assert.equal(
            applyChmod(parsed, perm, directory).toString(8),
            gnu[d * PERMS.length + i]!.toString(8),
            `${mode} on ${directory ? 'directory' : 'file'} ${perm.toString(8)}`,
          );
        });
      });
    });
  }

  // Where BSD's setmode (and so BuildKit) and GNU chmod part ways, BuildKit's answer is pinned.
  it('decides X by the mode the file had, not the one earlier clauses made (setmode, unlike GNU)', () => {
    assert.equal(applyChmod(parseChmodMode('u=rwx,go=rX'), 0o000, false), 0o744);
    assert.equal(applyChmod(parseChmodMode('u=rwx,go=rX'), 0o100, false), 0o755);
    assert.equal(applyChmod(parseChmodMode('u=rwx,go=rX'), 0o000, true), 0o755);
  });

  it('keeps the sticky bit unless a clause names it (setmode, unlike GNU)', () => {
    assert.equal(applyChmod(parseChmodMode('o='), 0o1777, false), 0o1770);
    assert.equal(applyChmod(parseChmodMode('=rx'), 0o1777, false), 0o1555);
    // `t` (like `s`) applies only with `u`/`g` among the classes or none given: `o+t` does nothing.
    assert.equal(applyChmod(parseChmodMode('o+t'), 0o755, false), 0o755);
    assert.equal(applyChmod(parseChmodMode('+t'), 0o755, true), 0o1755);
    assert.equal(applyChmod(parseChmodMode('-t'), 0o1755, true), 0o755);
  });

  it('keeps octal modes as they are', () => {
    assert.deepEqual(parseChmodMode('0755'), { kind: 'octal', bits: 0o755 });
    assert.equal(applyChmod(parseChmodMode('644'), 0o777, true), 0o644);
  });

  it('drops the setuid, setgid and sticky bits of an octal mode, as docker 20.10 BuildKit does', () => {
    assert.deepEqual(parseChmodMode('4755'), { kind: 'octal', bits: 0o4755 });
    assert.equal(applyChmod(parseChmodMode('4755'), 0o644, false), 0o755);
    assert.equal(applyChmod(parseChmodMode('1777'), 0o755, true), 0o777);
    assert.equal(applyChmod(parseChmodMode('2750'), 0o4755, false), 0o750);
    // A symbolic mode still sets them (Dockerfile 1.14, after 0.8: current BuildKit's rule).
    assert.equal(applyChmod(parseChmodMode('u+s'), 0o755, false), 0o4755);
  });

  it('refuses what BuildKit refuses, with its messages', () => {
    for (const bad of ['u+q', 'u+r,', 'z=r', '', 'rwx']) {
      assert.equal(isValidChmod(bad), false, bad);
    }
    assert.throws(
      () => parseChmodMode('08'),
      (e: unknown) =>
        e instanceof DockerfileError &&
        e.message === "invalid chmod parameter: '08'. it should be octal string and between 0 and 07777",
    );
    assert.equal(invalidChmodMessage('u+q'), "invalid chmod parameter: 'u+q': invalid syntax");
    assert.equal(isValidChmod('10000'), false);
  });
});
