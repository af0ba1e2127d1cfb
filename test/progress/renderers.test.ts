import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Digest } from '../../src/oci/index.ts';
import {
  type BuildEvent,
  createRenderer,
  JsonRenderer,
  PlainRenderer,
  RawJsonRenderer,
  type RawSolveStatus,
  type RendererStream,
  TtyRenderer,
} from '../../src/progress/index.ts';

class Capture implements RendererStream {
  text = '';
  isTTY: boolean;
  columns = 80;
  rows = 30;
  constructor(tty = false) {
    this.isTTY = tty;
  }
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

/** What a tty renderer drew last: the text after its last "clear to the end of the screen". */
function lastView(text: string): string {
  const at = text.lastIndexOf('\x1b[J');
  return at < 0 ? text : text.slice(at + 3);
}

const LAYER = `sha256:${'ab'.repeat(32)}` as Digest;
const CONFIG = `sha256:${'cd'.repeat(32)}` as Digest;

const BUILD: BuildEvent[] = [
  {
    type: 'step-started',
    at: 1000,
    step: 's0',
    name: 'FROM docker.io/library/alpine:3',
    stage: 'builder',
    index: 1,
    total: 3,
  },
  {
    type: 'transfer',
    at: 1100,
    step: 's0',
    direction: 'pull',
    digest: LAYER,
    kind: 'layer',
    status: 'downloading',
    current: 1_000_000,
    total: 3_400_000,
  },
  {
    type: 'transfer',
    at: 1200,
    step: 's0',
    direction: 'pull',
    digest: LAYER,
    kind: 'layer',
    status: 'done',
    current: 3_400_000,
    total: 3_400_000,
  },
  { type: 'step-finished', at: 1500, step: 's0' },
  { type: 'step-started', at: 1500, step: 's1', name: 'RUN make', stage: 'builder', index: 2, total: 3 },
  { type: 'step-log', at: 1620, step: 's1', stream: 'stdout', text: 'compiling\nlinking' },
  { type: 'step-log', at: 1700, step: 's1', stream: 'stderr', text: ' done\n' },
  { type: 'step-finished', at: 2700, step: 's1' },
  { type: 'step-started', at: 2750, step: 's2', name: 'COPY . /app', index: 3, total: 3 },
  { type: 'step-cached', at: 2760, step: 's2' },
  { type: 'step-started', at: 2800, step: 's3', name: 'RUN false' },
  { type: 'step-failed', at: 2900, step: 's3', error: 'RUN false: exited with code 1' },
  { type: 'message', at: 2950, level: 'warning', text: 'something to know' },
];

describe('plain renderer (BuildKit-style #N lines)', () => {
  it('numbers steps, prefixes their output with elapsed seconds, and ends them with DONE/CACHED/ERROR', () => {
    const out = new Capture();
    const renderer = new PlainRenderer({ stream: out });
    for (const e of BUILD) renderer.emit(e);
    renderer.close();
    assert.equal(
      out.text,
      [
        '#1 [builder 1/3] FROM docker.io/library/alpine:3',
        `#1 ${LAYER} 1.00MB / 3.40MB`,
        `#1 ${LAYER} 3.40MB / 3.40MB done`,
        '#1 DONE 0.5s',
        '#2 [builder 2/3] RUN make',
        '#2 0.120 compiling',
        '#2 0.200 linking done',
        '#2 DONE 1.2s',
        '#3 [3/3] COPY . /app',
        '#3 CACHED',
        '#4 RUN false',
        '#4 ERROR: RUN false: exited with code 1',
        'WARNING: something to know',
        '',
      ].join('\n'),
    );
  });

  it('prints a step stopped because another failed as CANCELED, without its error', () => {
    const out = new Capture();
    const renderer = new PlainRenderer({ stream: out });
    renderer.emit({ type: 'step-started', at: 0, step: 'a', name: 'RUN exit 3' });
    renderer.emit({ type: 'step-started', at: 0, step: 'b', name: 'RUN sleep 5' });
    renderer.emit({ type: 'step-failed', at: 500, step: 'a', error: 'RUN failed with exit code 3' });
    renderer.emit({ type: 'step-failed', at: 510, step: 'b', error: 'step aborted', canceled: true });
    renderer.close();
    assert.match(out.text, /^#1 ERROR: RUN failed with exit code 3$/m);
    assert.match(out.text, /^#2 CANCELED$/m);
    assert.doesNotMatch(out.text, /step aborted/);
  });

  it("prints a step's name before its downloads, even when the download began first", () => {
    const out = new Capture();
    const renderer = new PlainRenderer({ stream: out });
    const step = 'from docker.io/library/alpine:3 linux/amd64';
    renderer.emit({
      type: 'transfer',
      at: 10,
      step,
      direction: 'pull',
      digest: LAYER,
      kind: 'layer',
      status: 'waiting',
    });
    renderer.emit({ type: 'step-started', at: 20, step: 'other', name: 'RUN x', index: 2, total: 2 });
    renderer.emit({
      type: 'step-started',
      at: 30,
      step,
      name: 'FROM docker.io/library/alpine:3',
      index: 1,
      total: 2,
    });
    renderer.emit({ type: 'step-finished', at: 40, step });
    renderer.close();
    assert.equal(
      out.text,
      [
        '#1 [2/2] RUN x',
        '#2 [1/2] FROM docker.io/library/alpine:3',
        `#2 ${LAYER} waiting`,
        '#2 DONE 0.0s',
        '',
      ].join('\n'),
    );
  });

  it('prints transfers outside steps like non-tty docker pull, byte progress at most every 2 s', () => {
    const out = new Capture();
    const renderer = new PlainRenderer({ stream: out });
    const t = (
      at: number,
      status: 'waiting' | 'downloading' | 'verifying' | 'done' | 'exists' | 'retrying',
      current?: number,
    ): BuildEvent => ({
      type: 'transfer',
      at,
      direction: 'pull',
      digest: LAYER,
      kind: 'layer',
      status,
      total: 2_000_000,
      ...(current !== undefined ? { current } : {}),
      ...(status === 'retrying' ? { message: 'UND_ERR_SOCKET at byte 5, resuming' } : {}),
    });
    for (const e of [
      t(0, 'waiting'),
      t(100, 'downloading', 10),
      t(200, 'downloading', 20),
      t(2500, 'downloading', 1_500_000),
      t(2600, 'retrying'),
      t(2700, 'verifying'),
      t(2800, 'done'),
    ])
      renderer.emit(e);
    renderer.emit({
      type: 'transfer',
      at: 2900,
      direction: 'push',
      digest: CONFIG,
      kind: 'layer',
      status: 'exists',
    });
    assert.equal(
      out.text,
      [
        'abababababab: Pulling fs layer',
        'abababababab: Downloading 10B / 2.00MB',
        'abababababab: Downloading 1.50MB / 2.00MB',
        'abababababab: Retrying: UND_ERR_SOCKET at byte 5, resuming',
        'abababababab: Verifying Checksum',
        'abababababab: Pull complete',
        'cdcdcdcdcdcd: Layer already exists',
        '',
      ].join('\n'),
    );
  });
});

describe('json renderer', () => {
  it('writes each event as one JSON line, unchanged', () => {
    const out = new Capture();
    const renderer = new JsonRenderer({ stream: out });
    for (const e of BUILD) renderer.emit(e);
    renderer.close();
    const lines = out.text.trimEnd().split('\n');
    assert.equal(lines.length, BUILD.length);
    assert.deepEqual(
      lines.map((l) => JSON.parse(l)),
      BUILD,
    );
  });
});

describe('rawjson renderer (BuildKit client.SolveStatus lines)', () => {
  it('writes vertexes, statuses, logs (base64) and warnings as buildx --progress=rawjson does', () => {
    const out = new Capture();
    const renderer = new RawJsonRenderer({ stream: out });
    for (const e of BUILD) renderer.emit(e);
    renderer.close();
    const lines = out.text.trimEnd().split('\n');
    const statuses = lines.map((l) => JSON.parse(l) as RawSolveStatus);
    for (const status of statuses) {
      const keys = Object.keys(status);
      assert.equal(keys.length, 1, 'one kind of record per line');
      assert.ok(['vertexes', 'statuses', 'logs', 'warnings'].includes(keys[0]!), keys[0]);
    }
    const vertexes = statuses.flatMap((s) => s.vertexes ?? []);
    const from = vertexes.filter((v) => v.name === '[builder 1/3] FROM docker.io/library/alpine:3');
    assert.equal(from.length, 2, 'started, then completed');
    assert.match(from[0]!.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(from[0]!.digest, from[1]!.digest);
    assert.equal(from[0]!.started, new Date(1000).toISOString());
    assert.equal(from[0]!.completed, undefined);
    assert.equal(from[1]!.completed, new Date(1500).toISOString());
    const cached = vertexes.find((v) => v.name === '[3/3] COPY . /app' && v.completed);
    assert.equal(cached?.cached, true);
    const failed = vertexes.find((v) => v.name === 'RUN false' && v.completed);
    assert.equal(failed?.error, 'RUN false: exited with code 1');
    const make = vertexes.find((v) => v.name === '[builder 2/3] RUN make')!;
    const logs = statuses.flatMap((s) => s.logs ?? []).filter((l) => l.vertex === make.digest);
    assert.deepEqual(
      logs.map((l) => [l.stream, Buffer.from(l.data, 'base64').toString()]),
      [
        [1, 'compiling\nlinking'],
        [2, ' done\n'],
      ],
    );
    const transfers = statuses.flatMap((s) => s.statuses ?? []);
    assert.deepEqual(
      transfers.map((t) => [t.id, t.vertex, t.current, t.total, t.completed !== undefined]),
      [
        [LAYER, from[0]!.digest, 1_000_000, 3_400_000, false],
        [LAYER, from[0]!.digest, 3_400_000, 3_400_000, true],
      ],
    );
    const warning = statuses.flatMap((s) => s.warnings ?? [])[0]!;
    assert.equal(Buffer.from(warning.short, 'base64').toString(), 'something to know');
    assert.equal(warning.level, 1);
  });
});

describe('tty renderer', () => {
  it('shows a BuildKit header and every step with its time, redraws in place, and honours NO_COLOR', () => {
    const out = new Capture(true);
    const renderer = new TtyRenderer({ stream: out, env: { NO_COLOR: '1' }, now: () => 3000 });
    for (const e of BUILD) renderer.emit(e);
    renderer.emit({ type: 'step-started', at: 2950, step: 's4', name: 'RUN sleep 10' });
    renderer.emit({ type: 'step-log', at: 2960, step: 's4', stream: 'stdout', text: 'tick\n' });
    renderer.emit({
      type: 'transfer',
      at: 2970,
      direction: 'pull',
      digest: LAYER,
      kind: 'layer',
      status: 'downloading',
      current: 500_000,
      total: 1_000_000,
    });
    renderer.close();
    assert.doesNotMatch(out.text, /\x1b\[\d*m/, 'no colour codes with NO_COLOR');
    // The last view: header (time since the first event, steps ended / steps seen), then each step.
    const finalView = lastView(out.text);
    assert.match(finalView, /^\[\+\] Building 2\.0s \(4\/5\)$/m);
    assert.match(finalView, /^=> \[builder 1\/3\] FROM docker\.io\/library\/alpine:3 {2}0\.5s$/m);
    assert.match(finalView, /^=> => sha256:(ab)+/m, 'the download is shown under its FROM step');
    assert.match(finalView, /^=> \[builder 2\/3\] RUN make {2}1\.2s$/m);
    assert.match(finalView, /^=> CACHED \[3\/3\] COPY \. \/app {2}0\.0s$/m);
    assert.match(finalView, /^=> ERROR RUN false {2}0\.1s$/m);
    assert.match(finalView, /^=> RUN sleep 10 {2}0\.1s$/m);
    assert.match(finalView, /^=> => # tick$/m);
    assert.match(finalView, /^abababababab: Downloading \[=+>\s+\] {2}500kB\/1\.00MB$/m);
    assert.match(finalView, /^------\n > RUN false:\n------$/m);
    // The header comes before the steps, once per view.
    assert.equal(finalView.match(/\[\+\] Building/g)?.length, 1);
    assert.ok(finalView.indexOf('[+] Building') < finalView.indexOf('=> [builder 1/3]'));
  });

  it("ends with FINISHED and shows all of a failed step's output after the steps, not only the last lines", () => {
    const out = new Capture(true);
    const renderer = new TtyRenderer({ stream: out, env: { NO_COLOR: '1' }, now: () => 2000 });
    renderer.emit({ type: 'step-started', at: 1000, step: 'a', name: 'RUN ./test.sh', index: 2, total: 2 });
    const lines = Array.from({ length: 40 }, (_, i) => `output line ${i + 1}`);
    renderer.emit({ type: 'step-log', at: 1500, step: 'a', stream: 'stdout', text: `${lines.join('\n')}\n` });
    renderer.emit({ type: 'step-log', at: 1600, step: 'a', stream: 'stderr', text: 'the cause' });
    renderer.emit({
      type: 'step-failed',
      at: 1700,
      step: 'a',
      error: 'RUN failed with exit code 1: ./test.sh',
    });
    renderer.close();
    const finalView = lastView(out.text);
    assert.match(finalView, /^\[\+\] Building 1\.0s \(1\/1\) FINISHED$/m);
    assert.match(finalView, /^=> ERROR \[2\/2\] RUN \.\/test\.sh {2}0\.7s$/m);
    const box = finalView.slice(finalView.indexOf('------'));
    assert.match(box, /^------\n > \[2\/2\] RUN \.\/test\.sh:\n0\.500 output line 1\n/);
    for (const line of lines) assert.ok(box.includes(` ${line}\n`), line);
    assert.match(box, /^0\.700 the cause\n------\n$/m);
  });

  it('keeps the view within the terminal: the oldest finished steps leave it first', () => {
    const out = new Capture(true);
    out.rows = 8;
    const renderer = new TtyRenderer({ stream: out, env: { NO_COLOR: '1' }, now: () => 100 });
    for (let i = 1; i <= 10; i++) {
      renderer.emit({
        type: 'step-started',
        at: i,
        step: `s${i}`,
        name: `RUN step${i}`,
        index: i,
        total: 11,
      });
      renderer.emit({ type: 'step-finished', at: i + 1, step: `s${i}` });
    }
    renderer.emit({ type: 'step-started', at: 20, step: 'last', name: 'RUN long', index: 11, total: 11 });
    // One frame, drawn by the renderer's timer.
    return new Promise<void>((done) =>
      setTimeout(() => {
        const frame = lastView(out.text);
        const shown = frame.trimEnd().split('\n');
        assert.ok(shown.length <= 7, frame);
        assert.equal(shown[0], '[+] Building 0.1s (10/11)');
        assert.match(frame, /^=> \[11\/11\] RUN long {2}0\.1s$/m);
        assert.doesNotMatch(frame, /step1 /, 'the oldest finished step left the view');
        assert.match(frame, /^=> \[10\/11\] RUN step10 {2}0\.0s$/m, 'labels pad the index as BuildKit does');
        renderer.close();
        assert.match(lastView(out.text), /^=> \[ 1\/11\] RUN step1 {2}0\.0s$/m);
        done();
      }, 250),
    );
  });

  it('colours output unless NO_COLOR is set, and cuts lines to the terminal width', () => {
    const out = new Capture(true);
    out.columns = 20;
    const renderer = new TtyRenderer({ stream: out, env: {}, now: () => 0 });
    renderer.emit({
      type: 'step-started',
      at: 0,
      step: 'x',
      name: 'RUN a-very-long-command-line-that-overflows',
    });
    renderer.emit({ type: 'step-finished', at: 10, step: 'x' });
    renderer.close();
    assert.match(out.text, /\x1b\[34m=> \x1b\[0m/);
    for (const line of out.text.split('\n'))
      assert.ok(line.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').length < 20, line);
  });
});

describe('tty renderer, docker pull style', () => {
  it('lists finished layers before the Digest/Status lines, even on a terminal that reports no width', () => {
    const out = new Capture(true);
    out.columns = 0; // `script` and some CI ptys report 0 columns
    const renderer = new TtyRenderer({ stream: out, env: { NO_COLOR: '1' } });
    const at = 1;
    renderer.emit({ type: 'message', at, level: 'info', text: '1: Pulling from team/app' });
    renderer.emit({
      type: 'transfer',
      at,
      direction: 'pull',
      digest: LAYER,
      kind: 'layer',
      status: 'waiting',
      total: 10,
    });
    renderer.emit({
      type: 'transfer',
      at,
      direction: 'pull',
      digest: CONFIG,
      kind: 'config',
      status: 'done',
      total: 5,
    });
    renderer.emit({
      type: 'transfer',
      at,
      direction: 'pull',
      digest: LAYER,
      kind: 'layer',
      status: 'done',
      total: 10,
    });
    renderer.emit({ type: 'message', at, level: 'info', text: 'Digest: sha256:00' });
    renderer.close();
    const plain = out.text.replace(/\x1b\[\d*[AJ]/g, '').replace(/\r/g, '');
    assert.equal(plain, '1: Pulling from team/app\nabababababab: Pull complete\nDigest: sha256:00\n');
  });
});

describe('createRenderer', () => {
  it('auto picks tty on a terminal, plain otherwise or under CI', () => {
    assert.ok(createRenderer('auto', { stream: new Capture(true), env: {} }) instanceof TtyRenderer);
    assert.ok(createRenderer('auto', { stream: new Capture(false), env: {} }) instanceof PlainRenderer);
    assert.ok(
      createRenderer('auto', { stream: new Capture(true), env: { CI: 'true' } }) instanceof PlainRenderer,
    );
    assert.ok(createRenderer('rawjson', { stream: new Capture(true), env: {} }) instanceof RawJsonRenderer);
    for (const mode of ['quiet', 'none'] as const) {
      const quiet = new Capture();
      const renderer = createRenderer(mode, { stream: quiet });
      for (const e of BUILD) renderer.emit(e);
      renderer.close();
      assert.equal(quiet.text, '', mode);
    }
  });
});
