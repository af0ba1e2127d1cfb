import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ContextView } from '../../src/context/index.ts';
import { parseChmodMode, parseDockerfile } from '../../src/dockerfile/index.ts';
import { parsePlatform } from '../../src/oci/index.ts';
import { type AddStep, type CopyStep, planBuild } from '../../src/plan/index.ts';
import { copyDestination } from '../../src/solver/steps/copy.ts';
import { type CopyOwnership, downloadName, writeCopy } from '../../src/solver/steps/copy-writer.ts';
import { getAttributeSync, setAttributeSync } from '../../src/util/index.ts';

/*
 * The COPY writer (solver/steps/copy-writer.ts) on a temporary rootfs: what it writes — modes,
 * owners, --chown, --chmod, hardlinks, symlinks, merges into existing directories, xattrs — and
 * that it never writes outside the root. Files are made and owned by uid 0 (the test runs as root,
 * as builds do) unless a case says otherwise.
 */

const AMD64 = parsePlatform('linux/amd64');
const isRoot = process.getuid?.() === 0;

/** The COPY/ADD step of `FROM scratch\n<line>`. */
function copyStep(line: string): CopyStep | AddStep {
  const graph = planBuild(parseDockerfile(`FROM scratch\n${line}\n`), {
    platform: AMD64,
    buildPlatform: AMD64,
  });
  const step = graph.stages[graph.target]!.steps.at(-1)!;
  assert.ok(step.kind === 'copy' || step.kind === 'add');
  return step;
}

let work = '';
let context = '';
let rootfs = '';

