import { InternalError } from '../util/index.ts';
import type { BuildEvent, StepId, TransferEvent } from './events.ts';
import { cacheKeyLine, formatProgressBytes, formatSeconds, shortId, stepLabel } from './format.ts';
import type { ProgressRenderer, RendererOptions } from './renderer.ts';

interface TtyStep {
  readonly id: StepId;
  readonly label: string;
  readonly startedAt: number;
  logs: string[];
  partial: string;
}

interface TtyTransfer {
  readonly key: string;
  event: TransferEvent;
}

/** Lines of a running step's output kept on screen (BuildKit shows a few). */
const LOG_LINES = 6;
/** Redraws per second at most. */
const FRAME_MS = 100;

const ESC = '\x1b[';

const FINAL: ReadonlySet<TransferEvent['status']> = new Set(['done', 'exists', 'mounted']);

/**
 * `--progress=tty`: a live view that redraws in place, like BuildKit's (running steps with timers,
 * their transfers and last output lines; a finished step is printed once, above the live view,
 * with its time or `CACHED`/`ERROR`) and like `docker pull` for transfers outside any step
 * (`0123456789ab: Downloading [=====>    ] 1.2MB/3.4MB`). Colours unless `NO_COLOR` is set.
 * Lines are cut to the terminal width so the redraw can count them.
 */
export class TtyRenderer implements ProgressRenderer {
  readonly #options: RendererOptions;
  readonly #color: boolean;
  readonly #steps = new Map<StepId, TtyStep>();
  readonly #transfers = new Map<string, TtyTransfer>();
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
    switch (event.type) {
      case 'step-started':
        this.#steps.set(event.step, {
          id: event.step,
          label: stepLabel(event),
          startedAt: event.at,
          logs: [],
          partial: '',
        });
        break;
      case 'step-log': {
        const step = this.#steps.get(event.step);
        if (!step) break;
        const lines = (step.partial + event.text).split('\n');
        step.partial = lines.pop() ?? '';
        step.logs.push(...lines.map((l) => l.replace(/\r$/, '')));
        if (step.logs.length > LOG_LINES) step.logs.splice(0, step.logs.length - LOG_LINES);
        break;
      }
      case 'step-cached':
        this.#finishStep(event.step, this.#paint('34', '=> CACHED '), '');
        break;
      case 'step-finished': {
        const step = this.#steps.get(event.step);
        this.#finishStep(
          event.step,
          this.#paint('34', '=> '),
          step ? formatSeconds(event.at - step.startedAt) : '',
        );
        break;
      }
      case 'step-failed': {
        if (event.canceled) {
          this.#finishStep(event.step, this.#paint('33', '=> CANCELED '), '', []);
          break;
        }
        const step = this.#steps.get(event.step);
        const tail = step ? [...step.logs, ...(step.partial ? [step.partial] : [])] : [];
        this.#finishStep(event.step, this.#paint('31', '=> ERROR '), '', [
          ...tail.map((l) => this.#paint('31', ` > ${l}`)),
          this.#paint('31', ` > ${event.error}`),
        ]);
        break;
      }
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
      case 'message':
        this.#permanent([
          event.level === 'warning' ? this.#paint('33', `WARNING: ${event.text}`) : event.text,
        ]);
        break;
      default: {
        const unknown: never = event;
        throw new InternalError(`unknown event ${JSON.stringify(unknown)}`);
      }
    }
    this.#schedule();
  }

  #finishStep(id: StepId, prefix: string, time: string, extra: string[] = []): void {
    const step = this.#steps.get(id);
    const label = step?.label ?? id;
    this.#steps.delete(id);
    for (const [key, t] of this.#transfers) if (t.event.step === id) this.#transfers.delete(key);
    this.#permanent([`${prefix}${label}${time ? `  ${time}` : ''}`, ...extra]);
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

  #frame(): string[] {
    const now = this.#now();
    const lines: string[] = [];
    for (const step of this.#steps.values()) {
      lines.push(`${this.#paint('34', '=> ')}${step.label}  ${formatSeconds(now - step.startedAt)}`);
      for (const t of this.#transfers.values())
        if (t.event.step === step.id) lines.push(`=> => ${this.#stepTransferLine(t.event)}`);
      const logs = step.partial ? [...step.logs, step.partial] : step.logs;
      for (const l of logs.slice(-LOG_LINES)) lines.push(this.#paint('2', `=> => # ${l}`));
    }
    for (const t of this.#transfers.values())
      if (t.event.step === undefined && t.event.kind === 'layer') lines.push(this.#dockerLine(t.event));
    const rows = this.#options.stream.rows || 40;
    return lines.length > rows - 1 ? lines.slice(lines.length - (rows - 1)) : lines;
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
    this.#draw();
    this.#closed = true;
  }
}
