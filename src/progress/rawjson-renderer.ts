import { createHash } from 'node:crypto';
import { InternalError } from '../util/index.ts';
import type { BuildEvent, StepId } from './events.ts';
import { cacheKeyLine, stepLabel } from './format.ts';
import type { ProgressRenderer, RendererOptions } from './renderer.ts';

/** BuildKit's `client.Vertex` as JSON (`client/graph.go`): empty fields are left out. */
interface RawVertex {
  readonly digest: string;
  readonly name: string;
  readonly started?: string;
  readonly completed?: string;
  readonly cached?: boolean;
  readonly error?: string;
}

/** BuildKit's `client.VertexStatus`: `current` and `timestamp` are always there. */
interface RawStatus {
  readonly id: string;
  readonly vertex?: string;
  readonly name?: string;
  readonly total?: number;
  readonly current: number;
  readonly timestamp: string;
  readonly started?: string;
  readonly completed?: string;
}

/** BuildKit's `client.VertexLog`: `data` is base64 (Go's `[]byte`), `stream` 1 stdout, 2 stderr. */
interface RawLog {
  readonly vertex: string;
  readonly stream: number;
  readonly data: string;
  readonly timestamp: string;
}

/** BuildKit's `client.VertexWarning` (level 1: a warning). */
interface RawWarning {
  readonly vertex?: string;
  readonly level: number;
  readonly short: string;
}

/** One line of `--progress=rawjson`: BuildKit's `client.SolveStatus`. */
export interface RawSolveStatus {
  readonly vertexes?: RawVertex[];
  readonly statuses?: RawStatus[];
  readonly logs?: RawLog[];
  readonly warnings?: RawWarning[];
}

/**
 * `--progress=rawjson`: BuildKit's solve status, one `client.SolveStatus` JSON object per line,
 * as buildx prints it (progressui's raw JSON display), so tools that read `docker buildx build
 * --progress=rawjson` read strata's too. A step is a vertex whose digest is derived from its step
 * id (stable within a run; BuildKit's is the LLB digest); each update carries the whole vertex
 * (name, started, completed, cached, error). Output is a log with base64 data; a transfer is a
 * status named by the blob's digest with `current`/`total` bytes; a step's status lines
 * (`writing image sha256:…`) are statuses of their own; warnings are warnings.
 */
export class RawJsonRenderer implements ProgressRenderer {
  readonly #options: RendererOptions;
  readonly #vertexes = new Map<StepId, { digest: string; name: string; started: string }>();
  /** When each status (transfer, status line) first appeared: BuildKit's `started`. */
  readonly #statusStarted = new Map<string, string>();

  constructor(options: RendererOptions) {
    this.#options = options;
  }

  #write(status: RawSolveStatus): void {
    this.#options.stream.write(`${JSON.stringify(status)}\n`);
  }

  #vertex(step: StepId, at: number): { digest: string; name: string; started: string } {
    let vertex = this.#vertexes.get(step);
    if (!vertex) {
      vertex = { digest: vertexDigest(step), name: step, started: time(at) };
      this.#vertexes.set(step, vertex);
    }
    return vertex;
  }

  emit(event: BuildEvent): void {
    const at = time(event.at);
    switch (event.type) {
      case 'step-started': {
        const vertex = { digest: vertexDigest(event.step), name: stepLabel(event), started: at };
        this.#vertexes.set(event.step, vertex);
        this.#write({ vertexes: [vertex] });
        return;
      }
      case 'step-cached':
        this.#write({ vertexes: [{ ...this.#vertex(event.step, event.at), completed: at, cached: true }] });
        return;
      case 'step-finished':
        this.#write({ vertexes: [{ ...this.#vertex(event.step, event.at), completed: at }] });
        return;
      case 'step-failed':
        this.#write({
          vertexes: [
            {
              ...this.#vertex(event.step, event.at),
              completed: at,
              // BuildKit's error for a vertex stopped because the build was.
              error: event.canceled ? 'context canceled' : event.error,
            },
          ],
        });
        return;
      case 'step-log':
        this.#write({
          logs: [
            {
              vertex: this.#vertex(event.step, event.at).digest,
              stream: event.stream === 'stdout' ? 1 : 2,
              data: Buffer.from(event.text).toString('base64'),
              timestamp: at,
            },
          ],
        });
        return;
      case 'transfer': {
        const key = `${event.step ?? ''} ${event.direction} ${event.digest}`;
        const started = this.#statusStarted.get(key) ?? at;
        this.#statusStarted.set(key, started);
        const final = event.status === 'done' || event.status === 'exists' || event.status === 'mounted';
        this.#write({
          statuses: [
            {
              id: event.digest,
              ...(event.step !== undefined ? { vertex: this.#vertex(event.step, event.at).digest } : {}),
              name: event.status === 'exists' ? `${event.digest} already exists` : event.digest,
              ...(event.total !== undefined ? { total: event.total } : {}),
              current: event.current ?? (final ? (event.total ?? 0) : 0),
              timestamp: at,
              started,
              ...(final ? { completed: at } : {}),
            },
          ],
        });
        return;
      }
      case 'message':
        if (event.level === 'warning') {
          this.#write({
            warnings: [
              {
                ...(event.step !== undefined ? { vertex: this.#vertex(event.step, event.at).digest } : {}),
                level: 1,
                short: Buffer.from(event.text).toString('base64'),
              },
            ],
          });
          return;
        }
        // A status line (`writing image sha256:… done`), complete when it is said.
        this.#write({
          statuses: [
            {
              id: event.text,
              ...(event.step !== undefined ? { vertex: this.#vertex(event.step, event.at).digest } : {}),
              name: event.text,
              current: 0,
              timestamp: at,
              started: at,
              completed: at,
            },
          ],
        });
        return;
      case 'cache-key':
        this.#write({
          logs: [
            {
              vertex: this.#vertex(event.step, event.at).digest,
              stream: 2,
              data: Buffer.from(`${cacheKeyLine(event)}\n`).toString('base64'),
              timestamp: at,
            },
          ],
        });
        return;
      default: {
        const unknown: never = event;
        throw new InternalError(`unknown event ${JSON.stringify(unknown)}`);
      }
    }
  }

  close(): void {}
}

/** A vertex digest for a step: `sha256:` of its id (BuildKit's is the digest of the LLB op). */
function vertexDigest(step: StepId): string {
  return `sha256:${createHash('sha256').update(step).digest('hex')}`;
}

/** Go's `time.Time` JSON: RFC 3339 with fractional seconds. */
function time(at: number): string {
  return new Date(at).toISOString();
}
