/**
 * NODE_EXTRA_CA_CERTS, handed over by the `strata` command (bin/strata) instead of being loaded by
 * Node while it starts.
 *
 * Node 20 reads the NODE_EXTRA_CA_CERTS bundle and builds its whole root store (its own ~140
 * roots plus the file's certificates) before any JavaScript runs: 40–50 ms on a 2-vCPU machine
 * for Debian's 150-certificate bundle, more than strata's own work in a no-op rebuild. Most
 * commands never open a TLS connection. So bin/strata moves the variable to
 * STRATA_DEFERRED_CA_CERTS; {@link adoptDeferredCaCerts}, first thing in the CLI, puts it back
 * into the environment (child processes and `--secret …,env=NODE_EXTRA_CA_CERTS` see it
 * unchanged) and remembers the file, and registry/tls-trust.ts builds the same trust store when
 * strata first verifies a TLS peer.
 */

let deferredFile: string | undefined;

/** Restores NODE_EXTRA_CA_CERTS from STRATA_DEFERRED_CA_CERTS (bin/strata) and remembers it. */
export function adoptDeferredCaCerts(env: NodeJS.ProcessEnv = process.env): void {
  const file = env.STRATA_DEFERRED_CA_CERTS;
  if (file === undefined) return;
  delete env.STRATA_DEFERRED_CA_CERTS;
  env.NODE_EXTRA_CA_CERTS = file;
  // Node did not load this file (bin/strata unset the variable before starting it), so TLS
  // connections must be given it; an empty value means none, as for Node.
  if (file !== '') deferredFile = file;
}

/** The extra CA certificate file Node left to strata, if any (see {@link adoptDeferredCaCerts}). */
export function deferredCaCertsFile(): string | undefined {
  return deferredFile;
}
