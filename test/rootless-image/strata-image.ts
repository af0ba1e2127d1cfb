/**
 * Test support: strata's own image (the repository's Dockerfile), built by strata and loaded into
 * docker or podman, for the tests that run it as users of a cluster would.
 *
 * The Dockerfile starts from Docker Hub's node:20-bookworm and node:20-bookworm-slim, which cannot
 * be pulled here. Their stand-ins are the examples' bootstrapped node:18 bases
 * ($STRATA_EXAMPLES_ROOT, default /var/lib/strata-test/examples; test/examples/examples.test.ts makes
 * them) with this machine's Node 20 over Debian's Node 18, its headers for node-gyp in the full one.
 * The build takes minutes when nothing is cached, so its store is kept between runs:
 * $STRATA_IMAGE_TEST_ROOT, default /var/lib/strata-test/rootless-image. Later runs rebuild only
 * what changed (the bundle when the sources did) and load into docker only an image it lacks.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO, runStrata, tempDir } from '../support/cli.ts';

export const IMAGE_TEST_ROOT = process.env.STRATA_IMAGE_TEST_ROOT ?? '/var/lib/strata-test/rootless-image';
const EXAMPLES_ROOT = process.env.STRATA_EXAMPLES_ROOT ?? '/var/lib/strata-test/examples';

/** strata's image as built here. */
export interface StrataImage {
  /** The image's id (config digest) in the test store. */
  readonly id: string;
  /** A name it is loaded under, unique to its content: `localhost/strata-test:<12 hex>`. */
  readonly name: string;
  /** Writes it as a docker-archive (once per process) and returns the file. */
  archive(): Promise<string>;
  /** Removes the archive, if one was written. */
  dispose(): void;
}

const STAND_INS = [
  { name: 'node:20-bookworm', from: 'node:18-bookworm', headers: true },
  { name: 'node:20-bookworm-slim', from: 'node:18-bookworm-slim', headers: false },
] as const;

function storedImages(root: string): Array<{ name: string; id: string; digest: string }> {
  const listed = execFileSync(
    process.execPath,
    [join(REPO, 'dist/strata.cjs'), '--root', root, 'images', '--json'],
    {
      encoding: 'utf8',
    },
  );
  return JSON.parse(listed) as Array<{ name: string; id: string; digest: string }>;
}

function has(root: string, name: string): boolean {
  return storedImages(root).some((i) => i.name === name || i.name === `docker.io/library/${name}`);
}

/** Builds strata's image from the repository's Dockerfile with strata (cached in {@link IMAGE_TEST_ROOT}). */
export async function buildStrataImage(): Promise<StrataImage> {
  const root = IMAGE_TEST_ROOT;
  const work = tempDir('strata-image-');
  try {
    for (const standIn of STAND_INS) {
      if (has(root, standIn.name)) continue;
      if (!has(root, standIn.from)) {
        const copied = await runStrata(
          ['copy', '--progress', 'none', `oci:${EXAMPLES_ROOT}:${standIn.from}`, `strata:${standIn.from}`],
          { root, timeoutMs: 300_000 },
        );
        assert.equal(
          copied.code,
          0,
          `the examples' ${standIn.from} (run test/examples first): ${copied.stderr}`,
        );
      }
      const ctx = join(work.path, standIn.name.replace(/\W/g, '-'));
      mkdirSync(ctx, { recursive: true });
      cpSync(process.execPath, join(ctx, 'node'));
      const lines = [`FROM ${standIn.from}`, 'COPY node /usr/local/bin/node'];
      if (standIn.headers) {
        cpSync(join(dirname(process.execPath), '..', 'include', 'node'), join(ctx, 'include'), {
          recursive: true,
        });
        // node-gyp (zstd-napi, strata's addon) takes the headers from here instead of downloading them.
        lines.push('COPY include/ /usr/local/include/node/', 'ENV npm_config_nodedir=/usr/local');
      }
      writeFileSync(join(ctx, 'Dockerfile'), `${lines.join('\n')}\n`);
      const built = await runStrata(['build', '--progress', 'plain', '-t', standIn.name, ctx], {
        root,
        timeoutMs: 300_000,
      });
      assert.equal(built.code, 0, built.stderr);
    }
    const { hostBuildInputs } = (await import(
      pathToFileURL(join(REPO, 'scripts', 'bootstrap.mjs')).href
    )) as {
      hostBuildInputs(dir: string): { secrets: string[]; buildArgs: string[] };
    };
    const inputs = hostBuildInputs(join(work.path, 'inputs'));
    const built = await runStrata(
      [
        'build',
        '--progress',
        'plain',
        ...inputs.secrets.flatMap((s) => ['--secret', s]),
        ...inputs.buildArgs.flatMap((a) => ['--build-arg', a]),
        '-t',
        'strata:test',
        REPO,
      ],
      { root, timeoutMs: 900_000 },
    );
    assert.equal(built.code, 0, built.stderr);
  } finally {
    work.cleanup();
  }
  const image = storedImages(root).find(
    (i) => i.name === 'docker.io/library/strata:test' || i.name === 'strata:test',
  );
  assert.ok(image, 'strata:test is in the store');
  const id = image.id.replace(/^sha256:/, '');
  const name = `localhost/strata-test:${id.slice(0, 12)}`;
  let archive: Promise<string> | undefined;
  // Outside the store: its tmp/ is strata's own, swept by any strata process that opens the store
  // (a docker-archive there is not an ingest of a live process, so another test's strata removed it).
  const archiveDir = mkdtempSync(join(tmpdir(), 'strata-image-archive-'));
  return {
    id,
    name,
    archive() {
      archive ??= (async () => {
        const file = join(archiveDir, 'strata-image.tar');
        const copied = await runStrata(
          ['copy', '--progress', 'none', 'strata:strata:test', `docker-archive:${file}:${name}`],
          {
            root,
            timeoutMs: 300_000,
          },
        );
        assert.equal(copied.code, 0, copied.stderr);
        return file;
      })();
      return archive;
    },
    dispose() {
      rmSync(archiveDir, { recursive: true, force: true });
    },
  };
}

/**
 * Loads the image into docker (`/usr/bin/docker`, the 20.10 client) unless docker has it already,
 * after removing the strata-test images of earlier sources (each is a few hundred MB).
 */
export async function loadIntoDocker(image: StrataImage): Promise<void> {
  const docker = '/usr/bin/docker';
  if (spawnSync(docker, ['image', 'inspect', image.name], { stdio: 'ignore' }).status === 0) return;
  const older = execFileSync(
    docker,
    ['images', 'localhost/strata-test', '--format', '{{.Repository}}:{{.Tag}}'],
    {
      encoding: 'utf8',
    },
  )
    .split('\n')
    .filter((name) => name !== '' && name !== image.name);
  if (older.length > 0) spawnSync(docker, ['rmi', ...older], { stdio: 'ignore' }); // in use elsewhere: kept
  execFileSync(docker, ['load', '-i', await image.archive()], { stdio: 'ignore' });
}
