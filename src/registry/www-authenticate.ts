/** One authentication challenge from a `WWW-Authenticate` header (RFC 7235). */
export interface AuthChallenge {
  /** Lowercased: `bearer` or `basic` (others are kept but unused). */
  readonly scheme: string;
  /** Parameters with lowercased names: `realm`, `service`, `scope`, `error`. */
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Parses a `WWW-Authenticate` header into its challenges: `Bearer realm="https://auth/token",
 * service="registry",scope="repository:x:pull"`, `Basic realm="Registry Realm"`. Quoted strings
 * may contain commas and `\"` escapes; several challenges may share one header.
 */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const challenges: Array<{ scheme: string; params: Record<string, string> }> = [];
  let i = 0;
  const n = header.length;
  const skipSpace = () => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const token = () => {
    const start = i;
    while (i < n && /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  while (i < n) {
    skipSpace();
    while (i < n && header[i] === ',') {
      i++;
      skipSpace();
    }
    if (i >= n) break;
    const scheme = token();
    if (!scheme) {
      i++; // garbage: skip a character
      continue;
    }
    const current = { scheme: scheme.toLowerCase(), params: {} as Record<string, string> };
    challenges.push(current);
    skipSpace();
    // auth-params: name=value pairs separated by commas, until the next scheme token.
    while (i < n) {
      skipSpace();
      const save = i;
      const name = token();
      skipSpace();
      if (!name || header[i] !== '=') {
        i = save;
        break;
      }
      i++; // '='
      skipSpace();
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++; // closing quote
      } else {
        const start = i;
        while (i < n && header[i] !== ',' && header[i] !== ' ') i++;
        value = header.slice(start, i);
      }
      current.params[name.toLowerCase()] = value;
      skipSpace();
      if (header[i] === ',') i++;
      else break;
    }
  }
  return challenges;
}