describe('COPY writer', () => {
  beforeEach(() => {
    // Under the repository, not /tmp: tmpfs may not take user.* xattrs.
    const base = join(import.meta.dirname, '../../.tmp');
    mkdirSync(base, { recursive: true });
    work = mkdtempSync(join(base, 'copy-writer-'));
    context = join(work, 'context');
    rootfs = join(work, 'rootfs');
    mkdirSync(context);
    mkdirSync(rootfs);
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  /** Runs the COPY/ADD `line` from the context into the rootfs. */
  async function copy(
    line: string,
    options: { ownership?: CopyOwnership; keepOwner?: boolean; workdir?: string } = {},
  ): Promise<void> {
    const step = copyStep(line);
    await writeCopy({
      rootfs,
      view: new ContextView(context),
      step,
      dest: copyDestination(options.workdir ?? '/', step.dest),
      ownership: options.ownership ?? {},
      keepOwner: options.keepOwner ?? false,
      epochSeconds: 0,
    });
  }

  function file(path: string, content: string, mode = 0o644): void {
    mkdirSync(join(context, path, '..'), { recursive: true });
    writeFileSync(join(context, path), content);
    chmodSync(join(context, path), mode);
  }

  const mode = (path: string) => lstatSync(join(rootfs, path)).mode & 0o7777;
  const owner = (path: string) => {
    const st = lstatSync(join(rootfs, path));
    return [st.uid, st.gid];
  };

  describe('COPY writer: modes', () => {
    // [source mode, expected mode of the copy]
    const cases: ReadonlyArray<[number, number]> = [
      [0o644, 0o644],
      [0o600, 0o600],
      [0o755, 0o755],
      [0o4755, 0o4755],
      [0o1777, 0o1777],
    ];
    for (const [source, expected] of cases) {
      it(`keeps a file's mode ${source.toString(8)}`, async () => {
        file('f', 'x', source);
        await copy('COPY f /f');
        assert.equal(mode('f'), expected);
      });
    }

    it("makes a directory source's missing destination 0755 like its parents, not the source's mode (fsutil's prepareTargetDir)", async () => {
      file('d/a', 'a');
      file('d/sub/b', 'b');
      chmodSync(join(context, 'd'), 0o700);
      chmodSync(join(context, 'd/sub'), 0o750);
      await copy('COPY d /x/y/d');
      assert.equal(mode('x'), 0o755);
      assert.equal(mode('x/y'), 0o755);
      assert.equal(mode('x/y/d'), 0o755);
      assert.equal(mode('x/y/d/sub'), 0o750);
      assert.equal(readFileSync(join(rootfs, 'x/y/d/a'), 'utf8'), 'a');
    });

    it('--chmod replaces the permission bits of copied files and directories, not of directories the copy creates', async () => {
      file('d/a', 'a', 0o600);
      file('d/sub/b', 'b', 0o644);
      await copy('COPY --chmod=751 d /p/d', { ownership: { mode: { kind: 'octal', bits: 0o751 } } });
      assert.equal(mode('p'), 0o755);
      assert.equal(mode('p/d'), 0o755);
      assert.equal(mode('p/d/a'), 0o751);
      assert.equal(mode('p/d/sub'), 0o751);
      assert.equal(mode('p/d/sub/b'), 0o751);
    });

    it('--chmod in symbolic form applies to each file’s own mode: X only for directories and executables', async () => {
      file('d/plain', 'a', 0o600);
      file('d/tool', 'b', 0o700);
      await copy('COPY --chmod=u=rwX,go=rX d /p/d', { ownership: { mode: parseChmodMode('u=rwX,go=rX') } });
      assert.equal(mode('p/d'), 0o755);
      assert.equal(mode('p/d/plain'), 0o644);
      assert.equal(mode('p/d/tool'), 0o755);
    });
  });

  describe('COPY writer: owners', { skip: !isRoot && 'needs root to own files as others' }, () => {
    it('gives context files to root, whoever owns them', async () => {
      file('f', 'x');
      chownSync(join(context, 'f'), 1234, 5678);
      await copy('COPY f /f');
      assert.deepEqual(owner('f'), [0, 0]);
    });

    it("keeps a stage's or image's owners (keepOwner), not for the destination directory the copy makes", async () => {
      file('d/sub/f', 'x');
      chownSync(join(context, 'd/sub/f'), 1234, 5678);
      chownSync(join(context, 'd/sub'), 42, 43);
      chownSync(join(context, 'd'), 44, 45);
      await copy('COPY d /d', { keepOwner: true });
      assert.deepEqual(owner('d/sub/f'), [1234, 5678]);
      assert.deepEqual(owner('d/sub'), [42, 43]);
      assert.deepEqual(owner('d'), [0, 0]);
    });

    it('--chown owns files, directories and the parents the copy creates', async () => {
      file('d/f', 'x');
      symlinkSync('f', join(context, 'd/l'));
      await copy('COPY --chown=7:8 d /new/d', { ownership: { owner: { uid: 7, gid: 8 } }, keepOwner: true });
      for (const path of ['new', 'new/d', 'new/d/f', 'new/d/l']) assert.deepEqual(owner(path), [7, 8], path);
    });

    it('leaves existing parents as they are', async () => {
      mkdirSync(join(rootfs, 'srv'));
      chownSync(join(rootfs, 'srv'), 5, 5);
      file('f', 'x');
      await copy('COPY --chown=7:8 f /srv/f', { ownership: { owner: { uid: 7, gid: 8 } } });
      assert.deepEqual(owner('srv'), [5, 5]);
      assert.deepEqual(owner('srv/f'), [7, 8]);
    });
  });

  describe('COPY writer: links', () => {
    it('keeps hardlinks within one source as hardlinks', async () => {
      file('d/a', 'shared');
      linkSync(join(context, 'd/a'), join(context, 'd/b'));
      await copy('COPY d /d');
      const a = statSync(join(rootfs, 'd/a'));
      const b = statSync(join(rootfs, 'd/b'));
      assert.equal(a.ino, b.ino);
      assert.equal(a.nlink, 2);
    });

    it('copies symlinks as symlinks, not what they point to, dangling or absolute', async () => {
      file('d/target', 't');
      symlinkSync('target', join(context, 'd/rel'));
      symlinkSync('/etc/passwd', join(context, 'd/abs'));
      symlinkSync('missing', join(context, 'd/dangling'));
      await copy('COPY d /d');
      for (const [name, target] of [
        ['rel', 'target'],
        ['abs', '/etc/passwd'],
        ['dangling', 'missing'],
      ] as const) {
        assert.ok(lstatSync(join(rootfs, 'd', name)).isSymbolicLink(), name);
        assert.equal(readlinkSync(join(rootfs, 'd', name)), target);
      }
    });
  });

  describe('COPY writer: destinations', () => {
    it("merges a directory's contents into an existing directory, replacing files", async () => {
      mkdirSync(join(rootfs, 'app'));
      writeFileSync(join(rootfs, 'app/kept'), 'old');
      writeFileSync(join(rootfs, 'app/replaced'), 'old');
      file('src/replaced', 'new');
      file('src/added', 'new');
      await copy('COPY src /app');
      assert.equal(readFileSync(join(rootfs, 'app/kept'), 'utf8'), 'old');
      assert.equal(readFileSync(join(rootfs, 'app/replaced'), 'utf8'), 'new');
      assert.equal(readFileSync(join(rootfs, 'app/added'), 'utf8'), 'new');
    });

    it('puts a file into an existing directory, and makes a new path the file itself', async () => {
      mkdirSync(join(rootfs, 'dir'));
      file('f', 'x');
      await copy('COPY f /dir');
      await copy('COPY f /file');
      assert.equal(readFileSync(join(rootfs, 'dir/f'), 'utf8'), 'x');
      assert.ok(lstatSync(join(rootfs, 'file')).isFile());
    });

    it('resolves a relative destination against the working directory', async () => {
      file('f', 'x');
      await copy('COPY f sub/', { workdir: '/w' });
      assert.equal(readFileSync(join(rootfs, 'w/sub/f'), 'utf8'), 'x');
    });

    it('writes a heredoc source as a new 0644 file', async () => {
      await copy('COPY <<EOF /etc/greeting\nhello\nEOF');
      assert.equal(readFileSync(join(rootfs, 'etc/greeting'), 'utf8'), 'hello\n');
      assert.equal(mode('etc/greeting'), 0o644);
    });
  });

  describe('COPY writer: xattrs', () => {
    it('copies user xattrs of files and directories, not onto the destination directory the copy makes', async (t) => {
      file('d/sub/f', 'x');
      try {
        setAttributeSync(join(context, 'd/sub/f'), 'user.strata.test', 'file');
        setAttributeSync(join(context, 'd/sub'), 'user.strata.test', 'dir');
        setAttributeSync(join(context, 'd'), 'user.strata.test', 'top');
      } catch {
        t.skip('this filesystem does not take user xattrs');
        return;
      }
      await copy('COPY d /d');
      assert.equal(getAttributeSync(join(rootfs, 'd/sub/f'), 'user.strata.test')?.toString(), 'file');
      assert.equal(getAttributeSync(join(rootfs, 'd/sub'), 'user.strata.test')?.toString(), 'dir');
      // fsutil's copyDirectory copies metadata and xattrs only onto a directory it creates itself.
      assert.equal(getAttributeSync(join(rootfs, 'd'), 'user.strata.test'), null);
    });
  });

  describe('COPY writer: never outside the root', () => {
    /** A directory beside the rootfs that a symlink in the rootfs points at, by absolute host path. */
    let outside = '';
    beforeEach(() => {
      outside = join(work, 'outside');
      mkdirSync(outside);
    });

    // [what the rootfs holds, destination, where the file lands: its path inside the root]
    const cases: ReadonlyArray<
      [string, (root: string, out: string) => void, string, (out: string) => string]
    > = [
      [
        'an absolute symlink to a host directory',
        (r, o) => symlinkSync(o, join(r, 'link')),
        '/link/',
        (o) => join(o, 'f'),
      ],
      [
        'a symlink climbing out with ..',
        (r) => symlinkSync('../../../../..', join(r, 'up')),
        '/up/escape/',
        () => 'escape/f',
      ],
      [
        'a symlinked parent of the destination',
        (r, o) => symlinkSync(o, join(r, 'p')),
        '/p/sub/f',
        (o) => join(o, 'sub/f'),
      ],
    ];
    for (const [what, setup, dest, landing] of cases) {
      it(`through ${what}`, async () => {
        setup(rootfs, outside);
        file('f', 'x');
        await copy(`COPY f ${dest}`);
        assert.deepEqual(readdirSync(outside), [], 'nothing may be written outside the root');
        assert.equal(readFileSync(join(rootfs, landing(outside)), 'utf8'), 'x');
      });
    }

    it('writes through a destination symlink to its target inside the root', async () => {
      symlinkSync('/etc/target', join(rootfs, 'dest'));
      mkdirSync(join(rootfs, 'etc'));
      file('f', 'x');
      await copy('COPY f /dest');
      assert.equal(readFileSync(join(rootfs, 'etc/target'), 'utf8'), 'x');
      assert.ok(lstatSync(join(rootfs, 'dest')).isSymbolicLink());
    });
  });

  describe('ADD download names', () => {
    // [URL, the name BuildKit's dispatcher gives the download (Go's url.Parse + path.Base)]
    const cases: ReadonlyArray<readonly [string, string]> = [
      ['https://example.com/a.tar.gz', 'a.tar.gz'],
      ['https://example.com/with%20space.txt', 'with space.txt'],
      ['https://example.com/%C3%BCn%C3%AF.txt', 'ünï.txt'],
      ['https://example.com/x.tgz?y=1#frag', 'x.tgz'],
      ['https://example.com/dir/', 'dir'],
      ['https://example.com/a%2Fb', 'b'],
      ['https://example.com/', '__unnamed__'],
      ['https://example.com', '__unnamed__'],
      ['https://example.com/bad%zz', '__unnamed__'],
    ];
    for (const [url, name] of cases) {
      it(`names ${url} ${JSON.stringify(name)}`, () => assert.equal(downloadName(url), name));
    }
  });
});
