import { InternalError } from '../util/index.ts';
import type { BuildEvent, StepId, TransferEvent } from './events.ts';
import { cacheKeyLine, formatProgressBytes, formatSeconds, shortId, stepLabel } from './format.ts';
import type { ProgressRenderer, RendererOptions } from './renderer.ts';

interface TtyLog {
  readonly at: number;
  readonly text: string;
}

interface TtyStep {
  readonly id: StepId;
  readonly label: string;
  readonly startedAt: number;
  state: 'running' | 'done' | 'cached' | 'error' | 'canceled';
  endedAt?: number;
  error?: string;
  /** Every output line (up to {@link KEPT_LOG_LINES}): a failed step shows all of it at the end. */
  logs: TtyLog[];
  droppedLogs: number;
  partial: string;
  /** Status lines (`writing image sha256:…`), shown under the step. */
  notes: string[];
}

interface TtyTransfer {
  readonly key: string;
  event: TransferEvent;
}

/** Lines of a running step's output kept on screen (BuildKit shows a few). */
const LOG_LINES = 6;
/** Output lines a step keeps for the error display after a failure (the earliest are dropped). */
const KEPT_LOG_LINES = 10_000;
/** Redraws per second at most. */
const FRAME_MS = 100;

const ESC = '\x1b[';

const FINAL: ReadonlySet<TransferEvent['status']> = new Set(['done', 'exists', 'mounted']);

/**
 * `--progress=tty`: BuildKit's live view, redrawn in place: a header with the time so far and the
 * steps done (`[+] Building 6.8s (10/13)`), then every step with its time (`CACHED`, `ERROR`,
 * `CANCELED`), a running step's transfers, status lines and last output lines. When the view is
 * taller than the terminal, the oldest finished steps leave it; `close()` prints the whole list
 * once more, then the full output of each failed step between dashed lines (as BuildKit does after
 * an error). Transfers outside any step (`strata pull`) look like `docker pull`
 * (`0123456789ab: Downloading [=====>    ] 1.2MB/3.4MB`). Colours unless `NO_COLOR` is set.
 * Lines are cut to the terminal width so the redraw can count them.
 */
export class TtyRenderer implements ProgressRenderer {
  readonly #options: RendererOptions;
  readonly #color: boolean;
  readonly #steps = new Map<StepId, TtyStep>();
  readonly #transfers = new Map<string, TtyTransfer>();
  #firstAt: number | undefined;
  #liveLines = 0;
  #timer: NodeJS.Timeout | undefined;
  #dirty = false;
  #closed = false;

  constructor(options: RendererOptions) {
    this.#options = options;
    const env = options.env ?? process.env;
    this.#color = options.color ?? !(env.NO_COLOR !== undefined && env.NO_COLOR !== '');
  }

