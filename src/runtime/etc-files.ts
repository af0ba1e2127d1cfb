import { readFile } from 'node:fs/promises';
import { isErrnoException } from '../util/index.ts';

/** BuildKit's hostname for build containers (executor/oci/hosts.go `defaultHostname`). */
export const DEFAULT_HOSTNAME = 'buildkitsandbox';

/**
 * The /etc/hosts a build step sees, byte for byte what BuildKit writes (executor/oci/hosts.go
 * `initHostsFile`): localhost plus the container's hostname on 127.0.0.1, and the IPv6 loopback names.
 */
export function hostsFileContent(
  hostname: string = DEFAULT_HOSTNAME,
  extraHosts: readonly { readonly host: string; readonly ip: string }[] = [],
): string {
  // BuildKit's makeHostsFile appends `--add-host` entries as `ip<TAB>host` lines.
  const extra = extraHosts.map((h) => `${h.ip}\t${h.host}\n`).join('');
  return `127.0.0.1\tlocalhost ${hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n${extra}`;
}

/** Google's public resolvers, the fallback Docker and BuildKit use when no usable nameserver is left. */
const FALLBACK_NAMESERVERS_V4 = ['8.8.8.8', '8.8.4.4'];
const FALLBACK_NAMESERVERS_V6 = ['2001:4860:4860::8888', '2001:4860:4860::8844'];

/**
 * The /etc/resolv.conf a build step sees, derived from the host's (BuildKit's executor/oci/resolvconf.go):
 *
 * - host network: the host's file as is, since a resolver on 127.0.0.x is reachable from there;
 *   only when it names no nameserver at all are the fallback servers added.
 * - no network: localhost nameservers are dropped (they would point into the container's own empty
 *   loopback), and if none remain the fallback servers are added (moby's `TransformForLegacyNw`).
 *   When the host's file names only systemd-resolved's stub 127.0.0.53, the upstream list in
 *   /run/systemd/resolve/resolv.conf is read instead, as BuildKit does.
 *
 * A missing host file reads as empty. `hostResolvConf` is for tests.
 */
export async function resolvConfContent(
  network: 'sandbox' | 'host' | 'none',
  hostResolvConf = '/etc/resolv.conf',
): Promise<string> {
  let text = await readOptional(hostResolvConf);
  if (network === 'host') {
    return nameservers(text).length > 0 ? text : appendFallback(text);
  }
  const servers = nameservers(text);
  if (servers.length === 1 && servers[0] === '127.0.0.53') {
    text = (await readOptional('/run/systemd/resolve/resolv.conf')) || text;
  }
  const kept = text
    .split('\n')
    .filter((line) => {
      const server = nameserverOf(line);
      return server === undefined || !isLocalhost(server);
    })
    .join('\n');
  return nameservers(kept).length > 0 ? kept : appendFallback(kept);
}

function appendFallback(text: string): string {
  const base = text === '' || text.endsWith('\n') ? text : `${text}\n`;
  const lines = [...FALLBACK_NAMESERVERS_V4, ...FALLBACK_NAMESERVERS_V6].map((ns) => `nameserver ${ns}\n`);
  return base + lines.join('');
}

function nameservers(text: string): string[] {
  return text
    .split('\n')
    .map(nameserverOf)
    .filter((server): server is string => server !== undefined);
}

function nameserverOf(line: string): string | undefined {
  const match = /^\s*nameserver\s+(\S+)/.exec(line);
  return match?.[1];
}

function isLocalhost(server: string): boolean {
  return server.startsWith('127.') || server === '::1';
}

async function readOptional(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isErrnoException(error, 'ENOENT')) return '';
    throw error;
  }
}
