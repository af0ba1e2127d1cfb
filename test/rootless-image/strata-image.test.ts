/**
 * strata's own image (the repository's Dockerfile, built by strata) run under docker the way an
 * unprivileged CI container runs: as root in the container but with docker's default capabilities
 * and seccomp profile, no --privileged, nothing added. strata sees it cannot use runc (no
 * CAP_SYS_ADMIN), says so, builds a Dockerfile with RUN steps with --isolation=chroot and pushes it
 * to a registry on the host (reached with --network host); the test pulls the image back and runs it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { collectOutput, runStrata } from '../support/cli.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { buildStrataImage, loadIntoDocker, type StrataImage } from './strata-image.ts';

const DOCKER = '/usr/bin/docker';
let image: StrataImage;
let registry: TestRegistry;
let fixture: BuildFixture;

describe("strata's own image", () => {
  before(async () => {
    image = await buildStrataImage();
    await loadIntoDocker(image);
    registry = await startRegistry();
    fixture = await buildFixture('strata-image-');
    const pushed = await runStrata(
      ['copy', '--progress', 'none', 'strata:busybox:local', `docker://${registry.host}/base/busybox:1`],
      { root: fixture.root },
    );
    assert.equal(pushed.code, 0, pushed.stderr);
  });
  after(async () => {
    image?.dispose();
    await registry?.stop();
    fixture?.cleanup();
  });

  function docker(args: readonly string[]) {
    return collectOutput(spawn(DOCKER, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  describe("strata's image under docker, unprivileged", () => {
    it('runs as the non-root user strata by default, with strata as its entrypoint', async () => {
      const config = JSON.parse(
        execFileSync(DOCKER, ['image', 'inspect', image.name], { encoding: 'utf8' }),
      ) as Array<{
        Config: { User: string; Entrypoint: string[] };
      }>;
      assert.equal(config[0]?.Config.User, 'strata');
      assert.deepEqual(config[0]?.Config.Entrypoint, ['strata']);
      const version = await docker(['run', '--rm', image.name, '--version']);
      assert.equal(version.code, 0, version.stderr);
      assert.match(version.stdout, /^\d+\.\d+\.\d+/);
    });

    it('builds a Dockerfile with RUN steps in chroot mode and pushes it to a registry', async () => {
      const ctx = fixture.context('in-docker', {
        Dockerfile: [
          `FROM ${registry.host}/base/busybox:1`,
          'RUN echo "built in an unprivileged container" > /hello.txt && grep CapEff /proc/self/status || true',
          'RUN echo "bob:x:1000:1000::/home/bob:/bin/sh" >> /etc/passwd && mkdir -p /home/bob && chown 1000:1000 /home/bob',
          'USER bob',
          'WORKDIR /home/bob',
          'RUN id -u > uid.txt',
          'CMD ["cat", "/hello.txt", "/home/bob/uid.txt"]',
          '',
        ].join('\n'),
      });
      chmodSync(ctx, 0o755);
      const info = await docker(['run', '--rm', '--user', '0', image.name, 'info']);
      assert.equal(info.code, 0, info.stderr);
      assert.match(info.stdout, /^isolation: +chroot — runc cannot make a container here/m);
      const target = `${registry.host}/built/hello:1`;
      // Root in the container (for chroot(2)), docker's default capabilities and seccomp profile.
      const caps = await docker([
        'run',
        '--rm',
        '--user',
        '0',
        '--entrypoint',
        'grep',
        image.name,
        'CapEff',
        '/proc/self/status',
      ]);
      assert.match(
        caps.stdout,
        /CapEff:\s+00000000a80425fb/,
        'docker default capabilities, no CAP_SYS_ADMIN',
      );
      const built = await docker([
        'run',
        '--rm',
        '--user',
        '0',
        '--network',
        'host',
        '-v',
        `${ctx}:/workspace:ro`,
        image.name,
        'build',
        '--progress',
        'plain',
        '-t',
        target,
        '--push',
        '/workspace',
      ]);
      assert.equal(built.code, 0, built.stderr);
      assert.match(built.stderr, /RUN steps use --isolation=chroot: runc cannot make a container here/);
      const pulled = await runStrata(['pull', '--progress', 'none', target], { root: fixture.root });
      assert.equal(pulled.code, 0, pulled.stderr);
      const ran = await runStrata(['run', target], { root: fixture.root });
      assert.equal(ran.code, 0, ran.stderr);
      assert.equal(ran.stdout, 'built in an unprivileged container\n1000\n');
    });
  });
});
