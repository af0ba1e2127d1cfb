import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
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

  it('makes the destination of a directory source 0755 and root- or --chown-owned, whatever the source directory is (stage, symlink to it, context); `dest/.` is `dest`', async () => {
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
        'RUN mkdir -m 711 /exists /dotdir',
        'COPY priv /exists',
        // docker 20.10 cleans `dest/.` to `dest`: a missing one becomes the file itself.
        'COPY a.txt /dotdest/.',
        'COPY a.txt /dotdir/.',
        'WORKDIR /w',
        'COPY a.txt sub/.',
        'COPY a.txt .',
        '',
      ].join('\n'),
      'priv/sub/p': 'p\n',
      'a.txt': 'a\n',
    });
    chmodSync(join(ctx, 'priv/sub'), 0o750);
    chmodSync(join(ctx, 'priv'), 0o700);
    assert.deepEqual(await compare(ctx), []);
  });

  it('makes WORKDIR directories owned by USER as a file op resolves it: a number is uid:uid, a name takes its passwd group, an unknown name is root', async () => {
    const ctx = fx.context('workdir-user', {
      Dockerfile: [
        'FROM busybox:local',
        "RUN echo 'app:x:1000:1001::/home/app:/bin/sh' >> /etc/passwd && echo 'grp:x:1001:' >> /etc/group",
        'USER 4321',
        'WORKDIR /w1/a',
        'USER 1000',
        'WORKDIR /w2',
        'USER app',
        'WORKDIR /w3',
        'USER app:grp',
        'WORKDIR /w4',
        'USER 1000:5',
        'WORKDIR /w5',
        'USER nosuch',
        'WORKDIR /w6',
        'USER app:',
        'WORKDIR /w7',
        'USER :grp',
        'WORKDIR /w8/b',
        '',
      ].join('\n'),
    });
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

  it('sweep: COPY/ADD wildcards, dir vs dir/, several sources, symlinked and existing destinations, context symlinks, spaces and unicode, hardlinks, set-id files, sticky and empty directories, .dockerignore exceptions, local archives', async () => {
    const ctx = fx.context('sweep-copy', {
      Dockerfile: [
        'FROM busybox:local',
        'RUN mkdir /d && echo old > /d/f && ln -s /d /ld && ln -s f /d/lf && mkdir -p /e /app/keep && touch /e/x && echo old > /app/keep/old && echo x > /app/file',
        'COPY src/*.txt /w1/',
        'COPY src/?.md /w2/',
        'COPY src/[ab].txt /w3/',
        'COPY src /d1',
        'COPY src/ /d2/',
        'COPY sr* /d3/',
        'COPY src/*/c.txt /deepglob/',
        'COPY src/a.txt src/b.txt /multi/',
        'COPY src/a.txt /renamed',
        'COPY src/a.txt /d/f',
        'COPY src/a.txt /ld/',
        'COPY src/b.txt /d/lf',
        'COPY src /e',
        'COPY lfile /s1',
        'COPY ldir /s2',
        'COPY ["with space.txt", "/sp dir/x y.txt"]',
        'COPY app/ /app/',
        'COPY . /ctx/',
        'ADD a.tar.gz /g/',
        'ADD a.tar.xz /x/',
        'ADD a.tar.bz2 /b/',
        'ADD a.tar /p/',
        'ADD a.tar.gz /gnoslash',
        'ADD notar.gz /ng/',
        'ADD holder /holder',
        '',
      ].join('\n'),
      'src/a.txt': 'a\n',
      'src/b.txt': 'b\n',
      'src/m.md': 'm\n',
      'src/sub/c.txt': 'c\n',
      'with space.txt': 's\n',
      'ünï/ç.txt': 'u\n',
      'app/keep/new': 'new\n',
      'app/file': 'f2\n',
      'keep/k.log': 'k\n',
      'x.log': 'x\n',
      'logs/deep/y.log': 'y\n',
      'README.md': 'r\n',
      'notes.md': 'n\n',
      '.dockerignore': '**/*.log\n!keep/*.log\n*.md\n!README.md\n',
    });
    sh(
      [
        'mkdir -p empty/inner sticky && chmod 1777 sticky && echo h > hl1 && ln hl1 hl2 && echo s > suid && chmod 4755 suid',
        'ln -s src/a.txt lfile && ln -s src ldir && ln -s /etc/passwd abs-link && ln -s missing dangling',
        'mkdir -p t/x && echo t > t/x/f && ln -s f t/x/s && ln t/x/f t/x/h && tar -C t -cf a.tar . && gzip -kf a.tar && xz -kf a.tar && bzip2 -kf a.tar && rm -rf t',
        'echo plain | gzip > notar.gz && mkdir holder && cp a.tar.gz holder/',
      ].join(' && '),
      ctx,
    );
    assert.deepEqual(await compare(ctx), []);
  });

  it('sweep: ENV/ARG expansion forms, quoting, LABEL, EXPOSE, HEALTHCHECK, STOPSIGNAL, VOLUME, SHELL, USER, CMD and ENTRYPOINT', async () => {
    const ctx = fx.context('sweep-config', {
      Dockerfile: [
        'FROM busybox:local',
        'ARG A',
        'ARG B=bee',
        'ARG U=65534',
        'ENV E1=${A:-dflt} E2=${B:-dflt} E3=${A:+set} E4=${B:+set} E5=\\$B E6=\'$B\' E7="$B" E8=${B}x E9=$B/$B',
        'ENV E10="a b c" E11=a\\ b E13=${NOPE} E14="${B:-x y}" E15="it\'s" E16=\'say "hi"\'',
        'ENV E12 spaced value here',
        'ENV Q1="a\\"b" Q2=\'x\\y\' F=a=b=c G="" H=',
        'ENV A1=1',
        'ENV A1=2 B1=$A1 C1=${A1}3',
        'ENV PATH=$PATH:/extra',
        'LABEL l1=$B l2="${B}-${E1}" "l 3"="v 3" multi="line one \\',
        'line two"',
        'LABEL empty=""',
        'MAINTAINER someone <a@b.c>',
        'WORKDIR /$B',
        'COPY --chown=$U:$U a.txt /${B}file',
        'EXPOSE 80 443/tcp 53/udp 8000-8002 ${PORT:-8080}',
        'HEALTHCHECK --interval=5m --timeout=3s --start-period=10s --retries=4 CMD wget -q -O- http://localhost/ || exit 1',
        'STOPSIGNAL SIGUSR1',
        'VOLUME ["/v1", "/v2"]',
        'VOLUME /v3 /v4',
        'SHELL ["/bin/sh", "-xc"]',
        'RUN printf \'%s|\' "$E1" "$E2" "$E3" "$E5" "$E6" "$Q1" "$Q2" "$B1" "$C1" "$PATH" > /env.out',
        'USER ${U}',
        'CMD echo "quoted \\"x\\"" \'single\' $HOME \\',
        '    continued',
        'ENTRYPOINT ["/bin/sh", "-c"]',
        '',
      ].join('\n'),
      'a.txt': 'a\n',
    });
    assert.deepEqual(await compare(ctx), []);
  });

  it('sweep: deletions and replaced directories (whiteouts, opaque), set-id, links and FIFOs from RUN, writes into a VOLUME, ONBUILD through a stage', async () => {
    const ctx = fx.context('sweep-fs', {
      Dockerfile: [
        'FROM busybox:local AS base',
        'RUN mkdir -p /d/sub && echo 1 > /d/sub/f && echo 2 > /d/g && echo 3 > /rmme && mkdir /gone && touch /gone/x',
        'ONBUILD RUN echo fired > /fired',
        'ONBUILD COPY a.txt /onb',
        'FROM base AS fs',
        'RUN rm /rmme && rm -rf /d && mkdir -p /d/new && echo n > /d/new/f && rm -rf /gone && echo file > /gone',
        'RUN rm /bin/vi && mkdir /bin/vi',
        'RUN mkdir -p /a/b && touch /a/b/c && chmod 4755 /a/b/c && chown 3:4 /a/b && ln -s /a /la && ln /a/b/c /a/hl && mkfifo /a/fifo && chmod 1777 /a',
        'RUN mv /a /moved && mkdir /a && chmod 700 /a',
        'RUN mkdir /vol && echo before > /vol/b',
        'VOLUME /vol',
        'RUN echo after > /vol/a && echo x > /vol/b',
        'FROM fs',
        'RUN echo final > /final',
        '',
      ].join('\n'),
      'a.txt': 'a\n',
    });
    assert.deepEqual(await compare(ctx), []);
  });

  it('names an ADD download as BuildKit: the URL path’s last element, percent-decoded; kept 0600 and not extracted', async () => {
    // The server runs in its own process: compareWithBuildkit waits for docker synchronously, so
    // a server in this process could not answer BuildKit's download.
    const files = join(fx.work, 'served');
    sh(
      'mkdir -p served/dir && echo sp > "served/with space.txt" && echo u > "served/ünï.txt" && echo p > served/plain.txt && echo i > served/dir/index.html && cd served && echo t > t && tar -czf a.tar.gz t && rm t',
      fx.work,
    );
    const server = spawn(
      process.execPath,
      [
        '-e',
        `const {createServer}=require('node:http');const {readFileSync}=require('node:fs');const {join}=require('node:path');
         const s=createServer((q,r)=>{let p=decodeURIComponent(new URL(q.url,'http://x').pathname);if(p.endsWith('/'))p+='index.html';
         try{r.end(readFileSync(join(process.argv[1],p)))}catch{r.statusCode=404;r.end()}});
         s.listen(0,'127.0.0.1',()=>console.log(s.address().port));`,
        files,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const [port] = (await once(server.stdout!, 'data')) as [Buffer];
      const base = `http://127.0.0.1:${port.toString().trim()}`;
      const ctx = fx.context('add-url', {
        Dockerfile: [
          'FROM busybox:local',
          `ADD ${base}/with%20space.txt /r/`,
          `ADD ${base}/%C3%BCn%C3%AF.txt /r/`,
          `ADD ${base}/plain.txt?name=x#frag /r/`,
          `ADD ${base}/dir/ /r/`,
          `ADD ${base}/a.tar.gz /r/`,
          `ADD --chown=5:6 ${base}/plain.txt /owned`,
          '',
        ].join('\n'),
      });
      assert.deepEqual(await compare(ctx), []);
    } finally {
      server.kill();
    }
  });
});
