import { parseReference, type Reference } from '../reference/index.ts';
import { InvalidInputError } from '../util/index.ts';

/**
 * Where an image lives, in skopeo's transport syntax: `docker://ref` (a registry),
 * `oci:path[:tag]` (an OCI image layout directory), `docker-archive:file.tar[:ref]` (what
 * `docker save` writes), `strata:name` (the local store).
 */
export type ImageLocation =
  | { readonly transport: 'docker'; readonly reference: Reference }
  | { readonly transport: 'oci'; readonly path: string; readonly tag?: string }
  | { readonly transport: 'docker-archive'; readonly path: string; readonly reference?: Reference }
  | { readonly transport: 'strata'; readonly name: string };

/** The transports strata copies between. */
export const TRANSPORTS = ['docker://', 'oci:', 'docker-archive:', 'strata:'] as const;

/** Splits `path[:rest]` at the first colon (skopeo's rule for oci: and docker-archive:). */
function splitPath(text: string): { path: string; rest?: string } {
  const colon = text.indexOf(':');
  return colon === -1 ? { path: text } : { path: text.slice(0, colon), rest: text.slice(colon + 1) };
}

/**
 * Parses a transport-qualified image location. Without a transport, `defaultTransport` decides
 * (`docker` for `strata copy`-like commands that allow it); with none, the text is refused.
 */
export function parseImageLocation(text: string, defaultTransport?: 'docker' | 'strata'): ImageLocation {
  if (text.startsWith('docker://')) return { transport: 'docker', reference: parseReference(text.slice(9)) };
  if (text.startsWith('oci:')) {
    const { path, rest } = splitPath(text.slice(4));
    if (!path) throw new InvalidInputError(`${JSON.stringify(text)}: oci: needs a directory`);
    return rest ? { transport: 'oci', path, tag: rest } : { transport: 'oci', path };
  }
  if (text.startsWith('docker-archive:')) {
    const { path, rest } = splitPath(text.slice(15));
    if (!path) throw new InvalidInputError(`${JSON.stringify(text)}: docker-archive: needs a file`);
    return rest
      ? { transport: 'docker-archive', path, reference: parseReference(rest) }
      : { transport: 'docker-archive', path };
  }
  if (text.startsWith('strata:')) {
    const name = text.slice(7);
    if (!name) throw new InvalidInputError(`${JSON.stringify(text)}: strata: needs an image name`);
    return { transport: 'strata', name };
  }
  if (defaultTransport === 'docker') return { transport: 'docker', reference: parseReference(text) };
  if (defaultTransport === 'strata') return { transport: 'strata', name: text };
  throw new InvalidInputError(`${JSON.stringify(text)} names no transport`, {
    hint: `prefix it with one of ${TRANSPORTS.join(', ')} (e.g. docker://alpine:3.20)`,
  });
}

/** The location as text, in the same syntax. */
export function formatImageLocation(location: ImageLocation): string {
  switch (location.transport) {
    case 'docker':
      return `docker://${location.reference.toString()}`;
    case 'oci':
      return `oci:${location.path}${location.tag ? `:${location.tag}` : ''}`;
    case 'docker-archive':
      return `docker-archive:${location.path}${location.reference ? `:${location.reference.familiar()}` : ''}`;
    case 'strata':
      return `strata:${location.name}`;
    default: {
      const unknown: never = location;
      return String(unknown);
    }
  }
}
