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
    await this.#acquire();
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  /**
   * For a running task: gives its slot back while `wait` is pending (another task may use it),
   * then takes a slot again. A task that waits for another this way can never starve it.
   */
  async yieldWhile<T>(wait: Promise<T>): Promise<T> {
    this.#release();
    try {
      return await wait;
    } finally {
      await this.#acquire();
    }
  }

  async #acquire(): Promise<void> {
    if (this.#active >= this.concurrency) await new Promise<void>((resolve) => this.#queue.push(resolve));
    this.#active++;
  }

  #release(): void {
    this.#active--;
    this.#queue.shift()?.();
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
