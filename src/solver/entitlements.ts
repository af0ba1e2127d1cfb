import type { BuildGraph, RunStep } from '../plan/index.ts';
import { type SourceLocation, StrataError } from '../util/index.ts';

/**
 * What a build must be granted before a step may use it (`--allow`, buildx's entitlements):
 * `network.host` runs RUN steps in the host's network namespace, `security.insecure` runs them
 * privileged (all capabilities, no seccomp profile, writable /sys).
 */
export type Entitlement = 'network.host' | 'security.insecure';

/** Every entitlement strata knows, for `--allow`'s validation and help. */
export const ENTITLEMENTS: readonly Entitlement[] = ['network.host', 'security.insecure'];

/**
 * A step asked for what the build was not granted. BuildKit's own message is
 * `network.host is not allowed`; strata names the step's flag and the `--allow` that grants it.
 */
export class EntitlementError extends StrataError {
  constructor(message: string, options: { hint: string; location?: SourceLocation }) {
    super('ENTITLEMENT_NOT_ALLOWED', message, options);
  }
}

/** What {@link checkEntitlements} checks a plan against. */
export interface EntitlementCheck {
  /** The Dockerfile's name, for locations. */
  readonly file: string;
  /** What `--allow` granted. */
  readonly allow: readonly Entitlement[];
  /** `--network` of the build (RUN steps without their own `--network` use it). */
  readonly network?: 'default' | 'none' | 'host';
}

/**
 * Refuses a build that asks for more than it was granted, before any step runs (BuildKit checks a
 * vertex's entitlements when the solve loads it): `--network host` or `RUN --network=host` without
 * `--allow network.host`, `RUN --security=insecure` without `--allow security.insecure`. `RUN
 * --device` (CDI devices) is not supported and always refused. Only the stages the target needs
 * are checked.
 */
export function checkEntitlements(graph: BuildGraph, check: EntitlementCheck): void {
  const allowed = new Set(check.allow);
  if (check.network === 'host' && !allowed.has('network.host')) {
    throw new EntitlementError('--network host requires --allow network.host', {
      hint: grantHint('network.host', "the host's network (its loopback services and interfaces)"),
    });
  }
  for (const index of graph.order) {
    for (const step of graph.stages[index]?.steps ?? []) {
      if (step.kind !== 'run') continue;
      const location = { file: check.file, line: step.location.line };
      if (step.network === 'host' && !allowed.has('network.host')) {
        throw new EntitlementError('RUN --network=host requires --allow network.host', {
          hint: grantHint('network.host', "the host's network (its loopback services and interfaces)"),
          location,
        });
      }
      if (step.security === 'insecure' && !allowed.has('security.insecure')) {
        throw new EntitlementError('RUN --security=insecure requires --allow security.insecure', {
          hint: grantHint('security.insecure', 'the host as root (all capabilities, no seccomp profile)'),
          location,
        });
      }
      if (step.devices.length > 0) throw deviceError(step, location);
    }
  }
}

function grantHint(entitlement: Entitlement, what: string): string {
  return `as with buildx, a step reaches ${what} only when the build is given --allow ${entitlement}`;
}

function deviceError(step: RunStep, location: SourceLocation): EntitlementError {
  return new EntitlementError(`RUN --device=${step.devices[0]?.name ?? ''} is not supported`, {
    hint: 'strata has no CDI device support; build this step with docker buildx',
    location,
  });
}
