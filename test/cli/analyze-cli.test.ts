import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Store } from '../../src/store/index.ts';
import { WORKED_EXAMPLE, writeFixtureImage } from '../analyze/fixture-image.ts';
import { runStrata, tempDir } from '../support/cli.ts';

describe('strata analyze and strata compare', () => {
  const dir = tempDir('strata-analyze-cli-');
  const root = join(dir.path, 'store');
  before(async () => {
    const store = await Store.open(root);
    await writeFixtureImage(store, dir.path, 'worked:1', WORKED_EXAMPLE);
    // The "fixed" image: the same files without the temp file, the cache and the overwrites.
    await writeFixtureImage(store, dir.path, 'fixed:1', [
      { createdBy: 'ADD base', files: { 'bin/tool': 1000, 'data/c': 10 } },
      { createdBy: 'COPY conf /etc/conf # buildkit', files: { 'etc/conf': 50 } },
    ]);
    await store.close();
  });
  after(() => dir.cleanup());

  it('prints the hand-computed numbers as JSON', async () => {
    const r = await runStrata(['analyze', '--json', 'worked:1'], { root });
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout) as Record<string, unknown> & { wastedPaths: { path: string }[] };
    assert.equal(json.efficiency, 3860 / 8160);
    assert.equal(json.wastedBytes, 4350);
    assert.equal(json.userWastedPercent, 4350 / 5260);
    assert.equal(json.reclaimableBytes, 6100);
    assert.equal(json.sizeBytes, 7160);
    assert.deepEqual(
      json.wastedPaths.map((w) => w.path),
      ['/tmp/big', '/cache/', '/data/', '/etc/conf', '/etc/conf'],
    );
  });

  it('reads an OCI layout directory (the store is one) with the same result', async () => {
    const byName = JSON.parse((await runStrata(['analyze', '--json', 'worked:1'], { root })).stdout);
    const r = await runStrata(['analyze', '--json', `oci:${root}:worked:1`], {
      root: join(dir.path, 'other'),
    });
    assert.equal(r.code, 0, r.stderr);
    const byLayout = JSON.parse(r.stdout);
    assert.deepEqual({ ...byLayout, image: '' }, { ...byName, image: '' });
  });

  it('reads a docker-archive skopeo wrote with the same numbers', async () => {
    const archive = join(dir.path, 'worked.tar');
    execFileSync('skopeo', ['copy', '--quiet', `oci:${root}:worked:1`, `docker-archive:${archive}:worked:1`]);
    const r = await runStrata(['analyze', '--json', `docker-archive:${archive}`], { root });
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.equal(json.efficiency, 3860 / 8160);
    assert.equal(json.wastedBytes, 4350);
    assert.equal(json.reclaimableBytes, 6100);
  });

  it('shows the wasted paths with the steps that added and removed them', async () => {
    const r = await runStrata(['analyze', 'worked:1'], { root });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Efficiency \(dive\): +47\.30 %$/m);
    assert.match(
      r.stdout,
      /^4kB +1 +\/tmp\/big +#1 RUN make-things +#2 removed by RUN rm -rf \/tmp\/big \/cache$/m,
    );
  });

  it("--ci fails with dive's defaults and names the reason", async () => {
    const r = await runStrata(['analyze', '--ci', 'worked:1'], { root });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      'error: worked:1: image efficiency is too low (efficiency=0.4730 < threshold=0.9); too many bytes wasted, relative to the user bytes added (user-wasted-percent=0.8270 > threshold=0.1) (see the wasted paths above, or relax the threshold)\n',
    );
    assert.match(r.stdout, /^ {2}FAIL {2}lowest-efficiency: /m);
  });

  it('--ci passes when the thresholds allow the image, and checks --max-size and --highest-wasted-bytes', async () => {
    const pass = await runStrata(
      [
        'analyze',
        '--ci',
        '--lowest-efficiency',
        '0.4',
        '--highest-user-wasted-percent',
        'disabled',
        '--highest-wasted-bytes',
        '4350',
        '--max-size',
        '7.16kB',
        'worked:1',
      ],
      { root },
    );
    assert.equal(pass.code, 0, pass.stderr);
    const fail = await runStrata(
      [
        'analyze',
        '--ci',
        '--lowest-efficiency',
        'off',
        '--highest-user-wasted-percent',
        'off',
        '--highest-wasted-bytes',
        '4KiB',
        '--max-size',
        '7kB',
        'worked:1',
      ],
      { root },
    );
    assert.equal(fail.code, 1);
    assert.match(
      fail.stderr,
      /too many bytes wasted \(wasted-bytes=4350 > threshold=4096\); image is too large \(size=7160 > max-size=7000\)/,
    );
  });

  it('--html writes the self-contained report next to the text output', async () => {
    const out = join(dir.path, 'report.html');
    const r = await runStrata(['analyze', '--html', out, 'worked:1'], { root });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, `wrote ${out}\n`);
    const html = readFileSync(out, 'utf8');
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /"wasted":\[\{"path":"\/tmp\/big","bytes":4000/);
  });

  it('refuses a threshold outside 0-1', async () => {
    const r = await runStrata(['analyze', '--ci', '--lowest-efficiency', '2', 'worked:1'], { root });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'error: --lowest-efficiency 2 is outside the allowed range (0-1)\n');
  });

  it('compare prints the size table and what the smaller image dropped', async () => {
    const r = await runStrata(['compare', '--json', 'worked:1', 'fixed:1'], { root });
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout);
    assert.equal(c.old.sizeBytes, 7160);
    assert.equal(c.new.sizeBytes, 1060);
    assert.equal(c.ratio, 7160 / 1060);
    assert.equal(c.old.layers, 4);
    assert.equal(c.new.layers, 2);
    // Both final filesystems hold the same 1060 bytes: nothing visible was dropped.
    assert.deepEqual(c.dropped, []);
    const text = await runStrata(['compare', 'worked:1', 'fixed:1'], { root });
    assert.match(text.stdout, /^size +7\.16kB +1\.06kB +6\.8x smaller$/m);
    assert.match(text.stdout, /^layers +4 +2$/m);
  });
});
