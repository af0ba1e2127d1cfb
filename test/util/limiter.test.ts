import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Limiter, mapConcurrent } from '../../src/util/index.ts';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Limiter', () => {
  it('runs at most `concurrency` tasks at once, the rest in FIFO order', async () => {
    const limiter = new Limiter(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      [0, 1, 2, 3, 4].map((i) =>
        limiter.run(async () => {
          order.push(i);
          running++;
          peak = Math.max(peak, running);
          await tick();
          running--;
        }),
      ),
    );
    assert.equal(peak, 2);
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
  });

  it('lets a task that waits for a queued one give its slot back instead of deadlocking', async () => {
    const limiter = new Limiter(1);
    const log: string[] = [];
    let later!: Promise<string>;
    const first = limiter.run(async () => {
      log.push('first starts');
      // With the only slot held, `later` could never run if `first` simply awaited it.
      later = limiter.run(async () => {
        log.push('later runs');
        return 'made by later';
      });
      const got = await limiter.yieldWhile(later);
      log.push('first resumes');
      return got;
    });
    assert.equal(await first, 'made by later');
    assert.deepEqual(log, ['first starts', 'later runs', 'first resumes']);
  });

  it('mapConcurrent keeps input order', async () => {
    assert.deepEqual(
      await mapConcurrent([3, 1, 2], 2, async (n) => {
        await tick();
        return n * 10;
      }),
      [30, 10, 20],
    );
  });
});
