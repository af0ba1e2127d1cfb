/**
 * The talk's demo, run part by part: the Go, Python and Node examples built single- and
 * multi-stage with strata from base images bootstrapped from Debian's mirror (scripts/bootstrap.mjs),
 * each image run with `strata run` and its endpoint asked, and the size claims checked.
 *
 * Bootstrapping the bases takes minutes, so the store is kept between runs: $STRATA_EXAMPLES_ROOT,
 * default /var/lib/strata-test/examples. Bases already there are reused; builds reuse the cache.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { REPO, tempDir } from '../support/cli.ts';

const ROOT = process.env.STRATA_EXAMPLES_ROOT ?? '/var/lib/strata-test/examples';

interface Example {
  readonly name: string;
  readonly dir: string;
  readonly path: string;
  readonly bases: readonly string[];
}
interface Sizes {
  readonly compressed: number;
  readonly uncompressed: number;
  readonly layers: number;
}
interface BuildEnvironment {
  readonly buildArgs: Record<string, string[]>;
  readonly secrets: string[];
}
/** The parts of scripts/demo.mjs and scripts/bootstrap.mjs this test drives. */
interface DemoModule {
  EXAMPLES: readonly Example[];
  detectBuildEnvironment(o: { log: (t: string) => void; tmp: string }): Promise<BuildEnvironment>;
  buildExample(
    e: Example,
    variant: 'single' | 'multi',
    o: { root: string; buildArgs: string[]; secrets: string[] },
  ): Promise<{ tag: string; ms: number }>;
  imageSizes(name: string, o: { root: string }): Promise<Sizes>;
  checkEndpoint(image: string, path: string, o: { root: string }): Promise<{ status: number; body: string }>;
  storeRoot(root: string): string;
}
interface BootstrapModule {
  bootstrapBases(o: {
    root: string;
    names: readonly string[];
    log: (t: string) => void;
  }): Promise<Array<{ name: string; action: string; ms: number }>>;
}

/**
 * Every path in the image's layers as GNU tar lists them (the oracle; it detects the compression),
 * `./` and trailing `/` dropped.
 */
function layerEntries(root: string, tag: string): string[] {
  const images = JSON.parse(
    execFileSync(process.execPath, [join(REPO, 'dist/strata.cjs'), '--root', root, 'images', '--json'], {
      encoding: 'utf8',
    }),
  ) as Array<{ name: string; digest: string }>;
  const image = images.find((i) => i.name === tag);
  assert.ok(image, `${tag} is in the store`);
  const blob = (digest: string) => join(root, 'blobs', ...digest.split(':'));
  const manifest = JSON.parse(readFileSync(blob(image.digest), 'utf8')) as {
    layers: Array<{ digest: string }>;
  };
  return manifest.layers.flatMap((layer) =>
    execFileSync('tar', ['-tf', blob(layer.digest)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((p) => p.replace(/^\.\//, '').replace(/\/$/, ''))
      .filter((p) => p !== '.' && p !== ''),
  );
}

describe("the talk's examples, built with strata from bootstrapped Debian bases", () => {
  const work = tempDir('strata-examples-');
  let demo: DemoModule;
  let env: BuildEnvironment;
  const byName = (name: string) => demo.EXAMPLES.find((e) => e.name === name)!;

  before(async () => {
    demo = (await import(pathToFileURL(join(REPO, 'scripts/demo.mjs')).href)) as DemoModule;
    const bootstrap = (await import(
      pathToFileURL(join(REPO, 'scripts/bootstrap.mjs')).href
    )) as BootstrapModule;
    const started = Date.now();
    const done = await bootstrap.bootstrapBases({
      root: ROOT,
      names: demo.EXAMPLES.flatMap((e) => e.bases),
      log: () => undefined,
    });
    const built = done.filter((d) => d.action === 'built');
    if (built.length > 0) {
      process.stderr.write(
        `bootstrapped ${built.map((b) => b.name).join(', ')} in ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
      );
    }
    env = await demo.detectBuildEnvironment({ log: () => undefined, tmp: work.path });
  });
  after(() => work.cleanup());

  async function buildBoth(name: string) {
    const example = byName(name);
    const options = {
      root: ROOT,
      buildArgs: env.buildArgs[name] ?? [],
      secrets: name === 'node' ? env.secrets : [],
    };
    const single = await demo.buildExample(example, 'single', options);
    const multi = await demo.buildExample(example, 'multi', options);
    return {
      example,
      single: { ...single, ...(await demo.imageSizes(single.tag, { root: ROOT })) },
      multi: { ...multi, ...(await demo.imageSizes(multi.tag, { root: ROOT })) },
    };
  }

  async function assertAnswers(image: string, path: string) {
    const answer = await demo.checkEndpoint(image, path, { root: ROOT });
    assert.equal(answer.status, 200, `${image} GET ${path}`);
    assert.deepEqual(JSON.parse(answer.body), { message: 'pong' });
  }

  it('go: the multi-stage image is one file under 20 MB and both images answer GET /ping under strata run', async () => {
    const { example, single, multi } = await buildBoth('go');
    assert.ok(multi.uncompressed < 20_000_000, `multi-stage is ${multi.uncompressed} bytes`);
    assert.ok(
      single.uncompressed > 10 * multi.uncompressed,
      `single ${single.uncompressed} vs multi ${multi.uncompressed}`,
    );
    // FROM scratch has no files; the final stage adds exactly the binary.
    assert.deepEqual(layerEntries(ROOT, multi.tag), ['server']);
    await assertAnswers(multi.tag, example.path);
    await assertAnswers(single.tag, example.path);
  });

  it('python: the multi-stage image is less than half the single-stage one, and answers', async () => {
    const { example, single, multi } = await buildBoth('python');
    assert.ok(
      multi.uncompressed * 2 < single.uncompressed,
      `single ${single.uncompressed} vs multi ${multi.uncompressed}`,
    );
    await assertAnswers(multi.tag, example.path);
    await assertAnswers(single.tag, example.path);
  });

  it('node: the multi-stage image is less than half the single-stage one, runs as node, and answers', async () => {
    const { example, single, multi } = await buildBoth('node');
    assert.ok(
      multi.uncompressed * 2 < single.uncompressed,
      `single ${single.uncompressed} vs multi ${multi.uncompressed}`,
    );
    const entries = new Set(layerEntries(ROOT, multi.tag));
    assert.ok(entries.has('app/dist/server.js'), 'the compiled JavaScript is there');
    assert.ok(!entries.has('app/src/server.ts'), 'the TypeScript sources are not');
    assert.ok(!entries.has('app/node_modules/typescript'), 'dev dependencies were pruned');
    assert.ok(entries.has('app/node_modules/express'), 'production dependencies are there');
    await assertAnswers(multi.tag, example.path);
    await assertAnswers(single.tag, example.path);
  });
});
