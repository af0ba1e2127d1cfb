import { InternalError } from '../util/index.ts';
import type { BuildEvent, StepId, TransferEvent } from './events.ts';
import { cacheKeyLine, formatProgressBytes, formatSeconds, shortId, stepLabel } from './format.ts';
import type { ProgressRenderer, RendererOptions } from './renderer.ts';

interface PlainStep {
  readonly number: number;
  readonly startedAt: number;
  partial: string;
}

/** How often (ms) a running transfer's byte count is repeated in plain mode. */
const PROGRESS_EVERY_MS = 2000;

const DOCKER_WORDS: Record<TransferEvent['status'], { pull: string; push: string }> = {
  waiting: { pull: 'Pulling fs layer', push: 'Preparing' },
  downloading: { pull: 'Downloading', push: 'Pushing' },
  pushing: { pull: 'Downloading', push: 'Pushing' },
  verifying: { pull: 'Verifying Checksum', push: 'Verifying' },
  retrying: { pull: 'Retrying', push: 'Retrying' },
  done: { pull: 'Pull complete', push: 'Pushed' },
  exists: { pull: 'Already exists', push: 'Layer already exists' },
  mounted: { pull: 'Mounted', push: 'Mounted from another repository' },
};

/**
 * `--progress=plain`: one line per event, for logs and CI. Steps get BuildKit's `#N` numbers
 * (`#3 [builder 2/5] RUN make`, `#3 0.512 <output line>`, `#3 DONE 1.2s`, `#3 CACHED`); blob
 * transfers outside a step print like non-tty `docker pull` (`0123456789ab: Pull complete`).
 * Byte progress is repeated at most every two seconds per transfer.
 */
export class PlainRenderer implements ProgressRenderer {
  readonly #options: RendererOptions;
  readonly #steps = new Map<StepId, PlainStep>();
  readonly #lastStatus = new Map<string, { status: string; at: number }>();
  /** Events of a step not started yet (a base image's download begins before its FROM step). */
  readonly #pending = new Map<StepId, BuildEvent[]>();
  #next = 1;

  constructor(options: RendererOptions) {
    this.#options = options;
  }

  #write(line: string): void {
    this.#options.stream.write(`${line}\n`);
  }

  #step(id: StepId, at: number): PlainStep {
    let step = this.#steps.get(id);
    if (!step) {
      step = { number: this.#next++, startedAt: at, partial: '' };
      this.#steps.set(id, step);
    }
    return step;
  }

  emit(event: BuildEvent): void {
    // A step's details wait until its `#N <name>` line is out, so the name comes first, as in BuildKit.
    const owner = event.type === 'step-log' || event.type === 'cache-key' ? event.step : undefined;
    const attached = event.type === 'transfer' || event.type === 'message' ? event.step : owner;
    if (attached !== undefined && !this.#steps.has(attached)) {
      const queue = this.#pending.get(attached) ?? [];
      queue.push(event);
      this.#pending.set(attached, queue);
      return;
    }
    switch (event.type) {
      case 'step-started': {
        if (this.#steps.has(event.step)) return;
        const step = this.#step(event.step, event.at);
        this.#write(`#${step.number} ${stepLabel(event)}`);
        const queued = this.#pending.get(event.step) ?? [];
        this.#pending.delete(event.step);
        for (const e of queued) this.emit(e);
        return;
      }
      case 'step-log': {
        const step = this.#step(event.step, event.at);
        const text = step.partial + event.text;
        const lines = text.split('\n');
        step.partial = lines.pop() ?? '';
        const elapsed = ((event.at - step.startedAt) / 1000).toFixed(3);
        for (const line of lines) this.#write(`#${step.number} ${elapsed} ${line.replace(/\r$/, '')}`);
        return;
      }
      case 'step-cached':
        this.#write(`#${this.#step(event.step, event.at).number} CACHED`);
        return;
      case 'step-finished': {
        const step = this.#flush(event.step, event.at);
        this.#write(`#${step.number} DONE ${formatSeconds(event.at - step.startedAt)}`);
        return;
      }
      case 'step-failed': {
        const step = this.#flush(event.step, event.at);
        // BuildKit's word for a step stopped because another failed.
        this.#write(event.canceled ? `#${step.number} CANCELED` : `#${step.number} ERROR: ${event.error}`);
        return;
      }
      case 'transfer':
        this.#transfer(event);
        return;
      case 'cache-key':
        this.#write(`#${this.#step(event.step, event.at).number} ${cacheKeyLine(event)}`);
        return;
      case 'message': {
        const text = event.level === 'warning' ? `WARNING: ${event.text}` : event.text;
        this.#write(event.step ? `#${this.#step(event.step, event.at).number} ${text}` : text);
        return;
      }
      default: {
        const unknown: never = event;
        throw new InternalError(`unknown event ${JSON.stringify(unknown)}`);
      }
    }
  }

  #flush(id: StepId, at: number): PlainStep {
    const step = this.#step(id, at);
    if (step.partial) {
      const elapsed = ((at - step.startedAt) / 1000).toFixed(3);
      this.#write(`#${step.number} ${elapsed} ${step.partial}`);
      step.partial = '';
    }
    return step;
  }

  #transfer(event: TransferEvent): void {
    const key = `${event.step ?? ''} ${event.direction} ${event.digest}`;
    const last = this.#lastStatus.get(key);
    const moving = event.status === 'downloading' || event.status === 'pushing';
    if (last && last.status === event.status && (!moving || event.at - last.at < PROGRESS_EVERY_MS)) return;
    this.#lastStatus.set(key, { status: event.status, at: event.at });
    const bytes =
      event.total !== undefined
        ? `${formatProgressBytes(event.current ?? 0)} / ${formatProgressBytes(event.total)}`
        : '';
    if (event.step !== undefined) {
      const step = this.#step(event.step, event.at);
      const words: Record<TransferEvent['status'], string> = {
        waiting: 'waiting',
        downloading: bytes,
        pushing: bytes,
        verifying: `${bytes} verifying`,
        retrying: `retrying${event.message ? `: ${event.message}` : ''}`,
        done: `${bytes} done`,
        exists: 'already exists',
        mounted: 'mounted',
      };
      this.#write(`#${step.number} ${event.digest} ${words[event.status]}`.trimEnd());
      return;
    }
    // Like `docker pull`/`docker push`, only layers get lines of their own.
    if (event.kind !== 'layer') return;
    let text = DOCKER_WORDS[event.status][event.direction];
    if (moving && bytes) text += ` ${bytes}`;
    if (event.status === 'retrying' && event.message) text += `: ${event.message}`;
    this.#write(`${shortId(event.digest)}: ${text}`);
  }

  close(): void {
    for (const [id, queued] of this.#pending) {
      this.#pending.delete(id);
      this.#step(id, queued[0]?.at ?? 0);
      for (const e of queued) this.emit(e);
    }
    for (const [id] of this.#steps) this.#flush(id, this.#options.now?.() ?? Date.now());
  }
}
