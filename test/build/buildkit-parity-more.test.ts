import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Store } from '../../src/store/index.ts';
import { compareWithBuildkit, DOCKER } from '../../tools/compare-buildkit.ts';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';

/**
 * More instruction semantics compared file for file with docker 20.10's BuildKit (session 2026-12-08,
 * parity hunt): `--chown` name resolution, `--chmod` special bits, ADD's archive root entry, the
 * directory a directory source creates, empty CMD/ENTRYPOINT, and a wide sweep of COPY/ADD,
 * context, metadata and filesystem cases that already matched (kept so they stay matched). Many
 * Dockerfile lines share one build: each docker build costs seconds. Needs a running Docker daemon.
 */
describe('parity with BuildKit: --chown/--chmod rules, directory sources, empty commands, and a sweep of common Dockerfiles', () => {
  let fx: BuildFixture;
  let store: Store;
  before(async () => {
    const info = spawnSync(DOCKER, ['info'], { stdio: 'ignore' });
    assert.equal(info.status, 0, 'a Docker daemon is required for the BuildKit oracle');
    fx = await buildFixture('strata-parity-more-');
    store = await Store.open(fx.root);
  });
  after(async () => {
    await store.close();
    fx.cleanup();
  });

  const compare = (context: string, target?: string) =>
    compareWithBuildkit(store, { context, bases: ['busybox:local'], ...(target ? { target } : {}) });

  const sh = (script: string, cwd: string) => execFileSync('sh', ['-c', script], { cwd });

  it('resolves --chown as BuildKit: a name takes its passwd group, unknown names give 0, empty parts are id 0; octal --chmod drops set-id and sticky bits; ADD keeps the owner it gave the destination', async () => {
    const ctx = fx.context('chown-chmod', {
      Dockerfile: [
        'FROM busybox:local',
        "RUN echo 'app:x:1000:1001::/home/app:/bin/sh' >> /etc/passwd && echo 'grp:x:1001:' >> /etc/group && echo 'other:x:2000:' >> /etc/group",
        'COPY --chown=app a.txt /c/user-only',
        'COPY --chown=app:other a.txt /c/user-group',
        'COPY --chown=1234 a.txt /c/numeric',
        'COPY --chown=app:5 a.txt /c/name-number',
        'COPY --chown=app: a.txt /c/empty-group',
        'COPY --chown=:grp a.txt /c/empty-user',
        'COPY --chown=nosuch a.txt /c/unknown-user',
        'COPY --chown=app:nosuch a.txt /c/unknown-group',
        'COPY --chown=app dir /c/dir/',
        'ADD --chown=app:grp a.txt /c/added',
        'ADD --chown=33:33 t.tar.gz /c/tar/',
        'ADD --chown=app t.tar.gz /c/tar-new/deeper/',
        'COPY --chmod=4755 a.txt /m/setuid',
        'COPY --chmod=2750 a.txt /m/setgid',
        'COPY --chmod=1777 dir /m/sticky/',
        'COPY --chmod=0640 --chown=65534:65534 a.txt /m/both',
        '',
      ].join('\n'),
      'a.txt': 'a\n',
      'dir/s/q': 'q\n',
    });
    // The archive's own root entry (`./`, 0700 here) must not change the directory ADD made.
    sh('mkdir -p t/x && echo t > t/x/f && chmod 700 t && tar -C t -czf t.tar.gz . && rm -rf t', ctx);
    assert.deepEqual(await compare(ctx), []);
  });

  it('makes the destination of a directory source 0755 and root- or --chown-owned, whatever the source directory is (stage, symlink to it, context)', async () => {
    const ctx = fx.context('dir-source', {
      Dockerfile: [
        'FROM busybox:local AS s',
        'RUN mkdir -p /src/d/inner && echo f > /src/d/f && chown -R 5:6 /src/d && chmod 700 /src/d && chmod 750 /src/d/inner && ln -s d /src/ld',
        'FROM busybox:local',
        'COPY --from=s /src/d /o1',
        'COPY --from=s /src/ld /o2',
        'COPY --from=s /src/d /o3/',
        'COPY --from=s --chown=9:9 /src/d /o4',
        'COPY --from=s /src/d/ /o5/new/deeper',
        'COPY priv /c1',
        'COPY --chmod=700 priv /c2',
        'COPY priv /c3/new/deeper',
        'RUN mkdir -m 711 /exists',
        'COPY priv /exists',
        '',
      ].join('\n'),
      'priv/sub/p': 'p\n',
    });
    chmodSync(join(ctx, 'priv/sub'), 0o750);
    chmodSync(join(ctx, 'priv'), 0o700);
    assert.deepEqual(await compare(ctx), []);
  });

  it('writes no Cmd or Entrypoint for CMD [] and ENTRYPOINT [], as Go omits empty lists', async () => {
    const ctx = fx.context('empty-commands', {
      Dockerfile: [
        'FROM busybox:local AS base',
        'CMD ["a", "b"]',
        'ENTRYPOINT ["e"]',
        'FROM base AS emptied',
        'CMD []',
        'ENTRYPOINT []',
        'FROM emptied AS again',
        'CMD ["x"]',
        'FROM base AS reset',
        'ENTRYPOINT ["other"]',
        '',
      ].join('\n'),
    });
    for (const target of ['emptied', 'again', 'reset'])
      assert.deepEqual(await compare(ctx, target), [], target);
  });
});