  #now(): number {
    return this.#options.now?.() ?? Date.now();
  }

  #paint(code: string, text: string): string {
    return this.#color ? `${ESC}${code}m${text}${ESC}0m` : text;
  }

  emit(event: BuildEvent): void {
    if (this.#closed) return;
    this.#firstAt ??= event.at;
    switch (event.type) {
      case 'step-started':
        if (this.#steps.has(event.step)) break;
        this.#steps.set(event.step, {
          id: event.step,
          label: stepLabel(event),
          startedAt: event.at,
          state: 'running',
          logs: [],
          droppedLogs: 0,
          partial: '',
          notes: [],
        });
        break;
      case 'step-log': {
        const step = this.#steps.get(event.step);
        if (!step) break;
        const lines = (step.partial + event.text).split('\n');
        step.partial = lines.pop() ?? '';
        step.logs.push(...lines.map((l) => ({ at: event.at, text: l.replace(/\r$/, '') })));
        if (step.logs.length > KEPT_LOG_LINES) {
          step.droppedLogs += step.logs.length - KEPT_LOG_LINES;
          step.logs.splice(0, step.logs.length - KEPT_LOG_LINES);
        }
        break;
      }
      case 'step-cached':
        this.#end(event.step, 'cached', event.at);
        break;
      case 'step-finished':
        this.#end(event.step, 'done', event.at);
        break;
      case 'step-failed':
        this.#end(event.step, event.canceled ? 'canceled' : 'error', event.at, event.error);
        break;
      case 'transfer': {
        const key = `${event.step ?? ''} ${event.direction} ${event.digest}`;
        const existing = this.#transfers.get(key);
        if (existing) existing.event = event;
        else this.#transfers.set(key, { key, event });
        break;
      }
      case 'cache-key':
        this.#permanent([cacheKeyLine(event)]);
        break;
      case 'message': {
        const step = event.step === undefined ? undefined : this.#steps.get(event.step);
        const text = event.level === 'warning' ? this.#paint('33', `WARNING: ${event.text}`) : event.text;
        if (step) step.notes.push(text);
        else this.#permanent([text]);
        break;
      }
      default: {
        const unknown: never = event;
        throw new InternalError(`unknown event ${JSON.stringify(unknown)}`);
      }
    }
    this.#schedule();
  }

  #end(id: StepId, state: TtyStep['state'], at: number, error?: string): void {
    const step = this.#steps.get(id);
    if (step?.state !== 'running') return;
    step.state = state;
    step.endedAt = at;
    if (step.partial) {
      step.logs.push({ at, text: step.partial });
      step.partial = '';
    }
    if (error !== undefined) step.error = error;
  }

  /** Prints lines above the live view (they scroll away normally). */
  #permanent(lines: string[]): void {
    // Finished transfers outside steps go first, as `docker pull` lists its layers before "Digest:".
    const loose = [...this.#transfers.values()].filter((t) => t.event.step === undefined);
    if (loose.length > 0 && loose.every((t) => FINAL.has(t.event.status))) {
      for (const t of loose) this.#transfers.delete(t.key);
      lines = [
        ...loose.filter((t) => t.event.kind === 'layer').map((t) => this.#dockerLine(t.event)),
        ...lines,
      ];
    }
    this.#options.stream.write(this.#clear() + lines.map((l) => `${this.#fit(l)}\n`).join(''));
    this.#liveLines = 0;
    this.#dirty = true;
  }

  #schedule(): void {
    this.#dirty = true;
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#dirty) this.#draw();
    }, FRAME_MS);
    this.#timer.unref?.();
  }

  #clear(): string {
    return this.#liveLines > 0 ? `${ESC}${this.#liveLines}A\r${ESC}J` : '';
  }

  #fit(line: string): string {
    const width = this.#options.stream.columns || 100;
    // Count visible characters only (colour codes take no room).
    let visible = 0;
    let out = '';
    for (let i = 0; i < line.length; i++) {
      if (line[i] === '\x1b') {
        const end = line.indexOf('m', i);
        if (end !== -1) {
          out += line.slice(i, end + 1);
          i = end;
          continue;
        }
      }
      if (visible >= width - 1) break;
      out += line[i];
      visible++;
    }
    return out;
  }

  /** The steps part of the view: header, then each step with its details, as blocks. */
  #stepBlocks(final: boolean): { header: string; blocks: { finished: boolean; lines: string[] }[] } {
    const now = this.#now();
    const steps = [...this.#steps.values()];
    const ended = steps.filter((s) => s.state !== 'running').length;
    const elapsed = formatSeconds(
      (final || ended < steps.length ? now : Math.max(...steps.map((s) => s.endedAt ?? now))) -
        (this.#firstAt ?? now),
    );
    const header = this.#paint(
      '34',
      `[+] Building ${elapsed} (${ended}/${steps.length})${final && ended === steps.length ? ' FINISHED' : ''}`,
    );
    const blocks = steps.map((step) => {
      const time = formatSeconds((step.endedAt ?? now) - step.startedAt);
      const head: Record<TtyStep['state'], string> = {
        running: `${this.#paint('34', '=> ')}${step.label}  ${time}`,
        done: `${this.#paint('34', '=> ')}${step.label}  ${time}`,
        cached: `${this.#paint('34', '=> CACHED ')}${step.label}  0.0s`,
        error: `${this.#paint('31', '=> ERROR ')}${step.label}  ${time}`,
        canceled: `${this.#paint('33', '=> CANCELED ')}${step.label}  ${time}`,
      };
      const lines = [head[step.state]];
      for (const t of this.#transfers.values())
        if (t.event.step === step.id) lines.push(`=> => ${this.#stepTransferLine(t.event)}`);
      for (const note of step.notes) lines.push(`=> => ${note}`);
      if (step.state === 'running') {
        const logs = step.partial
          ? [...step.logs.map((l) => l.text), step.partial]
          : step.logs.map((l) => l.text);
        for (const l of logs.slice(-LOG_LINES)) lines.push(this.#paint('2', `=> => # ${l}`));
      }
      const busy = [...this.#transfers.values()].some(
        (t) => t.event.step === step.id && !FINAL.has(t.event.status),
      );
      return { finished: step.state !== 'running' && !busy, lines };
    });
    return { header, blocks };
  }

  #frame(): string[] {
    const lines: string[] = [];
    const rows = Math.max(2, (this.#options.stream.rows || 40) - 1);
    if (this.#steps.size > 0) {
      const { header, blocks } = this.#stepBlocks(false);
      // Too tall for the terminal: the oldest finished steps leave the view first (BuildKit's rule).
      let height = 1 + blocks.reduce((n, b) => n + b.lines.length, 0);
      const shown = [...blocks];
      for (let i = 0; i < shown.length && height > rows; ) {
        if (shown[i]!.finished) {
          height -= shown[i]!.lines.length;
          shown.splice(i, 1);
        } else i++;
      }
      lines.push(header, ...shown.flatMap((b) => b.lines));
    }
    for (const t of this.#transfers.values())
      if (t.event.step === undefined && t.event.kind === 'layer') lines.push(this.#dockerLine(t.event));
    return lines.length > rows ? lines.slice(lines.length - rows) : lines;
  }

  /** After the last frame: the whole list, and each failed step's output in full. */
  #finalLines(): string[] {
    if (this.#steps.size === 0) return this.#frame();
    const { header, blocks } = this.#stepBlocks(true);
    const lines = [header, ...blocks.flatMap((b) => b.lines)];
    for (const t of this.#transfers.values())
      if (t.event.step === undefined && t.event.kind === 'layer') lines.push(this.#dockerLine(t.event));
    for (const step of this.#steps.values()) {
      if (step.state !== 'error') continue;
      // BuildKit's error box: the step and all it printed (times from the step's start).
      lines.push('------', ` > ${step.label}:`);
      if (step.droppedLogs > 0) lines.push(`(${step.droppedLogs} earlier lines not shown)`);
      for (const log of step.logs) lines.push(`${((log.at - step.startedAt) / 1000).toFixed(3)} ${log.text}`);
      lines.push('------');
    }
    return lines;
  }

  #stepTransferLine(event: TransferEvent): string {
    const bytes =
      event.total !== undefined
        ? ` ${formatProgressBytes(event.current ?? 0)} / ${formatProgressBytes(event.total)}`
        : '';
    const tail: Record<TransferEvent['status'], string> = {
      waiting: ' waiting',
      downloading: bytes,
      pushing: bytes,
      verifying: `${bytes} verifying`,
      retrying: ' retrying',
      done: `${bytes} done`,
      exists: ' already exists',
      mounted: ' mounted',
    };
    return `${event.digest}${tail[event.status]}`;
  }

  #dockerLine(event: TransferEvent): string {
    const id = shortId(event.digest);
    const pull = event.direction === 'pull';
    switch (event.status) {
      case 'waiting':
        return `${id}: ${pull ? 'Pulling fs layer' : 'Preparing'}`;
      case 'downloading':
      case 'pushing': {
        const total = event.total ?? 0;
        const current = event.current ?? 0;
        // Docker's bar is 50 wide; narrower terminals get a shorter one so the sizes stay visible.
        const width = Math.max(10, Math.min(50, (this.#options.stream.columns || 100) - 50));
        const filled = total > 0 ? Math.min(width, Math.floor((current / total) * width)) : 0;
        const bar = `[${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(width - filled)}]`;
        return `${id}: ${pull ? 'Downloading' : 'Pushing'} ${bar}  ${formatProgressBytes(current)}/${formatProgressBytes(total)}`;
      }
      case 'verifying':
        return `${id}: Verifying Checksum`;
      case 'retrying':
        return this.#paint('33', `${id}: Retrying${event.message ? ` (${event.message})` : ''}`);
      case 'done':
        return `${id}: ${pull ? 'Pull complete' : 'Pushed'}`;
      case 'exists':
        return `${id}: ${pull ? 'Already exists' : 'Layer already exists'}`;
      case 'mounted':
        return `${id}: Mounted from another repository`;
      default: {
        const unknown: never = event.status;
        return unknown;
      }
    }
  }

  #draw(): void {
    this.#dirty = false;
    const lines = this.#frame().map((l) => this.#fit(l));
    this.#options.stream.write(this.#clear() + lines.map((l) => `${l}\n`).join(''));
    this.#liveLines = lines.length;
  }

  close(): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#dirty = false;
    // The last view is printed whole (it scrolls normally from here on): nothing is cut to the
    // terminal's height, and a failed step's output is not cut to the terminal's width either.
    const lines = this.#finalLines();
    const boxStart = lines.indexOf('------');
    const fitted = lines.map((l, i) => (boxStart >= 0 && i >= boxStart ? l : this.#fit(l)));
    this.#options.stream.write(this.#clear() + fitted.map((l) => `${l}\n`).join(''));
    this.#liveLines = 0;
    this.#closed = true;
  }
}
