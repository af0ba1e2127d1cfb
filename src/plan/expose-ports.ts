import { DockerfileError } from '../dockerfile/index.ts';

/**
 * Turns EXPOSE words into `port/proto` entries as BuildKit does (dockerfile2llb/convert_expose.go):
 * `80`, `80/udp`, `8000-8002/tcp` (a range becomes one entry per port), protocol lower-cased and
 * `tcp` by default. A host IP or host port (`127.0.0.1:80:80`) is accepted and ignored, with a
 * warning, as BuildKit does. Each entry is listed once (the image config's `ExposedPorts` is a set),
 * so the list never outgrows 65,536 ports per protocol however many ranges repeat.
 */
export function parseExposedPorts(
  words: readonly string[],
  warn: (rule: 'ExposeProtoCasing' | 'ExposeInvalidFormat', message: string) => void,
): string[] {
  const out: string[] = [];
  const seen = new Map<string, Uint8Array>();
  for (const raw of words) {
    const parts = raw.split(':');
    let hostIp = '';
    let hostPort = '';
    let containerPort = raw;
    if (parts.length === 2) [hostPort, containerPort] = parts as [string, string];
    else if (parts.length >= 3) {
      containerPort = parts[parts.length - 1]!;
      hostPort = parts[parts.length - 2]!;
      hostIp = parts.slice(0, -2).join(':');
    }
    const slash = containerPort.indexOf('/');
    const port = slash === -1 ? containerPort : containerPort.slice(0, slash);
    const proto = slash === -1 ? '' : containerPort.slice(slash + 1);
    if (port === '') throw new DockerfileError(`invalid port: ${JSON.stringify(raw)}: no port specified`);
    if (!['', 'tcp', 'udp', 'sctp'].includes(proto.toLowerCase())) {
      throw new DockerfileError(`invalid port: ${JSON.stringify(raw)}: invalid proto: ${proto}`, {
        hint: 'use tcp, udp or sctp',
      });
    }
    if (proto !== proto.toLowerCase())
      warn('ExposeProtoCasing', `Defined protocol '${raw}' in EXPOSE instruction should be lowercase`);
    if (hostIp !== '' || hostPort !== '') {
      warn(
        'ExposeInvalidFormat',
        `EXPOSE instruction should not define an IP address or host-port mapping, found '${raw}'`,
      );
    }
    const range = parseRange(port);
    if (range === undefined)
      throw new DockerfileError(`invalid containerPort: ${port}`, {
        hint: 'a port is a number from 0 to 65535, or a range like 8000-8010',
      });
    const protocol = (proto || 'tcp').toLowerCase();
    let listed = seen.get(protocol);
    if (listed === undefined) {
      listed = new Uint8Array(65536);
      seen.set(protocol, listed);
    }
    for (let p = range[0]; p <= range[1]; p++) {
      if (listed[p] === 1) continue;
      listed[p] = 1;
      out.push(`${p}/${protocol}`);
    }
  }
  return out;
}

function parseRange(text: string): [number, number] | undefined {
  const dash = text.indexOf('-');
  const start = parsePort(dash === -1 ? text : text.slice(0, dash));
  if (start === undefined) return undefined;
  if (dash === -1 || text.slice(0, dash) === text.slice(dash + 1)) return [start, start];
  const end = parsePort(text.slice(dash + 1));
  if (end === undefined || end < start) return undefined;
  return [start, end];
}

function parsePort(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const value = Number(text);
  return value >= 0 && value <= 65535 ? value : undefined;
}
