import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { analyzeImageWithFiles, attributeBytes, renderHtmlReport } from '../../src/analyze/index.ts';
import { parseDockerfile } from '../../src/dockerfile/index.ts';
import { planBuild } from '../../src/plan/index.ts';
import { Store } from '../../src/store/index.ts';
import { REPO, tempDir } from '../support/cli.ts';
import { writeFixtureImage } from './fixture-image.ts';

/** The Dockerfile whose final stage the fixture's layers stand for: base, COPY --from, COPY, RUN. */
const LONG_RUN =
  'apt-get update && apt-get install -y --no-install-recommends ca-certificates curl git openssh-client tzdata locales && sed -i s/app/app2/ /etc/app.conf && rm -rf /var/lib/apt/lists/*';

const DOCKERFILE = `FROM busybox:1.36 AS build
RUN make
FROM busybox:1.36
COPY --from=build /out /app
COPY static /srv/static
RUN rm -rf /tmp/cache && write-config
RUN ${LONG_RUN}
`;

/** The bit of the browser's window the colour check calls (the project compiles without the DOM lib). */
interface BrowserWindow {
  getComputedStyle(element: unknown): { backgroundColor: string; backgroundImage: string };
}

const ARTIFACTS = join(REPO, 'test-artifacts');

describe('the HTML report in headless Chromium', () => {
  const dir = tempDir('strata-html-');
  const reportPath = join(dir.path, 'report.html');
  let browser: Browser;
  let layer1Files = 0;
  before(async () => {
    const store = await Store.open(join(dir.path, 'store'));
    const files = (prefix: string, count: number, size: number) =>
      Object.fromEntries(
        Array.from({ length: count }, (_, i) => [`${prefix}/f${i}.bin`, size * (1 + (i % 4))]),
      );
    const { image } = await writeFixtureImage(store, dir.path, 'report:1', [
      {
        createdBy: '/bin/sh -c #(nop) ADD file:busybox in /',
        files: { ...files('bin', 6, 20000), ...files('etc', 4, 3000), ...files('tmp/cache', 5, 8000) },
      },
      { createdBy: 'COPY /out /app # buildkit', files: files('app', 8, 30000) },
      { createdBy: 'COPY static /srv/static # buildkit', files: files('srv/static', 12, 6000) },
      {
        createdBy: 'RUN /bin/sh -c rm -rf /tmp/cache && write-config # buildkit',
        files: { 'tmp/.wh.cache': 0, 'etc/app.conf': 9000 },
      },
      // Overwrites /etc/app.conf: layer 3's copy becomes waste too.
      { createdBy: `RUN /bin/sh -c ${LONG_RUN} # buildkit`, files: { 'etc/app.conf': 9500 } },
    ]);
    await store.close();
    const graph = planBuild(parseDockerfile(DOCKERFILE));
    const { analysis, files: visible, hiddenFiles } = await analyzeImageWithFiles(image);
    layer1Files = visible.filter((f) => f.layer === 1).length;
    const attribution = attributeBytes({ image, graph });
    assert.equal(attribution.aligned, true);
    writeFileSync(
      reportPath,
      renderHtmlReport({ name: 'report:1', analysis, files: visible, hiddenFiles, attribution }),
    );
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  });
  after(async () => {
    await browser?.close();
    dir.cleanup();
  });

  it('is one self-contained page: no external script, style or link', () => {
    const html = readFileSync(reportPath, 'utf8');
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|@import|url\(http/i);
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
  });

  it('renders the treemap coloured by source, and a click on a layer filters it', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(pathToFileURL(reportPath).href);
    const all = page.locator('#treemap .tm-file');
    await all.first().waitFor();
    const layersShown = await all.evaluateAll((els) =>
      [...new Set(els.map((e) => e.getAttribute('data-layer')))].sort(),
    );
    assert.deepEqual(layersShown, ['0', '1', '2', '3', '4']);
    // The removed /tmp/cache is not in the final filesystem, but the image carries it: drawn as
    // waste, hatched, where it lies, with the layer that hid it.
    const waste = page.locator('#treemap .tm-waste[data-path^="/tmp/cache/"]');
    assert.equal(await waste.count(), 5);
    assert.deepEqual(
      [...new Set(await waste.evaluateAll((els) => els.map((e) => e.getAttribute('data-hidden-by'))))],
      ['3'],
    );
    assert.match(
      await waste
        .first()
        .evaluate((e) => (globalThis as unknown as BrowserWindow).getComputedStyle(e).backgroundImage),
      /repeating-linear-gradient/,
    );
    const box = await waste.first().boundingBox();
    assert.ok(box && box.width * box.height >= 30, `waste is drawn with an area: ${JSON.stringify(box)}`);
    // The overwritten /etc/app.conf of layer 3 is waste too; layer 4's copy is visible.
    assert.equal(
      await page.locator('#treemap .tm-waste[data-path="/etc/app.conf"][data-layer="3"]').count(),
      1,
    );
    assert.equal(
      await page
        .locator('#treemap .tm-file:not(.tm-waste)[data-path="/etc/app.conf"]')
        .getAttribute('data-layer'),
      '4',
    );
    assert.match((await page.locator('#filter-label').textContent()) ?? '', /6 files, \d+(\.\d+)?kB wasted/);
    // Coloured by source: the two stage-1 layers (COPY --from=build is "stage build") differ from the base.
    const colour = (layer: string) =>
      page
        .locator(`#treemap .tm-file[data-layer="${layer}"]`)
        .first()
        .evaluate((e) => (globalThis as unknown as BrowserWindow).getComputedStyle(e).backgroundColor);
    assert.notEqual(await colour('0'), await colour('1'));
    assert.equal(await page.locator('#colour-by').inputValue(), 'source');
    assert.match(
      (await page.locator('#layers tbody tr[data-layer="1"]').textContent()) ?? '',
      /\[stage build\]/,
    );
    assert.match(
      (await page.locator('#wasted tbody').textContent()) ?? '',
      /\/tmp\/cache\/.*removed by #3 RUN rm -rf \/tmp\/cache/s,
    );
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'analyze-report.png'), fullPage: true });

    await page.click('#layers tbody tr[data-layer="1"]');
    assert.equal(await page.locator('#treemap').getAttribute('data-filter'), '1');
    const filtered = await page
      .locator('#treemap .tm-file')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-layer')));
    assert.equal(filtered.length, layer1Files);
    assert.ok(filtered.every((l) => l === '1'));
    assert.match(
      (await page.locator('#filter-label').textContent()) ?? '',
      /^Layer #1: 8 files, .*; nothing wasted$/,
    );
    assert.equal(await page.locator('#layer-files tbody tr[data-status="visible"]').count(), 8);
    await page.screenshot({ path: join(ARTIFACTS, 'analyze-report-layer-1.png'), fullPage: true });

    // The base layer: its own files, the ones later layers hid among them, listed and drawn.
    await page.click('#layers tbody tr[data-layer="0"]');
    assert.equal(await page.locator('#treemap').getAttribute('data-filter'), '0');
    assert.match(
      (await page.locator('#filter-label').textContent()) ?? '',
      /^Layer #0: 15 files, .*; 5 files, 88\.0kB wasted \(hidden by later layers, hatched red\)$/,
    );
    assert.match(
      (await page.locator('#files-title').textContent()) ?? '',
      /^Files of layer #0 \(ADD file:busybox in \/\)$/,
    );
    const rows = page.locator('#layer-files tbody tr');
    assert.equal(await rows.count(), 15);
    const hiddenRows = page.locator('#layer-files tbody tr[data-status="hidden"]');
    assert.deepEqual(
      (await hiddenRows.evaluateAll((els) => els.map((e) => e.getAttribute('data-path')))).sort(),
      [
        '/tmp/cache/f0.bin',
        '/tmp/cache/f1.bin',
        '/tmp/cache/f2.bin',
        '/tmp/cache/f3.bin',
        '/tmp/cache/f4.bin',
      ],
    );
    assert.match(
      (await hiddenRows.first().textContent()) ?? '',
      /wasted: removed by #3 RUN rm -rf \/tmp\/cache && write-config/,
    );
    assert.equal(await page.locator('#layer-files tbody tr[data-status="visible"]').count(), 10);
    assert.equal(await page.locator('#treemap .tm-waste[data-layer="0"]').count(), 5);
    await page.screenshot({ path: join(ARTIFACTS, 'analyze-report-layer-0.png'), fullPage: true });

    // A long command is one line in the tables (full text in the tooltip), whole when selected.
    const row4 = page.locator('#layers tbody tr[data-layer="4"] code.cmd');
    const shortText = (await row4.textContent()) ?? '';
    const [command, source] = shortText.split('  ');
    assert.ok(command!.length <= 72 && command!.endsWith('\u2026'), shortText);
    assert.equal(source, '[stage stage-1]');
    assert.equal(await row4.getAttribute('title'), `RUN ${LONG_RUN}  [stage stage-1]`);
    const hiddenBy = page.locator('#wasted tbody td', { hasText: 'overwritten by #4' });
    assert.ok(((await hiddenBy.textContent()) ?? '').length < 80);
    assert.equal(await hiddenBy.getAttribute('title'), `RUN ${LONG_RUN}`);
    await page.click('#layers tbody tr[data-layer="4"]');
    assert.equal(
      await page.locator('#layers tbody tr[data-layer="4"] code.cmd').textContent(),
      `RUN ${LONG_RUN}  [stage stage-1]`,
    );

    await page.click('#all-layers');
    assert.equal(await page.locator('#treemap').getAttribute('data-filter'), 'all');
    assert.ok((await page.locator('#treemap .tm-file').count()) > layer1Files);
    assert.deepEqual(errors, []);
    assert.ok(
      requests.every((u) => u.startsWith('file:')),
      `the page made network requests: ${requests.join(', ')}`,
    );
    await page.close();
  });
});
