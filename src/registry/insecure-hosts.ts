import { isIP } from 'node:net';

/** Splits `host[:port]` / `[v6]:port` into host and port. */
export function splitHostPort(hostPort: string): { host: string; port?: string } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostPort);
  if (v6) return v6[2] ? { host: v6[1]!, port: v6[2] } : { host: v6[1]! };
  const colon = hostPort.lastIndexOf(':');
  if (colon !== -1 && /^\d+$/.test(hostPort.slice(colon + 1)) && hostPort.indexOf(':') === colon)
    return { host: hostPort.slice(0, colon), port: hostPort.slice(colon + 1) };
  return { host: hostPort };
}

/** True for `localhost`, 127.0.0.0/8 and ::1 (with or without a port). */
export function isLoopbackHost(hostPort: string): boolean {
  const { host } = splitHostPort(hostPort.toLowerCase());
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/**
 * True when `host` may be reached over plain HTTP or TLS without verification: loopback hosts
 * (as Docker allows 127.0.0.0/8) and hosts named by `--insecure-registry` (with or without the
 * port; a CIDR such as `10.0.0.0/8` covers IPv4 hosts in it).
 */
export function isInsecureHost(hostPort: string, insecure: readonly string[]): boolean {
  if (isLoopbackHost(hostPort)) return true;
  const { host } = splitHostPort(hostPort.toLowerCase());
  for (const entry of insecure.map((e) =>
    e
      .toLowerCase()
      .replace(/^[a-z]+:\/\//, '')
      .replace(/\/+$/, ''),
  )) {
    if (entry === hostPort.toLowerCase() || entry === host) return true;
    const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(entry);
    if (cidr && isIP(host) === 4 && inCidr(host, cidr[1]!, Number(cidr[2]))) return true;
  }
  return false;
}

function ipv4Number(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function inCidr(ip: string, network: string, bits: number): boolean {
  if (bits < 0 || bits > 32) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(ipv4Number(ip) / size) === Math.floor(ipv4Number(network) / size);
}
