/**
 * The CA certificates TLS connections trust by default: Node's bundled roots plus
 * NODE_EXTRA_CA_CERTS, as Node itself would trust them, for a process whose extra certificates
 * the `strata` command deferred (util/deferred-ca-certs.ts). The secure context is made once, on
 * first use, and shared by every connection: undici makes a new one per connection for a `ca`
 * option, and parsing ~300 certificates each time would cost tens of milliseconds a connection.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { deferredCaCertsFile } from '../util/index.ts';

let trust: { secureContext?: SecureContext } | undefined;

/**
 * TLS options for connections that verify their peer with the default trust: `{}` when Node
 * loaded NODE_EXTRA_CA_CERTS itself (or there is none), else a secure context of Node's roots and
 * the deferred file's certificates. A file that cannot be read or parsed is ignored with Node's
 * warning, as Node ignores it.
 */
export function defaultTrust(): { secureContext?: SecureContext } {
  if (trust) return trust;
  const file = deferredCaCertsFile();
  trust = {};
  if (file === undefined) return trust;
  try {
    trust = {
      secureContext: createSecureContext({ ca: [...rootCertificates, readFileSync(file, 'latin1')] }),
    };
  } catch (error) {
    process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(error as Error).message}`);
  }
  return trust;
}
