import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { runStrata } from '../support/cli.ts';

for (const snapshotter of ['overlay', 'native'] as const) {
  describe(`RUN --mount=type=bind (${snapshotter} snapshotter)`, () => {
    let fx: BuildFixture;
    const env = { STRATA_SNAPSHOTTER: snapshotter };
    before(async () => {
      fx = await buildFixture(`strata-bind-${snapshotter}-`);
    });
    after(() => fx.cleanup());

    /** Builds `files` as a context and returns what `cat <paths>` prints in the image. */
    async function buildAndCat(
      name: string,
      files: Record<string, string>,
      paths: string[],
    ): Promise<string> {
      const ctx = fx.context(name, files);
      const tag = `bind-${snapshotter}-${name}:1`;
      const built = await runStrata(['build', '-q', '--no-cache', '-t', tag, ctx], { root: fx.root, env });
      assert.equal(built.code, 0, built.stderr);
      const out = await runStrata(['run', tag, 'cat', ...paths], { root: fx.root, env });
      assert.equal(out.code, 0, out.stderr);
      return out.stdout;
    }

    it('shows the context as .dockerignore leaves it, re-included files too', async () => {
      const out = await buildAndCat(
        'ignored',
        {
          Dockerfile: [
            'FROM busybox:local',
            'RUN --mount=type=bind,target=/ctx ls -a /ctx /ctx/secrets > /listing',
            'RUN --mount=type=bind,source=secrets,target=/s ls -a /s > /sub-listing',
            '',
          ].join('\n'),
          '.dockerignore': '.env\nsecrets\n!secrets/public.txt\n',
          '.env': 'TOKEN=hunter2\n',
          'secrets/public.txt': 'public\n',
          'secrets/private.key': 'private\n',
          'app.txt': 'app\n',
        },
        ['/listing', '/sub-listing'],
      );
      assert.equal(
        out,
        [
          '/ctx:',
          '.',
          '..',
          '.dockerignore',
          'Dockerfile',
          'app.txt',
          'secrets',
          '',
          '/ctx/secrets:',
          '.',
          '..',
          'public.txt',
          '.',
          '..',
          'public.txt',
          '',
        ].join('\n'),
      );
    });

    it('lets an rw mount be written during the step, and keeps the writes out of the context', async () => {
      const files = {
        Dockerfile: [
          'FROM busybox:local',
          'RUN --mount=type=bind,target=/ctx,rw echo changed > /ctx/app.txt && touch /ctx/new && cat /ctx/app.txt > /seen && ls /ctx > /listing',
          '',
        ].join('\n'),
        'app.txt': 'original\n',
      };
      const out = await buildAndCat('rw', files, ['/seen', '/listing']);
      assert.equal(out, 'changed\nDockerfile\napp.txt\nnew\n');
      const ctx = join(fx.work, 'rw');
      assert.equal(readFileSync(join(ctx, 'app.txt'), 'utf8'), 'original\n');
      assert.deepEqual(readdirSync(ctx).sort(), ['Dockerfile', 'app.txt']);
    });

    it('keeps an rw mount from another stage from changing that stage', async () => {
      const out = await buildAndCat(
        'stage-rw',
        {
          Dockerfile: [
            'FROM busybox:local AS data',
            'RUN mkdir /data && echo kept > /data/file',
            'FROM busybox:local',
            'RUN --mount=type=bind,from=data,source=/data,target=/d,rw echo clobbered > /d/file && rm -f /d/missing',
            'COPY --from=data /data/file /after-copy',
            'RUN --mount=type=bind,from=data,source=/data,target=/d cat /d/file > /after-bind',
            '',
          ].join('\n'),
        },
        ['/after-copy', '/after-bind'],
      );
      assert.equal(out, 'kept\nkept\n');
    });

    it('refuses a source that .dockerignore excludes', async () => {
      const ctx = fx.context('excluded', {
        Dockerfile: 'FROM busybox:local\nRUN --mount=type=bind,source=.env,target=/e cat /e\n',
        '.dockerignore': '.env\n',
        '.env': 'TOKEN=hunter2\n',
      });
      const r = await runStrata(['build', '-q', '--no-cache', ctx], { root: fx.root, env });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /"\/\.env" not found in the build context \(it is excluded by \.dockerignore/);
      assert.doesNotMatch(r.stderr, /hunter2/);
    });
  });
}
