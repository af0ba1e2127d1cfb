import { randomBytes } from 'node:crypto';
import { NETNS_PREFIX, openStepNetwork, type StepNetwork } from './step-network.ts';

/**
 * Step networks ({@link StepNetwork}) made one ahead of need. Bringing a network up (a namespace
 * and slirp4netns's start) takes tens of milliseconds; a build's steps come one after another, so
 * once a step's container runs, the pool starts the next step's network ({@link prepareNext}),
 * which comes up while that step runs. Each network serves exactly one step and is never reused:
 * a spare is as fresh as one made on demand. A step gives its network back without waiting for
 * it to go (nothing of the step's result depends on it); the teardown runs in the background and
 * {@link close} waits for it, after releasing the spare. Nothing the pool starts outlives strata:
 * slirp4netns exits when its exit fd closes, and a namespace held by an fd goes with the process.
 */
export class StepNetworkPool {
  #spare: Promise<StepNetwork> | undefined;
  readonly #teardowns = new Set<Promise<void>>();

  /**
   * A fresh network for one step: the one made ahead, else one made now. A spare that failed to
   * come up is this call's error, as a network made now would fail the same way; a spare whose
   * slirp4netns has exited since (killed, crashed) is let go and a network made now instead.
   */
  async take(): Promise<StepNetwork> {
    const spare = this.#spare;
    this.#spare = undefined;
    if (spare === undefined) return open();
    const network = await spare;
    if (network.isUp()) return network;
    this.release(network);
    return open();
  }

  /**
   * Starts making the next step's network, unless one is on its way. The executor calls it once
   * the step's container has been started: the work (a namespace, a process start) then runs while
   * the step does, not while its bundle is prepared. The promise (which never rejects) settles
   * once the spare is up or has failed; nothing needs to wait for it.
   */
  prepareNext(): Promise<void> {
    if (this.#spare === undefined) this.#spare = open();
    return this.#spare.then(
      () => undefined,
      () => undefined, // its failure is the error of the step that takes it
    );
  }

  /**
   * Lets go of a taken network: its teardown runs in the background and {@link close} waits for it.
   */
  release(network: StepNetwork): void {
    this.#track(network.release());
  }

  /**
   * Releases the spare and waits until every network the pool made and was given back is gone;
   * the first teardown error, if any, is thrown. A later {@link take} starts afresh.
   */
  async close(): Promise<void> {
    const spare = this.#spare;
    this.#spare = undefined;
    if (spare)
      this.#track(
        spare.then(
          (network) => network.release(),
          () => undefined, // it never came up, and removed what it had made
        ),
      );
    const results = await Promise.allSettled([...this.#teardowns]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  #track(teardown: Promise<void>): void {
    // Rejections are kept for close(); until then the promise is observed, never unhandled.
    teardown.catch(() => undefined);
    this.#teardowns.add(teardown);
    teardown.then(
      () => this.#teardowns.delete(teardown),
      () => undefined, // kept in the set: close() throws it
    );
  }
}

/**
 * A network under a fresh name. The name only matters where `ip netns add` makes the namespace:
 * it carries strata's pid, so a sweep leaves the namespaces of live strata processes alone.
 */
function open(): Promise<StepNetwork> {
  return openStepNetwork(`${NETNS_PREFIX}net-${process.pid}-${randomBytes(8).toString('hex')}`);
}
