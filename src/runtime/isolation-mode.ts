import { InvalidInputError } from '../util/index.ts';
import { effectiveCapabilities, openChrootExecutor } from './chroot-executor.ts';
import type { Executor } from './executor.ts';
import { type OpenExecutorOptions, openExecutor } from './oci-executor.ts';

/**
 * How RUN steps are isolated (`strata build --isolation`, buildah's and podman's flag and names):
 *
 * - `oci`: a container made by runc or crun (namespaces, mounts, Docker's seccomp profile). Needs
 *   root with CAP_SYS_ADMIN. The default wherever it works.
 * - `chroot`: chroot(2) into the step's root filesystem in strata's own namespaces, "the container
 *   is the boundary" (kaniko's model); for containers without CAP_SYS_ADMIN (docs/kubernetes.md).
 *
 * A rootless mode (a user namespace with the user's subordinate ids) is added here as another member.
 */
export type IsolationMode = 'oci' | 'chroot';

/** What the user asked for: a mode, or `default` (the first mode that works here, see {@link chooseIsolation}). */
export type IsolationRequest = 'default' | IsolationMode;

/** The values `--isolation` accepts, in the order help text lists them. */
export const ISOLATION_REQUESTS: readonly IsolationRequest[] = ['default', 'oci', 'chroot'];

/** Parses an `--isolation` value. */
export function parseIsolation(text: string): IsolationRequest {
  const value = text.trim().toLowerCase();
  const known = ISOLATION_REQUESTS.find((request) => request === value);
  if (known === undefined)
    throw new InvalidInputError(`unknown isolation ${JSON.stringify(text)}`, {
      hint: `use one of ${ISOLATION_REQUESTS.join(', ')}`,
    });
  return known;
}

/** The mode in effect, and, when `default` chose something other than `oci`, why. */
export interface IsolationChoice {
  readonly requested: IsolationRequest;
  readonly mode: IsolationMode;
  /** Why `default` could not use `oci` here (shown to the user with the choice). */
  readonly reason?: string;
}

/** What {@link chooseIsolation} looks at: this process's uid and effective capabilities. */
export interface IsolationFacts {
  readonly euid: number;
  readonly capabilities: readonly string[];
}

/** This process's {@link IsolationFacts}. */
export async function processIsolationFacts(): Promise<IsolationFacts> {
  return { euid: process.geteuid?.() ?? -1, capabilities: await effectiveCapabilities() };
}

/**
 * Resolves `requested` to a mode. An explicit mode is taken as is (its executor says why it cannot
 * run, if it cannot). `default` is `oci` where runc can make a container — root with CAP_SYS_ADMIN,
 * without which it can neither mount /proc nor make namespaces (Docker's and Kubernetes' default
 * capabilities lack it) — and otherwise `chroot` when strata is root, with the reason.
 */
export function chooseIsolation(requested: IsolationRequest, facts: IsolationFacts): IsolationChoice {
  if (requested !== 'default') return { requested, mode: requested };
  if (facts.euid === 0 && !facts.capabilities.includes('CAP_SYS_ADMIN')) {
    return {
      requested,
      mode: 'chroot',
      reason:
        'runc cannot make a container here (root without CAP_SYS_ADMIN, as in an unprivileged container)',
    };
  }
  return { requested, mode: 'oci' };
}

/** The text strata shows when `default` chose a mode other than `oci`. */
export function isolationNotice(choice: IsolationChoice): string | undefined {
  if (choice.reason === undefined) return undefined;
  return `RUN steps use --isolation=${choice.mode}: ${choice.reason}; the container strata runs in is the boundary (docs/kubernetes.md)`;
}

/** Opens the executor of `mode`. */
export async function openIsolatedExecutor(
  mode: IsolationMode,
  options: OpenExecutorOptions,
  signal?: AbortSignal,
): Promise<Executor> {
  switch (mode) {
    case 'oci':
      return openExecutor(options, signal);
    case 'chroot':
      return openChrootExecutor();
  }
}
