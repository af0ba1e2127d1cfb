import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { formatBytes } from '../../src/cli/format.ts';
import { type BuildFixture, buildFixture } from '../support/build-fixture.ts';
import { buildRun } from '../support/build-run.ts';
import { type CliResult, runStrata, STRATA_BIN } from '../support/cli.ts';

interface DuJson {
  buildCache: { records: number; bytes: number; reclaimable: number };
  blobs: { count: number; bytes: number };
}

interface PruneJson {
  dryRun: boolean;
  removedRecords: string[];
  cacheRecords: number;
  blobs: number;
  blobBytes: number;
}

/** Runs the CLI on a pseudo-terminal (util-linux `script`), typing `input` into it. */
function strataOnTty(args: readonly string[], root: string, input: string): Promise<CliResult> {
  const command = [process.execPath, STRATA_BIN, ...args]
    .map((a) => `'${a.replaceAll("'", "'\\''")}'`)
    .join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      env: { ...process.env, STRATA_ROOT: root },
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      // Answer once the question is on the screen, as a person would.
      if (input !== '' && stdout.includes('[y/N]')) {
        child.stdin.write(input);
        input = '';
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr: '' }));
  });
}

describe('strata prune, as docker builder prune: asks, and du, --dry-run and the real run agree', () => {
  let fx: BuildFixture;
  const du = async (): Promise<DuJson> =>
    JSON.parse((await runStrata(['du', '--json'], { root: fx.root })).stdout) as DuJson;

  before(async () => {
    fx = await buildFixture('strata-prune-cli-');
  });
  after(() => fx.cleanup());

  it('removes exactly what du and --dry-run said, and keeps the cache of named images without --all', async () => {
    // A named image (its RUN layer is the image's), a builder stage whose layer only the cache
    // holds, and an image whose name is removed (its blobs are held by nothing).
    const kept = fx.context('kept', {
      Dockerfile:
        'FROM busybox:local AS build\nRUN head -c 40000 /dev/urandom > /tool\n' +
        'FROM busybox:local\nRUN head -c 20000 /dev/urandom > /kept\nCOPY --from=build /tool /tool\n',
    });
    const gone = fx.context('gone', {
      Dockerfile: 'FROM busybox:local\nRUN head -c 30000 /dev/urandom > /gone\n',
    });
    // buildRun (the rebuild below) sets SOURCE_DATE_EPOCH, which is in every layer step's key.
    const epoch = { SOURCE_DATE_EPOCH: '1700000000' };
    assert.equal(
      (await runStrata(['build', '-q', '-t', 'kept:1', kept], { root: fx.root, env: epoch })).code,
      0,
    );
    assert.equal(
      (await runStrata(['build', '-q', '-t', 'gone:1', gone], { root: fx.root, env: epoch })).code,
      0,
    );
    assert.equal((await runStrata(['rmi', 'gone:1'], { root: fx.root })).code, 0);

    const before = await du();
    assert.ok(before.buildCache.reclaimable > 40_000, `reclaimable ${before.buildCache.reclaimable}`);

    // Without -f and without a terminal (stdin at its end): it says what would go and refuses.
    const refused = await runStrata(['prune'], { root: fx.root });
    assert.equal(refused.code, 1);
    assert.match(
      refused.stdout,
      new RegExp(
        `^WARNING! This will remove \\d+ build cache records whose layers no image holds, and \\d+ blobs nothing else needs \\(${formatBytes(before.buildCache.reclaimable).replace('.', '\\.')}\\)\\. Are you sure you want to continue\\? \\[y/N\\] $`,
        'm',
      ),
    );
    assert.match(refused.stderr, /^error: prune has been cancelled \(answer y, or use strata prune -f/m);
    const no = await runStrata(['prune'], { root: fx.root, input: 'n\n' });
    assert.equal(no.code, 1);
    assert.deepEqual(await du(), before, 'nothing was removed');

    const dry = JSON.parse(
      (await runStrata(['prune', '--dry-run', '--json'], { root: fx.root })).stdout,
    ) as PruneJson;
    assert.equal(dry.blobBytes, before.buildCache.reclaimable, 'du and --dry-run agree');
    assert.deepEqual(await du(), before, 'a dry run removes nothing');
    const dryText = await runStrata(['prune', '--dry-run'], { root: fx.root });
    assert.match(dryText.stdout, new RegExp(`^Total reclaimable space: ${formatBytes(dry.blobBytes)}$`, 'm'));

    const real = await runStrata(['prune', '-f', '--json'], { root: fx.root });
    assert.equal(real.code, 0, real.stderr);
    const done = JSON.parse(real.stdout) as PruneJson;
    assert.equal(done.blobBytes, dry.blobBytes, '--dry-run and the real run agree');
    assert.deepEqual(done.removedRecords, dry.removedRecords);
    assert.equal(done.blobs, dry.blobs);
    const after = await du();
    assert.equal(before.blobs.bytes - after.blobs.bytes, done.blobBytes, 'the bytes really went');
    assert.equal(after.buildCache.reclaimable, 0);
    assert.equal((await runStrata(['store', 'verify'], { root: fx.root })).code, 0);

    // The named image's own step stays cached; the builder stage, whose layer only the cache held, runs.
    const rebuilt = await buildRun(fx, kept, ['-t', 'kept:1']);
    assert.ok(rebuilt.ran.includes('RUN head -c 40000 /dev/urandom > /tool'), rebuilt.ran.join(', '));
    assert.ok(rebuilt.cached.includes('RUN head -c 20000 /dev/urandom > /kept'), rebuilt.cached.join(', '));
  });

  it('asks on a terminal and goes on with y; --all removes every record', async () => {
    const ctx = fx.context('tty', {
      Dockerfile: 'FROM busybox:local\nRUN head -c 10000 /dev/urandom > /t\n',
    });
    assert.equal((await runStrata(['build', '-q', '-t', 'tty:1', ctx], { root: fx.root })).code, 0);
    const records = (await du()).buildCache.records;
    assert.ok(records > 0);
    const asked = await strataOnTty(['prune', '--all'], fx.root, 'y\n');
    assert.equal(asked.code, 0, asked.stdout);
    assert.match(
      asked.stdout,
      /WARNING! This will remove all build cache \(\d+ build cache records?\), and .* \[y\/N\] y/,
    );
    assert.match(asked.stdout, /^Deleted build cache objects:/m);
    assert.match(asked.stdout, /^Total reclaimed space: /m);
    assert.equal((await du()).buildCache.records, 0);
    assert.deepEqual((await buildRun(fx, ctx, ['-t', 'tty:1'])).ran, ['RUN head -c 10000 /dev/urandom > /t']);
  });
});
