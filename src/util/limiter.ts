/**
 * Runs at most `concurrency` tasks at once; the rest wait in FIFO order.
 * Used for concurrent layer downloads and uploads and for parallel stages.
 */
export class Limiter {
  #active = 0;
  readonly #queue: Array<() => void> = [];
  readonly concurrency: number;

  constructor(concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new RangeError('concurrency must be a positive integer');
    this.concurrency = concurrency;
  }

  /** Runs `task` when a slot is free and resolves with its result. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.concurrency) await new Promise<void>((resolve) => this.#queue.push(resolve));
    this.#active++;
    try {
      return await task();
    } finally {
      this.#active--;
      this.#queue.shift()?.();
    }
  }
}

/** Maps `items` through `fn` with at most `concurrency` calls in flight; results keep input order. */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const limiter = new Limiter(concurrency);
  return Promise.all(items.map((item, index) => limiter.run(() => fn(item, index))));
}
