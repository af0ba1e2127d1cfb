import { readFile } from 'node:fs/promises';
import { currentUserNamespace } from '../util/index.ts';
import { DEFAULT_NOFILE } from './runtime-spec.ts';

/** CAP_SYS_RESOURCE's bit in /proc/self/status's CapEff: needed to raise a hard rlimit. */
const CAP_SYS_RESOURCE = 24n;

/**
 * The open-files limit for containers: Docker's 1048576, lowered to the kernel's ceiling
 * (fs.nr_open) and, when strata cannot raise hard limits (no CAP_SYS_RESOURCE, e.g. inside a
 * container, or rootless), to its own hard limit, since the runtime could not set a higher one.
 */
export async function containerNofile(): Promise<number> {
  let limit = DEFAULT_NOFILE;
  const nrOpen = Number.parseInt(await readFile('/proc/sys/fs/nr_open', 'utf8').catch(() => ''), 10);
  if (nrOpen > 0) limit = Math.min(limit, nrOpen);
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  // In a user namespace CAP_SYS_RESOURCE is the namespace's: it cannot raise a hard limit.
  const canRaise =
    currentUserNamespace() === undefined &&
    capEff !== undefined &&
    ((BigInt(`0x${capEff}`) >> CAP_SYS_RESOURCE) & 1n) === 1n;
  if (!canRaise) {
    const limits = await readFile('/proc/self/limits', 'utf8').catch(() => '');
    const hard = /^Max open files\s+\S+\s+(\S+)/m.exec(limits)?.[1];
    if (hard !== undefined && hard !== 'unlimited') limit = Math.min(limit, Number.parseInt(hard, 10));
  }
  return limit;
}
