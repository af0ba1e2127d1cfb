/**
 * deploy/kubernetes/strata-build-pod.yaml run by `podman kube play`, the stand-in for a cluster:
 * the pod builds the Dockerfile of its ConfigMap with strata's image (built by strata,
 * test/rootless-image/strata-image.ts) and pushes it, with the credentials of a mounted docker
 * config, to a registry that requires them; the test pulls the pushed image and runs it.
 *
 * What the test changes in the manifest, and why:
 * - registry.example.com becomes the test registry, and strata's image the one built here;
 * - `hostNetwork: true`: the registry listens on the host's 127.0.0.1, which a cluster's pod
 *   network would reach as a service instead;
 * - the Secret volume becomes a hostPath directory holding the same config.json: podman 4.3.1's
 *   `kube play` dereferences a nil secrets manager for secret volumes (VolumeFromSecret) and panics.
 * podman runs rootful with runc and cgroupfs (crun and systemd cannot run here; ENVIRONMENT.md), and
 * with ulimits under this machine's hard limits (podman asks for 1048576 open files otherwise, which
 * runc cannot set without CAP_SYS_RESOURCE).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildStrataImage, type StrataImage } from '../rootless-image/strata-image.ts';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { collectOutput, REPO, runStrata } from '../support/cli.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

const USER = 'builder';
const PASSWORD = 's3cret-for-the-pod';
const POD = `strata-build-${process.pid}`;

let image: StrataImage;
let registry: TestRegistry;
let fixture: BuildFixture;
let env: NodeJS.ProcessEnv;
let manifest: string;

function podman(args: readonly string[]) {
  return collectOutput(spawn('podman', args, { env, stdio: ['ignore', 'pipe', 'pipe'] }));
}

describe('deploy/kubernetes (podman kube play)', () => {
  before(async () => {
    fixture = await buildFixture('strata-kube-');
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const limit = (name: string, wanted: number) => {
      const hard = new RegExp(`^${name}\\s+\\S+\\s+(\\S+)`, 'm').exec(limits)?.[1] ?? 'unlimited';
      return hard === 'unlimited' ? wanted : Math.min(wanted, Number(hard));
    };
    const nofile = limit('Max open files', 65536);
    const nproc = limit('Max processes', 8192);
    const conf = join(fixture.work, 'containers.conf');
    writeFileSync(
      conf,
      [
        '[containers]',
        `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
        '[engine]',
        'runtime = "runc"',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        '',
      ].join('\n'),
    );
    env = { ...process.env, CONTAINERS_CONF: conf };
    image = await buildStrataImage();
    const exists = await podman(['image', 'exists', image.name]);
    if (exists.code !== 0) {
      // The strata-test images of earlier sources go first (each is a few hundred MB).
      const older = (
        await podman(['images', '--format', '{{.Repository}}:{{.Tag}}', 'localhost/strata-test'])
      ).stdout
        .split('\n')
        .filter((name) => name !== '' && name !== image.name);
      if (older.length > 0) await podman(['rmi', ...older]);
      const loaded = await podman(['load', '-i', await image.archive()]);
      assert.equal(loaded.code, 0, loaded.stderr);
    }
    registry = await startRegistry({ auth: { kind: 'htpasswd', users: { [USER]: PASSWORD } } });
    const config = join(fixture.work, 'docker-config');
    mkdirSync(config, { recursive: true });
    const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    writeFileSync(join(config, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth } } }));
    const pushed = await runStrata(
      [
        'copy',
        '--progress',
        'none',
        'strata:busybox:local',
        `docker://${registry.host}/library/busybox:1.36`,
      ],
      { root: fixture.root, env: { DOCKER_CONFIG: config } },
    );
    assert.equal(pushed.code, 0, pushed.stderr);

    let yaml = readFileSync(join(REPO, 'deploy/kubernetes/strata-build-pod.yaml'), 'utf8');
    const replace = (from: string | RegExp, to: string) => {
      const next = yaml.replace(from, to);
      assert.notEqual(next, yaml, `the manifest has ${from}`);
      yaml = next;
    };
    replace('image: registry.example.com/tools/strata:0.1.0', `image: ${image.name}`);
    replace(/registry\.example\.com/g, registry.host);
    replace('  name: strata-build\nspec:\n', `  name: ${POD}\nspec:\n  hostNetwork: true\n`);
    replace(
      /secret:\n\s+secretName: registry-credentials\n\s+items:\n\s+- key: \.dockerconfigjson\n\s+path: config\.json/,
      `hostPath:\n        path: ${config}\n        type: Directory`,
    );
    manifest = join(fixture.work, 'pod.yaml');
    writeFileSync(manifest, yaml);
  });

  after(async () => {
    if (manifest) await podman(['kube', 'down', manifest]);
    image?.dispose();
    await registry?.stop();
    fixture?.cleanup();
  });

  describe('deploy/kubernetes under podman kube play', () => {
    it('builds the ConfigMap context in the pod and pushes with the mounted credentials', async () => {
      const played = await podman(['kube', 'play', manifest]);
      assert.equal(played.code, 0, played.stderr);
      const container = `${POD}-strata`;
      const deadline = Date.now() + 240_000;
      let status = '';
      while (Date.now() < deadline) {
        status = (await podman(['inspect', '--format', '{{.State.Status}}', container])).stdout.trim();
        if (status === 'exited' || status === 'stopped') break;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      const logs = await podman(['logs', container]);
      // podman says `stopped` instead of `exited` once the whole pod has stopped.
      assert.ok(
        status === 'exited' || status === 'stopped',
        `the pod's build did not finish: ${logs.stdout}${logs.stderr}`,
      );
      const exit = (await podman(['inspect', '--format', '{{.State.ExitCode}}', container])).stdout.trim();
      assert.equal(exit, '0', logs.stdout + logs.stderr);
      assert.match(logs.stderr, /RUN steps use --isolation=chroot/);
      assert.ok(logs.stderr.includes(`${registry.host}/team/hello:1`), logs.stderr);

      // Without credentials the registry refuses: the pod really used the mounted config.
      const anonymous = await runStrata(['pull', '--progress', 'none', `${registry.host}/team/hello:1`], {
        root: fixture.root,
        env: { DOCKER_CONFIG: join(fixture.work, 'no-config') },
      });
      assert.notEqual(anonymous.code, 0);
      const config = { DOCKER_CONFIG: join(fixture.work, 'docker-config') };
      const pulled = await runStrata(['pull', '--progress', 'none', `${registry.host}/team/hello:1`], {
        root: fixture.root,
        env: config,
      });
      assert.equal(pulled.code, 0, pulled.stderr);
      const ran = await runStrata(['run', `${registry.host}/team/hello:1`], { root: fixture.root });
      assert.equal(ran.code, 0, ran.stderr);
      assert.equal(ran.stdout, 'built by strata in a pod\n1000\n');
    });
  });
});
