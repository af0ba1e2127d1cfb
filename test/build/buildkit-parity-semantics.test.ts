import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Store } from '../../src/store/index.ts';
import { compareWithBuildkit, DOCKER } from '../../tools/compare-buildkit.ts';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';

/**
 * Instruction semantics where strata once differed from docker 20.10's BuildKit (issue 15 §4):
 * each Dockerfile is built by both and the root filesystems and configs must be equal. The rules
 * are written down in docs/buildkit-differences.md. Needs a running Docker daemon.
 */
describe('parity with BuildKit: WORKDIR, COPY through symlinks and empty wildcards, ADD archives, HEALTHCHECK, ARG over ENV', () => {
  let fx: BuildFixture;
  let store: Store;
  before(async () => {
    const info = spawnSync(DOCKER, ['info'], { stdio: 'ignore' });
    assert.equal(info.status, 0, 'a Docker daemon is required for the BuildKit oracle');
    fx = await buildFixture('strata-parity-semantics-');
    store = await Store.open(fx.root);
  });
  after(async () => {
    await store.close();
    fx.cleanup();
  });

  const compare = (context: string, target?: string, buildArgs?: ReadonlyMap<string, string>) =>
    compareWithBuildkit(store, {
      context,
      bases: ['busybox:local'],
      ...(target ? { target } : {}),
      ...(buildArgs ? { buildArgs } : {}),
    });

  it('records WORKDIR as BuildKit 0.8 does: absolute paths as written, relative ones joined and cleaned', async () => {
    const ctx = fx.context('workdir', {
      Dockerfile: [
        'FROM busybox:local AS base',
        'ENV DIR=/env/dir/',
        'FROM base AS slash',
        'WORKDIR /app/',
        'RUN pwd > /pwd-slash',
        'FROM base AS dots',
        'WORKDIR /a/./b/../c',
        'RUN pwd > /pwd-dots',
        'FROM base AS existing',
        'WORKDIR /tmp/',
        'WORKDIR /tmp',
        'WORKDIR //',
        'FROM base AS relative',
        'WORKDIR /srv/',
        'WORKDIR ./x/../y/',
        'COPY Dockerfile .',
        'FROM base AS env',
        'WORKDIR $DIR',
        'WORKDIR sub/',
        'RUN pwd > /pwd-env',
        '',
      ].join('\n'),
    });
    for (const target of ['slash', 'dots', 'existing', 'relative', 'env'])
      assert.deepEqual(await compare(ctx, target), [], target);
  });

  it('writes COPY through a destination that is a symlink, resolved inside the rootfs', async () => {
    const ctx = fx.context('copy-symlink', {
      Dockerfile: [
        'FROM busybox:local AS base',
        'RUN mkdir -p /opt/real/sub && echo old > /opt/real/file && ln -s /opt/real /abs-dir && ln -s ../opt/real /rel-dir \\',
        ' && ln -s /opt/real/file /to-file && ln -s /missing/target /dangling && ln -s not-here /dangling-rel \\',
        ' && ln -s real/sub /opt/parent-link && ln -s /made/by/copy /dangling-dir',
        'FROM base',
        'COPY a.txt /to-file',
        'COPY a.txt /abs-dir',
        'COPY b.txt /rel-dir/',
        'COPY a.txt /dangling',
        'COPY b.txt /dangling-rel',
        'COPY dir/ /abs-dir',
        'COPY dir /rel-dir/copied/',
        'COPY a.txt /opt/parent-link/deeper/a.txt',
        'COPY dir /dangling-dir/',
        'COPY a.txt b.txt /single',
        '',
      ].join('\n'),
      'a.txt': 'A\n',
      'b.txt': 'B\n',
      'dir/d.txt': 'D\n',
      'dir/nested/n.txt': 'N\n',
    });
    assert.deepEqual(await compare(ctx), []);
  });

  it('creates nothing for a COPY wildcard that matches nothing, alone or beside other sources', async () => {
    const ctx = fx.context('copy-empty-wildcard', {
      Dockerfile: [
        'FROM busybox:local',
        'COPY *.none /none/',
        'COPY *.none /none-file',
        'COPY dir/*.none /deep/none/',
        'COPY *.none a.txt /some/',
        'COPY dir/[x]* /bracket/',
        '',
      ].join('\n'),
      'a.txt': 'A\n',
      'dir/d.txt': 'D\n',
    });
    assert.deepEqual(await compare(ctx), []);
  });

  it('ADDs compressed files that are not tar archives as they are, and extracts real ones', async () => {
    const ctx = fx.context('add-not-archive', {
      Dockerfile: [
        'FROM busybox:local',
        'ADD notes.txt.gz notes.txt.bz2 notes.txt.xz empty.gz zeros.gz tree.tar.zst /files/',
        'ADD notes.txt.gz /single.gz',
        'ADD tree.tar.gz tree.tar.bz2 tree.tar.xz /unpacked/',
        'ADD tree.tar /plain-tar',
        '',
      ].join('\n'),
    });
    writeFileSync(join(ctx, 'notes.txt.gz'), gzipSync('just text, not a tar\n'));
    writeFileSync(join(ctx, 'empty.gz'), gzipSync(''));
    writeFileSync(join(ctx, 'zeros.gz'), gzipSync(Buffer.alloc(1024)));
    execFileSync('sh', [
      '-c',
      [
        `cd ${ctx}`,
        "printf 'just text\\n' > notes.txt && bzip2 -k notes.txt && xz -k notes.txt && rm notes.txt",
        'mkdir -p t/sub && echo inside > t/sub/f && tar -C t -cf tree.tar . && rm -r t',
        'gzip -k tree.tar && bzip2 -k tree.tar && xz -k tree.tar && zstd -q tree.tar -o tree.tar.zst',
      ].join(' && '),
    ]);
    assert.deepEqual(await compare(ctx), []);
  });

  it('ADDs a tar holding whiteout entries literally, never deleting files of the image', async () => {
    const ctx = fx.context('add-whiteouts', {
      Dockerfile: [
        'FROM busybox:local',
        'ADD wh.tar /',
        'ADD wh.tar /below/',
        'RUN ls /bin | wc -l > /bin-count && ls -a /etc /d > /listing',
        '',
      ].join('\n'),
    });
    execFileSync('sh', [
      '-c',
      [
        `cd ${ctx} && mkdir -p w/d/deep w/etc`,
        'echo 1 > w/.wh.bin && echo 2 > w/d/.wh..wh..opq && echo 3 > w/d/deep/.wh.x && echo 4 > w/etc/.wh.passwd',
        'echo 5 > w/.wh..wh.plnk && tar -C w -cf wh.tar . && rm -r w',
      ].join(' && '),
    ]);
    assert.deepEqual(await compare(ctx), []);
  });

  it('records HEALTHCHECK in exec form as ["CMD", arg…], with and without options, and NONE', async () => {
    const ctx = fx.context('healthcheck', {
      Dockerfile: [
        'FROM busybox:local AS exec',
        'HEALTHCHECK CMD ["/bin/true", "--flag"]',
        'FROM busybox:local AS options',
        'HEALTHCHECK --interval=5s --timeout=2s --start-period=1s --retries=4 cmd ["wget", "-q", "http://x/"]',
        'FROM busybox:local AS shell',
        'HEALTHCHECK --retries=2 CMD wget -q http://x/ || exit 1',
        'FROM exec AS none',
        'HEALTHCHECK NONE',
        '',
      ].join('\n'),
    });
    for (const target of ['exec', 'options', 'shell', 'none'])
      assert.deepEqual(await compare(ctx, target), [], target);
  });

  it("gives RUN an ARG's value over an earlier ENV of the same name; a later stage sees the ENV again", async () => {
    const ctx = fx.context('arg-after-env', {
      Dockerfile: [
        'ARG GLOBAL=global',
        'FROM busybox:local AS first',
        'ENV A=env-a B=env-b C=env-c GLOBAL=env-global',
        'ARG A=arg-a',
        'ARG B',
        'ARG GLOBAL',
        'ARG ONLY=only-arg',
        'ENV C=env-c2',
        'RUN echo "$A $B $C $GLOBAL $ONLY" > /first.txt && env | sort | grep -v -e HOSTNAME -e PWD -e SHLVL -e HOME > /first-env',
        'FROM first AS second',
        'RUN echo "$A $B $C $GLOBAL $ONLY" > /second.txt',
        'ARG A',
        'RUN echo "$A" > /second-a.txt',
        '',
      ].join('\n'),
    });
    assert.deepEqual(await compare(ctx, 'first'), []);
    assert.deepEqual(await compare(ctx, 'second'), []);
    assert.deepEqual(
      await compare(
        ctx,
        'second',
        new Map([
          ['B', 'cli-b'],
          ['A', 'cli-a'],
        ]),
      ),
      [],
    );
  });
});
