/**
 * `strata build --isolation=chroot` against the runc path on the same Dockerfile: the layers hold
 * the same entries (path, type, mode, owner, size; times aside), the steps see the same
 * environment, user, working directory and output, and a failing step reports its exit code and
 * command. Run as root on the host (the helper chroots and sets ids with root's capabilities);
 * test/rootless-image/strata-image.test.ts runs the same mode inside an unprivileged container.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { collectOutput, REPO, runStrata, STRATA_BIN } from '../support/cli.ts';

let fixture: BuildFixture;
describe('--isolation=chroot builds', () => {
  before(async () => {
    fixture = await buildFixture('strata-chroot-');
  });
  after(() => fixture?.cleanup());

  /** Each layer of `tag` as GNU tar lists it (the oracle), without the date and time columns. */
  function layerListings(root: string, tag: string): string[][] {
    const listed = execFileSync(
      process.execPath,
      [join(process.cwd(), 'dist/strata.cjs'), '--root', root, 'images', '--json'],
      {
        encoding: 'utf8',
      },
    );
    const image = (JSON.parse(listed) as Array<{ name: string; digest: string }>).find((i) =>
      i.name.endsWith(tag),
    );
    assert.ok(image, `${tag} is in the store`);
    const blob = (digest: string) => join(root, 'blobs', ...digest.split(':'));
    const manifest = JSON.parse(readFileSync(blob(image.digest), 'utf8')) as {
      layers: Array<{ digest: string }>;
    };
    return manifest.layers.map((layer) =>
      execFileSync('tar', ['-tvf', blob(layer.digest), '--numeric-owner', '--full-time'], {
        encoding: 'utf8',
      })
        .split('\n')
        .filter(Boolean)
        // mode owner size-or-device date time name: the times differ between two builds.
        .map((line) => line.replace(/^(\S+ \S+\s+\S+(?:,\s*\d+)?) \S+ \S+ /, '$1 ')),
    );
  }

  const DOCKERFILE = `FROM busybox:local
ENV GREETING=hello
WORKDIR /work/dir
RUN echo "$GREETING $(id -u):$(id -g) $(pwd) HOME=$HOME PATH=$PATH" > out.txt && cat out.txt
RUN echo 'bob:x:1234:2345:Bob:/home/bob:/bin/sh' >> /etc/passwd && echo 'staff:x:2345:' >> /etc/group \\
 && mkdir -p /home/bob /data && chown 1234:2345 /home/bob /data && rm out.txt \\
 && ln -s /data /link && echo gone > /tmp/x && rm /tmp/x && echo kept > /tmp/kept \\
 && echo dev > /dev/made-by-step && grep -c localhost /etc/hosts && test -s /etc/resolv.conf
USER bob
WORKDIR /home/bob/sub
RUN echo "$(id -u):$(id -g) $(pwd) HOME=$HOME" | tee who.txt; echo to-stderr >&2; ulimit -n > nofile.txt; \\
 cat /dev/null; head -c 4 /dev/zero | wc -c > zero.txt
USER root
RUN ["/bin/sh", "-c", "echo exec-form > /exec.txt"]
RUN <<EOF
echo "from a heredoc: $(ls /dev/pipes | wc -l) script" > /heredoc.txt
EOF
`;

  describe('--isolation=chroot', () => {
    it('gives the same layer contents, environment, user, working directory and output as runc', async () => {
      const ctx = fixture.context('same-layers', { Dockerfile: DOCKERFILE });
      const oci = await runStrata(
        ['build', '--progress', 'plain', '--isolation', 'oci', '-t', 'same:oci', ctx],
        {
          root: fixture.root,
        },
      );
      assert.equal(oci.code, 0, oci.stderr);
      const chroot = await runStrata(
        ['build', '--progress', 'plain', '--no-cache', '--isolation', 'chroot', '-t', 'same:chroot', ctx],
        { root: fixture.root },
      );
      assert.equal(chroot.code, 0, chroot.stderr);
      for (const line of [
        'hello 0:0 /work/dir HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        '1234:2345 /home/bob/sub HOME=/home/bob',
        'to-stderr',
      ]) {
        assert.match(oci.stderr, new RegExp(`#\\d+ \\S+ ${line.replace(/[/$]/g, '\\$&')}`), `runc: ${line}`);
        assert.match(
          chroot.stderr,
          new RegExp(`#\\d+ \\S+ ${line.replace(/[/$]/g, '\\$&')}`),
          `chroot: ${line}`,
        );
      }
      const ociLayers = layerListings(fixture.root, 'same:oci');
      const chrootLayers = layerListings(fixture.root, 'same:chroot');
      assert.equal(chrootLayers.length, ociLayers.length);
      assert.deepEqual(chrootLayers, ociLayers);
      // What a wrong implementation would leave: device nodes, the step's /dev file, a host file.
      const all = chrootLayers.flat().join('\n');
      assert.doesNotMatch(all, /dev\/(null|made-by-step)|etc\/hosts|etc\/resolv\.conf/);
      assert.match(all, /1234\/2345 .* home\/bob\/sub\/who\.txt$/m);
      assert.match(all, / link -> \/data$/m);
      assert.match(all, / work\/dir\/\.wh\.out\.txt$/m);
      assert.match(all, / heredoc\.txt$/m);
      assert.doesNotMatch(all, /dev\/pipes/);
    });

    it('reports a failing step with its exit code and command', async () => {
      const ctx = fixture.context('fails', {
        Dockerfile: 'FROM busybox:local\nRUN echo about to fail && exit 3\n',
      });
      const result = await runStrata(['build', '--progress', 'plain', '--isolation', 'chroot', ctx], {
        root: fixture.root,
      });
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /about to fail/);
      assert.match(result.stderr, /Dockerfile:2: RUN failed with exit code 3: echo about to fail && exit 3/);
    });

    it('says when the executable is not found, as runc does', async () => {
      const ctx = fixture.context('missing', {
        Dockerfile: 'FROM busybox:local\nRUN ["no-such-program", "x"]\n',
      });
      const result = await runStrata(['build', '--progress', 'plain', '--isolation', 'chroot', ctx], {
        root: fixture.root,
      });
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /exec: "no-such-program": executable file not found in \$PATH/);
    });

    it('refuses RUN --network=none and RUN --mount rather than ignoring them', async () => {
      const none = fixture.context('none', { Dockerfile: 'FROM busybox:local\nRUN --network=none true\n' });
      const refused = await runStrata(['build', '--progress', 'plain', '--isolation', 'chroot', none], {
        root: fixture.root,
      });
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(
        refused.stderr,
        /RUN --network=none needs a network namespace, which --isolation=chroot cannot make/,
      );
      const mount = fixture.context('mount', {
        Dockerfile: 'FROM busybox:local\nRUN --mount=type=tmpfs,target=/scratch true\n',
      });
      const mounted = await runStrata(['build', '--progress', 'plain', '--isolation', 'chroot', mount], {
        root: fixture.root,
      });
      assert.equal(mounted.code, 1, mounted.stderr);
      assert.match(
        mounted.stderr,
        /RUN --mount \(type=tmpfs\) needs mounts, which --isolation=chroot cannot make/,
      );
    });

    it('kills the step and what it started when the build is interrupted', async () => {
      const marker = `chroot-interrupt-${process.pid}`;
      const ctx = fixture.context('interrupt', {
        Dockerfile: `FROM busybox:local\nRUN (sleep 300; echo ${marker}) & echo started-${marker}; sleep 301 ${marker}\n`,
      });
      const child = spawn(
        process.execPath,
        [STRATA_BIN, 'build', '--progress', 'plain', '--isolation', 'chroot', ctx],
        {
          cwd: REPO,
          env: { ...process.env, STRATA_ROOT: fixture.root },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const done = collectOutput(child);
      await new Promise<void>((resolve, reject) => {
        let seen = '';
        child.stderr?.on('data', (d: Buffer) => {
          seen += d.toString();
          if (seen.includes(`started-${marker}`)) resolve();
        });
        done.then((r) => reject(new Error(`strata ended before the step started: ${r.stderr}`)), reject);
      });
      child.kill('SIGINT');
      const result = await done;
      assert.equal(result.code, 130, result.stderr);
      const left = readdirSync('/proc')
        .filter((pid) => /^\d+$/.test(pid))
        .filter((pid) => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
          } catch {
            return false; // gone meanwhile
          }
        });
      assert.deepEqual(left, [], 'no process of the step is left');
    });

    it('refuses an unknown --isolation', async () => {
      const ctx = fixture.context('unknown', { Dockerfile: 'FROM busybox:local\n' });
      const result = await runStrata(['build', '--isolation', 'vm', ctx], { root: fixture.root });
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /unknown isolation "vm"/);
    });
  });
});
