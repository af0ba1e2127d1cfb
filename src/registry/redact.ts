/** Query parameters whose values are secrets or opaque signed state: never printed. */
const SECRET_PARAMS =
  /^(?:_state|token|access_token|refresh_token|password|sig|signature|x-amz-.*|x-goog-.*|se|sp|sv|st|skoid|sktid|skt|ske|sks|skv)$/i;

/**
 * A URL safe to show: user info removed, secret or signed query parameters replaced by `REDACTED`
 * (upload `_state`, S3/GCS/Azure signatures). Anything that fails to parse is shown as `<url>`.
 */
export function redactUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    return '<url>';
  }
  parsed.username = '';
  parsed.password = '';
  for (const key of [...parsed.searchParams.keys()]) {
    if (SECRET_PARAMS.test(key)) parsed.searchParams.set(key, 'REDACTED');
  }
  return parsed.toString();
}

/** Replaces `Authorization`-like header values with `REDACTED` (for debug output). */
export function redactHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers))
    out[k] = /^(?:authorization|proxy-authorization|cookie)$/i.test(k) ? 'REDACTED' : v;
  return out;
}
